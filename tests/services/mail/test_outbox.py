"""The outbox: mails are queued with the change they report and delivered by SMTP with retries.

Delivery is tested against a real SMTP server (aiosmtpd) running in the test process."""

from __future__ import annotations

import email
import logging
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select
from typer.testing import CliRunner

from services.mail.cli import mail_app
from services.mail.models import OutboxMessage
from services.mail.service import (
    BACKOFF_MINUTES,
    MAIL_KINDS,
    MAX_ATTEMPTS,
    DeliveryStats,
    FileSender,
    MailTemplateError,
    SmtpSender,
    backoff,
    deliver_due,
    enqueue,
    render_mail,
    sender_from_settings,
)
from services.timeutil import aware

FROM = "Stadt Herzberg (Elster) <noreply@herzberg-elster.de>"
STATUS_URL = "http://testserver/status/Zk3-geheimer-Statuslink_9"
SUBMITTED = datetime(2026, 5, 20, 12, 32, tzinfo=UTC)  # 14:32 in Berlin


# --------------------------------------------------------------------------- SMTP server


class Inbox:
    """aiosmtpd handler: keeps every received message; refuses recipients at bounce.test."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@bounce.test"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """A real SMTP server on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def sender(self) -> SmtpSender:
        return SmtpSender("127.0.0.1", self.port, starttls=False, timeout=5)

    def wait_for(self, count: int, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.inbox.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def smtp() -> SmtpServer:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def engine(app):
    return app.state.engine


def queue(db: Session, municipality, to: str = "erika@example.org", **kw) -> OutboxMessage:
    subject, body = render_mail(
        "filed",
        "de",
        municipality=municipality,
        procedure_title="Hund anmelden",
        reference=kw.pop("reference", "HST-2026-000123"),
        submitted_at=SUBMITTED,
        status_url=STATUS_URL,
    )
    message = enqueue(
        db, municipality_id=municipality.id, to=to, kind="filed", subject=subject, body=body
    )
    db.commit()
    return message


def reload(engine, message_id: int) -> OutboxMessage:
    with Session(engine) as s:
        row = s.get(OutboxMessage, message_id)
        assert row is not None, "outbox messages are never deleted"
        return row


# --------------------------------------------------------------------------- delivery


def test_queued_mail_is_delivered_once_with_umlauts_and_status_link(db, engine, municipality, smtp):
    message = queue(db, municipality)
    assert reload(engine, message.id).status == "pending"

    stats = deliver_due(engine, smtp.sender(), from_address=FROM)

    assert stats == DeliveryStats(sent=1, failed=0, retried=0)
    assert len(smtp.inbox.messages) == 1
    rcpt, received = smtp.inbox.messages[0]
    assert rcpt == ["erika@example.org"]
    assert received["To"] == "erika@example.org"
    assert received["Subject"] == (
        "Eingangsbestätigung: Hund anmelden – Vorgangsnummer HST-2026-000123"
    )
    assert received["From"].addresses[0].addr_spec == "noreply@herzberg-elster.de"
    assert received["Message-ID"].endswith("@herzberg-elster.de>")
    assert received["Auto-Submitted"] == "auto-generated"
    body = received.get_content()
    assert received.get_content_type() == "text/plain"
    assert STATUS_URL in body
    assert "am 20.05.2026 um 14:32 Uhr" in body
    assert "Stadt Herzberg (Elster)" in body and "20 – Kämmerei" in body
    assert "Grüßen" in body and "persönlich" in body  # umlauts survive the round trip

    row = reload(engine, message.id)
    assert row.status == "sent" and row.attempts == 0 and row.sent_at is not None
    # Nothing is due any more: a second run sends nothing.
    assert deliver_due(engine, smtp.sender(), from_address=FROM) == DeliveryStats()
    assert len(smtp.inbox.messages) == 1


def test_server_down_keeps_message_pending_and_retries_later(db, engine, municipality, caplog):
    server = SmtpServer()  # not started yet: connections are refused
    message = queue(db, municipality)
    now = datetime(2026, 5, 20, 13, 0, tzinfo=UTC) + timedelta(days=3650)

    with caplog.at_level(logging.DEBUG, logger="amtsweg.mail"):
        stats = deliver_due(engine, server.sender(), now=now, from_address=FROM)

    assert stats == DeliveryStats(sent=0, failed=0, retried=1)
    row = reload(engine, message.id)
    assert row.status == "pending" and row.attempts == 1
    assert aware(row.next_attempt_at) == now + timedelta(minutes=BACKOFF_MINUTES[0])
    assert "ConnectionRefusedError" in row.last_error
    assert STATUS_URL not in row.last_error
    # The log names ids and kinds, never the body, the link or the address.
    assert f"mail {message.id} (filed)" in caplog.text
    for secret in (STATUS_URL, "erika@example.org", "Guten Tag"):
        assert secret not in caplog.text

    server.start()
    try:
        # Not yet due: nothing happens before the backoff has passed.
        early = deliver_due(
            engine, server.sender(), now=now + timedelta(seconds=30), from_address=FROM
        )
        assert early == DeliveryStats() and server.inbox.messages == []

        later = now + timedelta(minutes=2)
        assert deliver_due(engine, server.sender(), now=later, from_address=FROM).sent == 1
        assert deliver_due(engine, server.sender(), now=later, from_address=FROM).sent == 0
    finally:
        server.stop()
    assert len(server.inbox.messages) == 1
    row = reload(engine, message.id)
    assert row.status == "sent" and row.attempts == 1


def test_after_eight_failures_the_message_is_failed_and_kept(db, engine, municipality):
    dead = SmtpSender("127.0.0.1", free_port(), starttls=False, timeout=2)
    message = queue(db, municipality)
    now = datetime.now(UTC)
    waits = []

    for attempt in range(1, MAX_ATTEMPTS + 1):
        stats = deliver_due(engine, dead, now=now, from_address=FROM)
        row = reload(engine, message.id)
        assert row.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert stats == DeliveryStats(retried=1) and row.status == "pending"
            waits.append(aware(row.next_attempt_at) - now)
            now = aware(row.next_attempt_at)
        else:
            assert stats == DeliveryStats(failed=1) and row.status == "failed"

    assert [w.total_seconds() / 60 for w in waits] == [1, 5, 15, 60, 240, 240, 240]
    assert backoff(1) == timedelta(minutes=1) and backoff(99) == timedelta(minutes=240)
    # Failed messages stay in the outbox and are not picked up again.
    later = now + timedelta(days=30)
    assert deliver_due(engine, dead, now=later, from_address=FROM) == DeliveryStats()
    row = reload(engine, message.id)
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS and row.last_error


def test_a_refused_message_does_not_block_the_next(db, engine, municipality, smtp):
    bad = queue(db, municipality, to="nobody@bounce.test", reference="HST-2026-000001")
    good = queue(db, municipality, to="erika@example.org", reference="HST-2026-000002")

    stats = deliver_due(engine, smtp.sender(), from_address=FROM)

    assert stats == DeliveryStats(sent=1, retried=1)
    assert [rcpt for rcpt, _ in smtp.inbox.messages] == [["erika@example.org"]]
    assert "HST-2026-000002" in smtp.inbox.messages[0][1]["Subject"]
    bad_row, good_row = reload(engine, bad.id), reload(engine, good.id)
    assert good_row.status == "sent"
    assert bad_row.status == "pending" and bad_row.attempts == 1
    assert "SMTPRecipientsRefused" in bad_row.last_error and "550" in bad_row.last_error


def test_a_broken_sender_does_not_stop_the_batch(db, engine, municipality):
    class FlakySender:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send(self, message: EmailMessage) -> None:
            if "000001" in message["Subject"]:
                raise RuntimeError("boom")
            self.sent.append(message["Subject"])

    for n in (1, 2, 3):
        queue(db, municipality, reference=f"HST-2026-00000{n}")
    sender = FlakySender()
    assert deliver_due(engine, sender, from_address=FROM) == DeliveryStats(sent=2, retried=1)
    assert len(sender.sent) == 2


def test_enqueue_is_part_of_the_callers_transaction(db, engine, municipality):
    message = enqueue(
        db,
        municipality_id=municipality.id,
        to=" erika@example.org ",
        kind="filed",
        subject="Betreff\r\nBcc: evil@example.org",
        body="Text",
    )
    assert message.id is not None and message.to_address == "erika@example.org"
    assert message.subject == "Betreff Bcc: evil@example.org"  # one header line only
    db.rollback()  # the change it reports failed: the mail goes with it
    with Session(engine) as s:
        assert s.exec(select(OutboxMessage)).all() == []
    with pytest.raises(ValueError):
        enqueue(
            db,
            municipality_id=municipality.id,
            to="a@b.de\nBcc: c@d.de",
            kind="filed",
            subject="x",
            body="y",
        )


def test_concurrent_deliveries_send_each_message_exactly_once(db, engine, municipality, smtp):
    count = 12
    for n in range(count):
        queue(db, municipality, reference=f"HST-2026-{n:06d}")

    class SlowSmtp(SmtpSender):
        def send(self, message: EmailMessage) -> None:
            time.sleep(0.01)  # keep the workers overlapping
            super().send(message)

    barrier = threading.Barrier(3)
    totals: list[DeliveryStats] = []
    errors: list[BaseException] = []

    def run() -> None:
        sender = SlowSmtp("127.0.0.1", smtp.port, starttls=False, timeout=5)
        try:
            barrier.wait()
            while True:
                stats = deliver_due(engine, sender, batch=3, from_address=FROM)
                totals.append(stats)
                if stats == DeliveryStats():
                    break
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert sum(s.sent for s in totals) == count
    subjects = sorted(m["Subject"] for _, m in smtp.inbox.messages)
    assert len(subjects) == count and len(set(subjects)) == count
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {"sent"}


def test_a_queued_mail_is_handed_to_a_job_that_sends_it(app, settings, engine, municipality, smtp):
    """enqueue() queues a mail.deliver job in the same transaction; the job sends it."""
    from services.db import unit_of_work
    from services.jobs import queue as jobs_queue
    from services.jobs import service as jobs
    from services.jobs.models import Job

    via_smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})
    jobs.set_dispatcher(engine, None)  # held: this test runs the job as a worker would
    try:
        with unit_of_work(engine) as s:
            message = queue(s, municipality)
        with unit_of_work(engine) as s:
            job = s.exec(select(Job).where(Job.key == f"mail:{message.id}")).one()
        assert job.kind == "mail.deliver" and job.state == "queued"
        assert jobs.execute(engine, via_smtp, job.id) == "done"
    finally:
        jobs_queue.configure(engine, settings)
    smtp.wait_for(1)
    assert len(smtp.inbox.messages) == 1
    with Session(engine) as s:
        assert s.get(OutboxMessage, message.id).status == "sent"


