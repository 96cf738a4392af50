"""``amtsweg mail deliver``: deliver the e-mail outbox once (job workers do it continuously:
``amtsweg worker``)."""

from __future__ import annotations

import typer
from rich.console import Console

from services.config import get_settings
from services.db import make_engine
from services.mail.service import (
    deliver_due,
    mail_setting,
    sender_from_settings,
)

mail_app = typer.Typer(help="E-mail outbox.", no_args_is_help=True)
console = Console()

DEFAULT_FROM = "Amtsweg <noreply@localhost>"


@mail_app.callback()
def _mail() -> None:
    """E-mail outbox (delivery runs in the job workers: amtsweg worker)."""


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
