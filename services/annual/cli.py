"""``amtsweg notices annual``: the yearly run from the command line."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from services.annual.runner import RunSummary

from services.config import get_settings
from services.db import make_engine

notices_app = typer.Typer(help="Notices.", no_args_is_help=True)
console = Console()


@notices_app.callback()
def _notices() -> None:
    """Notices issued in bulk."""


@notices_app.command("annual")
def annual(
    year: int = typer.Option(..., "--year", help="Tax year, e.g. 2027."),
    municipality: str = typer.Option(
        None, "--municipality", help="Municipality slug (default: every municipality)."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Worker processes."),
    batch: int = typer.Option(50, "--batch", min=1, help="Dogs per batch handed to a worker."),
    in_background: bool = typer.Option(
        False,
        "--queue",
        help="Hand the run to the job workers (amtsweg worker) instead of running it here.",
    ),
) -> None:
    """Issue the annual dog-tax notices of YEAR for every registered dog (after the rates
    changed). Resumable: running it again continues the run and issues nothing twice."""
    from services.annual import runner  # imports WeasyPrint: only for this command

    url = get_settings().database_url
    engine = make_engine(url)
    ms = runner.municipalities(engine, municipality)
    if not ms:
        console.print(
            f"[red]No municipality '{municipality}'.[/red]"
            if municipality
            else "[red]No municipality in the database.[/red]"
        )
        raise typer.Exit(1)
    refusals = runner.check_all(engine, ms, year)
    if refusals:
        for exc in refusals:
            console.print(f"[red]{exc.message.de}[/red]")
            console.print(f"[red]{exc.message.en}[/red]")
        raise typer.Exit(1)

    if in_background:
        _queue_runs(engine, ms, year, workers)
        return

    started_by = f"amtsweg notices annual ({getpass.getuser()})"
    summaries: list[RunSummary] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with runner.pool(url, workers, batch) as p, progress:
        for m in ms:
            task = progress.add_task(f"{m.name} {year}", total=None)

            def on_start(summary: RunSummary, pending: int, task=task) -> None:
                progress.update(task, total=pending)
                if summary.resumed:
                    progress.console.print(
                        f"Continuing the run {year} of {summary.municipality}: "
                        f"{summary.skipped} notice(s) already issued, {pending} to go."
                    )

            summary = runner.run_year(
                engine,
                p,
                m,
                year,
                started_by=started_by,
                on_start=on_start,
                on_progress=lambda n, task=task: progress.advance(task, n),
            )
            summaries.append(summary)
            if summary.status != "finished":
                break
    _print_summary(summaries)
    last = summaries[-1].status
    if last == "interrupted":
        console.print("[yellow]Interrupted. Run the same command again to continue.[/yellow]")
        raise typer.Exit(130)
    if last == "failed":
        console.print(f"[red]The run broke off: {summaries[-1].error}[/red]")
        raise typer.Exit(1)
    if any(s.failed for s in summaries):
        raise typer.Exit(2)


def _queue_runs(engine, ms, year: int, workers: int) -> None:
    """One job per municipality; a run already queued or running is not queued twice."""
    from services.db import unit_of_work
    from services.jobs import service as jobs

    with unit_of_work(engine) as db:
        queued = [
            m.name
            for m in ms
            if jobs.enqueue(
                db,
                "annual.run",
                {"municipality_id": m.id, "year": year, "workers": workers},
                key=f"annual:{m.id}:{year}:{jobs.utcnow().isoformat(timespec='seconds')}",
                municipality_id=m.id,
            )
        ]
    for name in queued:
        console.print(f"Yearly run {year} of {name} handed to the job workers; see /office/runs.")


def _print_summary(summaries: list[RunSummary]) -> None:
    table = Table(title="Annual notices")
    table.add_column("")
    for s in summaries:
        table.add_column(f"{s.municipality} {s.year}", justify="right")
    rows = [
        ("Status", lambda s: s.status),
        ("Planned (dogs liable in the year)", lambda s: str(s.planned)),
        ("Issued", lambda s: str(s.issued)),
        ("Skipped (already issued)", lambda s: str(s.skipped)),
        ("Failed", lambda s: str(len(s.failed))),
        ("Duration", lambda s: f"{s.seconds:.1f} s"),
        ("Notices per second", lambda s: f"{s.per_second:.2f}"),
    ]
    for label, value in rows:
        table.add_row(label, *(value(s) for s in summaries))
    console.print(table)
    failed = [(s, dog_id, error) for s in summaries for dog_id, error in s.failed]
    if failed:
        reasons = Table(title="Failed (fix the cause, then run the command again)")
        for col in ("Municipality", "Dog (register id)", "Reason"):
            reasons.add_column(col)
        for s, dog_id, error in failed[:50]:
            reasons.add_row(s.municipality, str(dog_id), error)
        console.print(reasons)
        if len(failed) > 50:
            console.print(f"… and {len(failed) - 50} more; see /office/runs.")