# --------------------------------------------------------------------------- senders, CLI


def test_file_sender_writes_a_readable_eml(db, engine, municipality, tmp_path):
    message = queue(db, municipality)
    outbox = tmp_path / "mail"

    assert deliver_due(engine, FileSender(outbox), from_address=FROM).sent == 1

    (eml,) = outbox.glob("*.eml")
    assert not list(outbox.glob("*.tmp"))
    raw = eml.read_bytes()
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert parsed["Subject"].startswith("Eingangsbestätigung")
    assert parsed["To"] == "erika@example.org"
    assert STATUS_URL in parsed.get_content()
    assert reload(engine, message.id).status == "sent"


def test_sender_from_settings(tmp_path):
    none = SimpleNamespace()
    files = sender_from_settings(SimpleNamespace(smtp_host="", mail_dir=tmp_path))
    assert isinstance(files, FileSender) and files.directory == tmp_path
    assert isinstance(sender_from_settings(none), FileSender)  # before the settings exist
    smtp = sender_from_settings(
        SimpleNamespace(
            smtp_host="mail.example.org",
            smtp_port=587,
            smtp_starttls=True,
            smtp_username="amtsweg",
            smtp_password="s3cret",
        )
    )
    assert isinstance(smtp, SmtpSender)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username) == (
        "mail.example.org",
        587,
        True,
        "amtsweg",
    )
    assert "s3cret" not in repr(smtp)


