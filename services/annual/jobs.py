"""The yearly notice run as a job: resumable, so a job that is re-run after a crash
continues the run and issues nothing twice (services/annual/service.py)."""

from __future__ import annotations

from sqlmodel import select

from services.db import unit_of_work
from services.jobs.registry import JobContext, job
from services.municipalities.models import Municipality


@job(
    "annual.run",
    label=("Jahreslauf Hundesteuerbescheide", "Yearly dog-tax notice run"),
    max_attempts=3,
    lease_seconds=6 * 3600,
)
def annual_run(ctx: JobContext, municipality_id: int, year: int, workers: int = 1) -> str:
    from services.annual import runner

    with unit_of_work(ctx.engine, lock=False) as db:
        m = db.exec(select(Municipality).where(Municipality.id == municipality_id)).one()
    refusals = runner.check_all(ctx.engine, [m], year)
    if refusals:
        raise RuntimeError(refusals[0].message.de)
    url = ctx.engine.url.render_as_string(hide_password=False)
    with runner.pool(url, workers) as p:
        summary = runner.run_year(ctx.engine, p, m, year, started_by=f"Auftrag {ctx.job_id}")
    return str(summary)
