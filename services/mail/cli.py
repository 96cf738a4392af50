"""``amtsweg mail``: deliver the e-mail outbox once, or run the delivery worker."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from services.config import get_settings
from services.db import make_engine
from services.mail.service import (
    MailWorker,
    deliver_due,
    mail_setting,
    sender_from_settings,
)

mail_app = typer.Typer(help="E-mail outbox.", no_args_is_help=True)
console = Console()

DEFAULT_FROM = "Amtsweg <noreply@localhost>"


@mail_app.command("deliver")
def deliver(batch: int = typer.Option(100, help="Send at most this many messages.")) -> None:
    """Send the messages that are due now, once, and print a summary."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    sender = sender_from_settings(settings)
    try:
        stats = deliver_due(
            engine,
            sender,
            batch=batch,
            from_address=mail_setting(settings, "mail_from", DEFAULT_FROM),
        )
    finally:
        engine.dispose()
    colour = "red" if stats.failed else "yellow" if stats.retried else "green"
    console.print(f"[{colour}]{stats}[/{colour}] (via {sender!r})")


@mail_app.command("worker")
def worker(
    interval: float = typer.Option(
        None, help="Seconds between rounds (default: AMTSWEG_MAIL_WORKER_INTERVAL_SECONDS or 10)."
    ),
) -> None:
    """Deliver due messages every few seconds until Ctrl+C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    sender = sender_from_settings(settings)
    seconds = interval or float(mail_setting(settings, "mail_worker_interval_seconds", 10.0))
    mail_worker = MailWorker(
        engine,
        sender,
        seconds,
        from_address=mail_setting(settings, "mail_from", DEFAULT_FROM),
    ).start()
    console.print(f"Mail worker running every {seconds:g} s via {sender!r} (Ctrl+C to stop)")
    try:
        while mail_worker.running:
            mail_worker.join(1.0)
    except KeyboardInterrupt:
        console.print("Stopping the mail worker …")
    finally:
        mail_worker.stop()
        engine.dispose()
