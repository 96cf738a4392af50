"""Mail delivery as jobs: each queued message is handed to a worker at once
(``mail.deliver``), and every minute ``mail.deliver_due`` sends what is due again after a
failed attempt (the outbox keeps its own attempts and backoff: services/mail/service.py)."""

from __future__ import annotations

from services.jobs.registry import JobContext, job
from services.mail import service


def _deliver(ctx: JobContext) -> service.DeliveryStats:
    return service.deliver_all_due(
        ctx.engine,
        service.sender_from_settings(ctx.settings),
        from_address=service.mail_setting(ctx.settings, "mail_from", "Amtsweg <noreply@localhost>"),
    )


@job("mail.deliver", label=("E-Mail versenden", "Send e-mail"), max_attempts=3)
def deliver(ctx: JobContext, message_id: int) -> str:
    # Sends every due message, this one included; a failure of one message is recorded in
    # the outbox (and retried by mail.deliver_due), not as a failure of this job.
    return str(_deliver(ctx))


@job("mail.deliver_due", label=("Fällige E-Mails versenden", "Send due e-mails"), max_attempts=1)
def deliver_due(ctx: JobContext) -> str:
    return str(_deliver(ctx))
