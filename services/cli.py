"""The ``amtsweg`` command: serve, migrate, demo data, users, audit, notices."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from services.annual.cli import notices_app
from services.config import get_settings
from services.db import make_engine, migrate, unit_of_work
from services.mail.cli import mail_app

app = typer.Typer(help="Amtsweg: municipal procedures online.", no_args_is_help=True)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
municipalities_app = typer.Typer(help="Municipalities (tenants).", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log.", no_args_is_help=True)
drafts_app = typer.Typer(help="Citizens' unfiled drafts.", no_args_is_help=True)
cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of closed cases.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(municipalities_app, name="municipalities")
app.add_typer(audit_app, name="audit")
app.add_typer(mail_app, name="mail")
app.add_typer(drafts_app, name="drafts")
app.add_typer(cases_app, name="cases")
app.add_typer(retention_app, name="retention")
app.add_typer(notices_app, name="notices")
console = Console()


@app.callback()
def _bind_procedures() -> None:
    """Every command reads procedure versions (pinned by cases) from the configured database."""
    from pydantic import ValidationError

    from services.config import InsecureConfiguration
    from services.jobs import queue
    from services.procedures import registry

    try:
        settings = get_settings()
    except (InsecureConfiguration, ValidationError) as exc:
        # A configuration mistake, not a bug: the message alone, without a traceback.
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    registry.bind(engine)
    queue.configure(engine, settings)  # jobs a command queues go to the workers at once


@app.command()
def worker(
    threads: int = typer.Option(
        None, "--threads", min=1, help="Worker threads (default: AMTSWEG_WORKER_THREADS, 2)."
    ),
) -> None:
    """Run jobs (receipts, e-mail, reminders, draft purge, retention, yearly runs) until
    Ctrl+C. Start as many as needed, on one machine or several (PostgreSQL)."""
    from services.jobs.worker import run

    run(get_settings(), threads)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to AMTSWEG_DATABASE_URL."""
    url = get_settings().database_url
    migrate(url)
    console.print(f"[green]Database is up to date[/green] ({url.split('@')[-1]})")


@app.command()
def demo(
    password: str = typer.Option(
        None, help="Use this password for all demo users (default: new random ones)."
    ),
) -> None:
    """Load the demo municipality Herzberg (Elster) and print the demo logins."""
    from services import demo as demo_data

    settings = get_settings()
    if settings.is_production:
        console.print("[red]Refusing to load demo users in production mode.[/red]")
        raise typer.Exit(1)
    with unit_of_work(make_engine(settings.database_url)) as db:
        logins = demo_data.load(db, password)
    table = Table(title="Demo logins (office: " + settings.base_url + "/office/)")
    for col in ("User name", "Password", "Role"):
        table.add_column(col)
    for login in logins:
        table.add_row(login.username, login.password, login.role)
    console.print(table)
    console.print(f"Citizen portal: {settings.base_url}/herzberg-elster/hund-anmelden")


SQLITE_ONE_WORKER = (
    "SQLite supports one web worker; use PostgreSQL "
    "(AMTSWEG_DATABASE_URL=postgresql+psycopg://…) for --workers > 1"
)


@app.command()
def serve(
    host: str = typer.Option(None),
    port: int = typer.Option(None),
    workers: int = typer.Option(
        1, min=1, help="Web worker processes (PostgreSQL only for more than one)."
    ),
    with_worker: bool = typer.Option(
        None,
        "--with-worker/--no-worker",
        help="Start one job worker beside the web server (default: on SQLite only).",
    ),
) -> None:
    """Serve the portal, the office and the API."""
    import os
    import subprocess
    import sys

    import uvicorn

    from services.db import is_sqlite
    from services.logs import configure_logging

    settings = get_settings()
    if workers > 1 and is_sqlite(settings.database_url):
        typer.echo(SQLITE_ONE_WORKER, err=True)
        raise typer.Exit(2)
    configure_logging(settings)
    if workers > 1:
        from services.web.metrics import clear_multiprocess_dir

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            clear_multiprocess_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        else:
            console.print(
                "Note: set PROMETHEUS_MULTIPROC_DIR so /metrics adds up all workers' figures."
            )
    host = host or settings.host
    port = port or settings.port
    job_worker = None
    if with_worker if with_worker is not None else is_sqlite(settings.database_url):
        # The embedded default needs no second command: one job worker runs beside the web
        # process (with PostgreSQL, run `amtsweg worker` processes yourself, as many as needed).
        job_worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"])
    console.print(f"Amtsweg is running on http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        uvicorn.run(
            "services.asgi:app",
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            log_config=None,  # configure_logging above (and in each worker) sets up the handlers
            log_level=settings.log_level,
            access_log=False,  # the app writes one access line per request, with its request id
            # A worker process importing the app on a busy machine may take more than
            # uvicorn's default 5 s to answer its health check; it is not hung.
            timeout_worker_healthcheck=30,
        )
    finally:
        if job_worker is not None:
            job_worker.terminate()
            try:
                job_worker.wait(30)
            except subprocess.TimeoutExpired:
                job_worker.kill()