def test_cli_deliver_prints_a_summary(db, municipality, settings, smtp, monkeypatch):
    queue(db, municipality)
    cli_settings = SimpleNamespace(
        database_url=settings.database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from=FROM,
    )
    monkeypatch.setattr("services.mail.cli.get_settings", lambda: cli_settings)

    result = CliRunner().invoke(mail_app, ["deliver"])

    assert result.exit_code == 0, result.output
    assert "1 sent, 0 to retry, 0 failed" in result.output
    assert len(smtp.inbox.messages) == 1


# --------------------------------------------------------------------------- templates


def _context(kind: str) -> dict:
    municipality = {
        "name": "Stadt Herzberg (Elster)",
        "department": "20 – Kämmerei",
        "phone": "(03535) 482-253",
        "email": "steueramt@herzberg-elster.de",
        "processing_days": 14,
    }
    return {
        "filed": {
            "procedure_title": "Hund anmelden",
            "reference": "HST-2026-000123",
            "submitted_at": SUBMITTED,
            "status_url": STATUS_URL,
        },
        "resume_link": {
            "procedure_title": "Hund anmelden",
            "resume_url": "http://testserver/herzberg-elster/hund-anmelden/resume/abc",
            "expires_on": date(2026, 6, 19),
        },
        "reply_reminder": {
            "procedure_title": "Hund anmelden",
            "reference": "HST-2026-000123",
            "reply_by": date(2026, 6, 3),
            "status_url": STATUS_URL,
        },
        "information_request": {
            "procedure_title": "Hund anmelden",
            "reference": "HST-2026-000123",
            "request_text": "Bitte reichen Sie den Versicherungsnachweis <nach>.",
            "reply_by": date(2026, 6, 3),
            "status_url": STATUS_URL,
        },
    }[kind] | {"municipality": municipality}


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("kind", sorted(MAIL_KINDS))
def test_every_mail_renders_completely(kind: str, lang: str):
    context = _context(kind)
    subject, body = render_mail(kind, lang, **context)

    assert subject and "\n" not in subject
    for text in (subject, body):
        assert "{{" not in text and "{%" not in text and "}}" not in text
        assert "None" not in text and "&amp;" not in text and "&lt;" not in text
    assert ("automatisch versandt" if lang == "de" else "sent automatically") in body
    assert "Stadt Herzberg (Elster)\n20 – Kämmerei" in body  # signed by the department
    for key in ("status_url", "resume_url", "reference", "request_text"):
        if key in context:
            assert context[key] in body  # text, not HTML: "<nach>" stays as written
    if kind == "resume_link":
        assert ("19.06.2026" if lang == "de" else "19 June 2026") in body
    if kind in ("information_request", "reply_reminder"):
        assert ("03.06.2026" if lang == "de" else "3 June 2026") in body
    if lang == "de":
        assert "Guten Tag," in body and "Sie" in body and " du " not in body.lower()


def test_render_mail_refuses_unknown_kinds_and_missing_context():
    with pytest.raises(MailTemplateError, match="unknown mail kind"):
        render_mail("spam", "de", **_context("filed"))
    context = _context("filed")
    del context["status_url"]
    with pytest.raises(MailTemplateError, match="status_url"):
        render_mail("filed", "de", **context)
    # An unknown language falls back to German.
    assert render_mail("filed", "fr", **_context("filed"))[0].startswith("Eingangsbestätigung")
