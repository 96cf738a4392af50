"""Outgoing e-mail: the outbox, text templates, senders and delivery (run as jobs).

A mail is written to ``outbox_messages`` by ``enqueue`` in the same transaction as the change
it reports (flush, no commit), so the case and its message commit or fail together.
``deliver_due`` sends what is due, outside any long database transaction:

1. **claim** (one short transaction): select due ``pending`` rows (PostgreSQL:
   ``FOR UPDATE SKIP LOCKED``; SQLite: under the process-wide write lock of ``unit_of_work``)
   and push their ``next_attempt_at`` forward by a lease, so no other worker picks them up;
2. **send** each message with no transaction open;
3. **record** the outcome per message (one short transaction each): ``sent`` with
   ``sent_at``, or ``attempts + 1``, ``last_error`` and the next attempt after a backoff;
   after ``MAX_ATTEMPTS`` the message is ``failed`` and stays in the table for the office.

Each message is handed to a job worker when its transaction commits (``mail.deliver``);
``mail.deliver_due`` runs every minute for retries (services/mail/jobs.py).

If a worker dies between sending and recording, the lease runs out and the message is sent
again: delivery is at least once, never lost. The ``Message-ID`` is derived from the outbox
row, so a repeated delivery carries the same id.

Mail bodies contain personal data (names, status links): they are never logged; logs name
outbox ids, kinds and exception classes only.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.config import ROOT
from services.db import unit_of_work
from services.jobs import service as jobs
from services.mail.models import OutboxMessage
from services.timeutil import BERLIN, aware, utcnow

log = logging.getLogger("amtsweg.mail")

TEMPLATE_DIR = ROOT / "templates" / "mail"
DEFAULT_MAIL_DIR = ROOT / "var" / "mail"
LANGUAGES = ("de", "en")

# Waiting time after the 1st, 2nd, ... failed attempt; the last value repeats.
BACKOFF_MINUTES = (1, 5, 15, 60, 240)
MAX_ATTEMPTS = 8
# How long a claimed message is reserved for the worker that claimed it. Longer than a
# batch can take (batch × SMTP timeout); after it, a crashed worker's claim is retried.
CLAIM_LEASE = timedelta(minutes=15)
MAX_ERROR_LENGTH = 500

# The context each kind of mail needs (checked before rendering, for a clear error).
MAIL_KINDS: dict[str, tuple[str, ...]] = {
    "filed": ("municipality", "procedure_title", "reference", "submitted_at", "status_url"),
    "resume_link": ("municipality", "procedure_title", "resume_url", "expires_on"),
    "reply_reminder": (
        "municipality",
        "procedure_title",
        "reference",
        "reply_by",
        "status_url",
    ),
    "information_request": (
        "municipality",
        "procedure_title",
        "reference",
        "request_text",
        "reply_by",
        "status_url",
    ),
}


class MailTemplateError(ValueError):
    """A mail kind is unknown, its template is malformed or its context is incomplete."""


# --------------------------------------------------------------------------- outbox


def enqueue(
    db: Session,
    *,
    municipality_id: int,
    to: str,
    kind: str,
    subject: str,
    body: str,
    case_id: int | None = None,
) -> OutboxMessage:
    """Write a message to the outbox (flush only: it commits with the caller's change)."""
    address = to.strip()
    if not address or "@" not in address or any(c in address for c in "\r\n,;<>"):
        raise ValueError(f"not a single e-mail address: {address!r}")
    message = OutboxMessage(
        municipality_id=municipality_id,
        case_id=case_id,
        kind=kind,
        to_address=address,
        subject=_one_line(subject)[:300],
        body=body,
    )
    db.add(message)
    db.flush()
    # Handed to a job worker right after the commit (same transaction as the message).
    jobs.enqueue(
        db,
        "mail.deliver",
        {"message_id": message.id},
        key=f"mail:{message.id}",
        municipality_id=municipality_id,
        case_id=case_id,
    )
    log.info("mail %s (%s) queued", message.id, kind)
    return message


# --------------------------------------------------------------------------- templates


def _local(value: date | datetime) -> date | datetime:
    return aware(value).astimezone(BERLIN) if isinstance(value, datetime) else value


def _date_de(value: date | datetime) -> str:
    return _local(value).strftime("%d.%m.%Y")


_MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()


def _date_en(value: date | datetime) -> str:
    d = _local(value)
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def _time(value: datetime) -> str:
    return _local(value).strftime("%H:%M")


def _make_environment() -> Environment:
    # Plain-text mail: no autoescaping (it would put "&amp;" into the text). Templates
    # contain no HTML, and the mails are sent as text/plain only, so nothing is interpreted.
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(date_de=_date_de, date_en=_date_en, time=_time)
    return env


_ENV = _make_environment()


def _municipality(value: Any) -> dict[str, Any]:
    """The municipality's contact details as a plain dict, from a model or a mapping."""
    fields = ("name", "department", "authority", "phone", "email", "website")
    get = value.get if isinstance(value, Mapping) else lambda k, d=None: getattr(value, k, d)
    data = {key: get(key, None) for key in fields}
    if not data["name"]:
        raise MailTemplateError("the mail context needs municipality.name")
    return {k: ("" if v is None else v) for k, v in data.items()}


def render_mail(kind: str, lang: str, **context: Any) -> tuple[str, str]:
    """Render ``templates/mail/{kind}.{lang}.txt`` to ``(subject, body)``.

    The template's first line is ``Subject: …``, then a blank line, then the body. Unknown
    languages fall back to German. See ``MAIL_KINDS`` for the context each kind needs.
    """
    if kind not in MAIL_KINDS:
        raise MailTemplateError(f"unknown mail kind {kind!r} (known: {', '.join(MAIL_KINDS)})")
    missing = [key for key in MAIL_KINDS[kind] if context.get(key) in (None, "")]
    if missing:
        raise MailTemplateError(f"mail {kind!r} needs {', '.join(missing)}")
    lang = lang if lang in LANGUAGES else "de"
    context = {**context, "municipality": _municipality(context["municipality"])}
    text = _ENV.get_template(f"{kind}.{lang}.txt").render(context)
    head, sep, body = text.partition("\n\n")
    if not sep or not head.startswith("Subject:") or "\n" in head:
        raise MailTemplateError(f"{kind}.{lang}.txt must start with 'Subject: …' and a blank line")
    subject = _one_line(head.removeprefix("Subject:"))
    return subject, body.strip("\n") + "\n"


def _one_line(text: str) -> str:
    """Headers are one line: collapse line breaks and runs of whitespace."""
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- senders


class MailSender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Deliver through an SMTP server (optionally STARTTLS and login) with smtplib."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpSender({self.host}:{self.port}, starttls={self.starttls})"


class FileSender:
    """Write each mail as an ``.eml`` file (development: read them in any mail program)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        ident = re.sub(r"[^A-Za-z0-9_.-]", "", str(message.get("Message-ID", "")))[:60]
        target = self.directory / f"{stamp}-{ident or 'mail'}.eml"
        # Write to a temporary file and rename, so a reader never sees half a mail.
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __repr__(self) -> str:
        return f"FileSender({self.directory})"


def mail_setting(settings: Any, name: str, default: Any) -> Any:
    """A mail setting, or ``default`` where ``Settings`` does not (yet) define it."""
    value = getattr(settings, name, default)
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr
        value = value.get_secret_value()
    return default if value is None else value


def sender_from_settings(settings: Any) -> MailSender:
    """SMTP when ``AMTSWEG_SMTP_HOST`` is set, else ``.eml`` files in ``AMTSWEG_MAIL_DIR``."""
    host = mail_setting(settings, "smtp_host", "")
    if host:
        return SmtpSender(
            host,
            int(mail_setting(settings, "smtp_port", 25)),
            starttls=bool(mail_setting(settings, "smtp_starttls", False)),
            username=mail_setting(settings, "smtp_username", ""),
            password=mail_setting(settings, "smtp_password", ""),
            timeout=float(mail_setting(settings, "smtp_timeout_seconds", 30.0)),
        )
    return FileSender(mail_setting(settings, "mail_dir", "") or DEFAULT_MAIL_DIR)


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryStats:
    sent: int = 0
    failed: int = 0  # gave up after MAX_ATTEMPTS in this run (kept as status "failed")
    retried: int = 0  # failed this time, scheduled for another attempt

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    to_address: str
    subject: str
    body: str
    attempts: int
    created_at: datetime


def backoff(attempts: int) -> timedelta:
    """Waiting time after the ``attempts``-th failed attempt (1, 5, 15, 60, 240 minutes)."""
    return timedelta(minutes=BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1])


def build_email(message: _Claimed | OutboxMessage, from_address: str) -> EmailMessage:
    """The outbox row as a UTF-8 text/plain e-mail with a Message-ID stable per row."""
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utcnow())
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    stamp = aware(message.created_at).strftime("%Y%m%d%H%M%S")
    email["Message-ID"] = f"<amtsweg.outbox.{message.id}.{stamp}@{domain}>"
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    email.set_content(message.body, charset="utf-8")
    return email


def _claim(engine: Engine, now: datetime, batch: int) -> list[_Claimed]:
    with unit_of_work(engine) as db:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = db.exec(query).all()
        claimed = [
            _Claimed(r.id, r.kind, r.to_address, r.subject, r.body, r.attempts, r.created_at)
            for r in rows
        ]
        if claimed:
            db.exec(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([c.id for c in claimed]))
                .values(next_attempt_at=now + CLAIM_LEASE)
            )
    return claimed


def _short_error(exc: BaseException) -> str:
    text = _one_line(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def _record_sent(engine: Engine, message: _Claimed) -> None:
    with unit_of_work(engine) as db:
        db.exec(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(status="sent", sent_at=utcnow(), last_error="")
        )


def _record_failure(engine: Engine, message: _Claimed, exc: BaseException, now: datetime) -> bool:
    """Count the failed attempt; returns True if the message is now given up (failed)."""
    attempts = message.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    with unit_of_work(engine) as db:
        db.exec(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id)
            .values(
                attempts=attempts,
                last_error=_short_error(exc),
                status="failed" if gave_up else "pending",
                next_attempt_at=now if gave_up else now + backoff(attempts),
            )
        )
    return gave_up


def deliver_due(
    engine: Engine,
    sender: MailSender,
    *,
    now: datetime | None = None,
    batch: int = 20,
    from_address: str,
) -> DeliveryStats:
    """Send up to ``batch`` due messages once; see the module docstring for the protocol."""
    now = aware(now) if now else utcnow()
    sent = failed = retried = 0
    for message in _claim(engine, now, batch):
        try:
            sender.send(build_email(message, from_address))
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            if _record_failure(engine, message, exc, now):
                failed += 1
                log.error(
                    "mail %s (%s) failed for good after %d attempts: %s",
                    message.id,
                    message.kind,
                    message.attempts + 1,
                    type(exc).__name__,
                )
            else:
                retried += 1
                log.warning(
                    "mail %s (%s) attempt %d failed (%s); will retry",
                    message.id,
                    message.kind,
                    message.attempts + 1,
                    type(exc).__name__,
                )
            continue
        _record_sent(engine, message)
        sent += 1
        log.info("mail %s (%s) sent", message.id, message.kind)
    return DeliveryStats(sent=sent, failed=failed, retried=retried)


def deliver_all_due(
    engine: Engine, sender: MailSender, *, from_address: str, batch: int = 20, rounds: int = 50
) -> DeliveryStats:
    """Deliver until nothing more is due (at most ``rounds`` batches): what the mail jobs run
    (services/mail/jobs.py)."""
    total = DeliveryStats()
    for _ in range(rounds):
        stats = deliver_due(engine, sender, batch=batch, from_address=from_address)
        total = DeliveryStats(
            total.sent + stats.sent, total.failed + stats.failed, total.retried + stats.retried
        )
        if stats.sent + stats.failed + stats.retried < batch:
            break
    return total