@users_app.command("create")
def users_create(
    username: str,
    display_name: str = typer.Option(..., "--name"),
    municipality: str = typer.Option(..., help="Municipality slug"),
    role: list[str] = typer.Option(..., help="clerk, approver or admin"),
    email: str = typer.Option(""),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a staff account (or reset an existing one)."""
    from services.accounts.service import create_user
    from services.municipalities.models import Municipality

    with unit_of_work(make_engine(get_settings().database_url)) as db:
        m = db.exec(select(Municipality).where(Municipality.slug == municipality)).first()
        if m is None:
            console.print(f"[red]No municipality '{municipality}'.[/red]")
            raise typer.Exit(1)
        try:
            create_user(
                db,
                municipality_id=m.id,
                username=username,
                display_name=display_name,
                password=password,
                roles=role,
                email=email,
            )
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"[green]User {username} is ready.[/green]")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable a staff account (it can no longer log in)."""
    from services.accounts.service import set_active

    with unit_of_work(make_engine(get_settings().database_url)) as db:
        try:
            set_active(db, username, False)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"User {username} is disabled.")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every case's and every municipality's admin hash chain; name the first broken
    event of each."""
    from services.audit.service import verify

    with Session(make_engine(get_settings().database_url)) as db:
        checked, broken = verify(db)
    for b in broken:
        console.print(f"[red]{b.label}: {b.reason}[/red]")
    console.print(f"{checked} events checked, {len(broken)} broken chain(s).")
    raise typer.Exit(1 if broken else 0)


@drafts_app.command("purge")
def drafts_purge() -> None:
    """Delete unfiled drafts (and their uploads) past AMTSWEG_DRAFT_RETENTION_DAYS."""
    from services.cases.service import purge_expired_drafts

    with unit_of_work(make_engine(get_settings().database_url)) as db:
        count = purge_expired_drafts(db)
    console.print(f"{count} expired draft(s) deleted.")


@cases_app.command("remind")
def cases_remind() -> None:
    """Remind citizens whose reply deadline for an information request has passed."""
    from services.review.service import Links, send_reply_reminders

    settings = get_settings()
    with unit_of_work(make_engine(settings.database_url)) as db:
        count = send_reply_reminders(db, Links(settings.base_url, settings.secret_key))
    console.print(f"{count} reminder(s) sent.")


@retention_app.command("run")
def retention_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what is due, change nothing."),
    today: str = typer.Option("", help="Act as of this date (YYYY-MM-DD; default: today)."),
) -> None:
    """Delete evidence and anonymise closed cases whose retention periods have passed."""
    from datetime import date

    from services import retention
    from services.timeutil import today_local

    try:
        as_of = date.fromisoformat(today) if today else today_local()
    except ValueError:
        console.print(f"[red]--today must be a date like 2031-01-31, not {today!r}.[/red]")
        raise typer.Exit(2) from None
    engine = make_engine(get_settings().database_url)
    with unit_of_work(engine) as db:
        report = retention.run(db, as_of, dry_run=dry_run)
        if dry_run:
            db.rollback()
    title = f"Retention {as_of.isoformat()}" + (" (dry run: nothing changed)" if dry_run else "")
    table = Table(title=title)
    table.add_column("What")
    table.add_column("Count", justify="right")
    for label, count in report.rows():
        table.add_row(label, str(count))
    console.print(table)
    if report.references:
        shown = ", ".join(report.references[:20])
        more = len(report.references) - 20
        console.print(f"Anonymised: {shown}" + (f" and {more} more" if more > 0 else ""))


@municipalities_app.command("create")
def municipalities_create(
    slug: str,
    name: str = typer.Option(..., help='Official name, e.g. "Stadt Falkenberg/Elster"'),
    authority: str = typer.Option("Der Bürgermeister"),
    department: str = typer.Option(..., help='e.g. "Kämmerei"'),
    street: str = typer.Option(...),
    postal_code: str = typer.Option(...),
    town: str = typer.Option(...),
    case_prefix: str = typer.Option("HST", help="Prefix of case numbers"),
) -> None:
    """Add a municipality to this instance (one for all: several towns on one Amtsweg). Its
    administrator then sets bank details, letterhead and rate tables in /admin/."""
    import re

    from services.municipalities.models import Municipality
    from services.procedures.versions import seed_builtin

    if not re.fullmatch(r"[a-z0-9-]{2,60}", slug) or not re.fullmatch(r"\d{5}", postal_code):
        console.print(
            "[red]The slug must be lowercase letters, digits and dashes; the postal "
            "code 5 digits.[/red]"
        )
        raise typer.Exit(1)
    with unit_of_work(make_engine(get_settings().database_url)) as db:
        if db.exec(select(Municipality).where(Municipality.slug == slug)).first():
            console.print(f"[red]A municipality '{slug}' exists already.[/red]")
            raise typer.Exit(1)
        m = Municipality(
            slug=slug,
            name=name,
            authority=authority,
            department=department,
            street=street,
            postal_code=postal_code,
            town=town,
            case_prefix=case_prefix.upper(),
        )
        db.add(m)
        db.flush()
        seed_builtin(db, m.id)
    console.print(
        f"[green]Municipality {name} ({slug}) created.[/green] Next: "
        f"amtsweg users create NAME --municipality {slug} --role admin"
    )


if __name__ == "__main__":
    app()
