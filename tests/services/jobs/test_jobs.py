"""The job queue on both databases: filing answers before the receipt exists and the pages
say so; idempotent enqueue; retries with backoff until failed; an administrator's retry; a
crashed worker's job is run again; periodic jobs once per installation; the huey transport
carries jobs from the web process to a worker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import select

from services.app import create_app
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases.models import Case, Document
from services.db import unit_of_work
from services.jobs import queue, schedule, service
from services.jobs.models import Job
from services.jobs.registry import job
from services.timeutil import aware, utcnow
from tests.conftest import (
    URL,
    act,
    csrf_of,
    file_registration,
    login,
    make_staff,
    reference_of,
    status_path,
    to_review,
)

# A job kind for these tests: fails while the counter says so.
FAILURES = {"left": 0, "runs": 0}


@job("tests.flaky", label=("Testauftrag", "Test job"), max_attempts=3)
def flaky(ctx, value: int = 0) -> None:
    FAILURES["runs"] += 1
    if FAILURES["left"] > 0:
        FAILURES["left"] -= 1
        raise RuntimeError("SMTP-Server antwortet nicht")


@pytest.fixture
def manual_app(app, settings):
    """The app with jobs left queued (as when no worker has got to them yet)."""
    manual = create_app(settings.model_copy(update={"jobs": "manual"}))
    yield manual
    queue.configure(app.state.engine, settings)  # the shared app runs jobs again
    manual.state.engine.dispose()


@pytest.fixture
def admin(db, municipality):
    return make_staff(db, municipality, "admin", "Anna Admin", ["clerk", "admin"])


@pytest.fixture
def held(app, settings):
    """Jobs stay queued after commit; the test runs them itself."""
    service.set_dispatcher(app.state.engine, None)
    yield
    queue.configure(app.state.engine, settings)


def receipts(db) -> list[Document]:
    db.expire_all()
    return list(db.exec(select(Document).where(Document.kind == "receipt")))


def test_filing_answers_at_once_and_the_receipt_follows(manual_app, db, municipality, settings):
    with TestClient(manual_app) as client:
        r = file_registration(client)
        assert "HST-" in r.text
        assert "Eingangsbestätigung (PDF) wird erstellt" in r.text
        assert f'href="{URL}/confirmation"' in r.text  # reload without JavaScript
        status = client.get(status_path(r.text))
        assert "wird erstellt" in status.text
        assert receipts(db) == []
        (queued,) = db.exec(select(Job).where(Job.kind == "cases.receipt")).all()
        assert queued.state == "queued" and queued.key.startswith("receipt:")

        assert service.run_due(manual_app.state.engine, settings).get("done", 0) >= 1

        (receipt,) = receipts(db)
        r = client.get(f"{URL}/confirmation")
        assert "wird erstellt" not in r.text
        assert f"/documents/{receipt.id}" in r.text
        pdf = client.get(status_path(r.text) + f"/documents/{receipt.id}")
        assert pdf.content.startswith(b"%PDF")


def test_a_receipt_job_run_twice_stores_one_receipt(client, db, municipality, settings, app):
    file_registration(client)
    case = db.exec(select(Case)).one()
    with unit_of_work(app.state.engine) as s:
        service.enqueue(s, "cases.receipt", {"case_id": case.id}, key="again")
    # (run at once after that commit: jobs are immediate in these tests)
    assert db.exec(select(Job.state).where(Job.key == "again")).one() == "done"
    assert len(receipts(db)) == 1


def test_a_decision_commits_at_once_and_the_notice_pdf_follows(
    client, db, municipality, settings, app, clerk, held
):
    """The approving request composes the notice and commits; WeasyPrint runs in the job
    afterwards (no transaction, no lock). Until then the pages say the PDF is being made."""
    confirmation = file_registration(client)
    service.run_due(app.state.engine, settings)  # the receipt
    reference = reference_of(confirmation.text)
    login(client, "clerk")
    to_review(client, reference)
    assert act(client, reference, "approve").status_code == 200
    case = db.exec(select(Case).where(Case.reference == reference)).one()
    assert case.state == "notice_issued"
    (notice,) = db.exec(select(Document).where(Document.kind == "notice")).all()
    assert notice.pending and notice.content == b"" and notice.meta["tag_number"]
    (queued,) = db.exec(select(Job).where(Job.kind == "documents.render")).all()
    assert queued.state == "queued" and queued.key == f"document:{notice.id}"

    page = client.get(f"/office/cases/{reference}")
    assert "PDF wird erstellt" in page.text
    r = client.get(f"/office/cases/{reference}/documents/{notice.id}")
    assert r.status_code == 404 and "wird gerade erstellt" in r.text
    client.cookies.clear()
    status = client.get(status_path(confirmation.text))
    assert "Hundesteuerbescheid vom" in status.text and "(PDF) wird erstellt" in status.text
    r = client.get(status_path(confirmation.text) + f"/documents/{notice.id}")
    assert r.status_code == 404 and "wird gerade erstellt" in r.text

    assert service.run_due(app.state.engine, settings).get("done") == 1
    db.expire_all()
    notice = db.get(Document, notice.id)
    assert notice.content.startswith(b"%PDF") and not notice.pending
    assert notice.render_source is None and notice.size == len(notice.content)
    stored = db.exec(select(CaseEvent).where(CaseEvent.action == "document_stored")).one()
    assert stored.data["sha256"] == notice.sha256 and stored.data["document_id"] == notice.id
    status = client.get(status_path(confirmation.text))
    assert "wird erstellt" not in status.text
    r = client.get(status_path(confirmation.text) + f"/documents/{notice.id}")
    assert r.content == notice.content
    # Run again (a redelivery after a crash): nothing changes, no second event.
    with unit_of_work(app.state.engine) as s:
        service.enqueue(s, "documents.render", {"document_id": notice.id}, key="again")
    service.run_due(app.state.engine, settings)
    assert len(db.exec(select(CaseEvent).where(CaseEvent.action == "document_stored")).all()) == 1
    assert audit.verify(db)[1] == []


def test_enqueue_with_the_same_key_queues_once(app, db, municipality):
    with unit_of_work(app.state.engine) as s:
        first = service.enqueue(s, "tests.flaky", key="k1")
        second = service.enqueue(s, "tests.flaky", key="k1")
    assert first is not None and second is None
    assert len(db.exec(select(Job).where(Job.key == "k1")).all()) == 1


def test_a_job_queued_in_a_rolled_back_transaction_does_not_exist(app, db, municipality):
    handed: list[list[int]] = []
    service.set_dispatcher(app.state.engine, handed.append)
    try:
        with pytest.raises(RuntimeError), unit_of_work(app.state.engine) as s:
            service.enqueue(s, "tests.flaky", key="gone")
            raise RuntimeError("the change failed")
        with unit_of_work(app.state.engine) as s:
            kept = service.enqueue(s, "tests.flaky", key="kept")
    finally:
        queue.configure(app.state.engine, app.state.settings)
    assert db.exec(select(Job.key)).all() == ["kept"]
    assert handed == [[kept]]  # handed over once, after the commit


def test_failures_are_retried_with_backoff_then_failed_and_an_admin_retries(
    app, db, municipality, settings, client, held, admin
):
    engine = app.state.engine
    FAILURES.update(left=5, runs=0)
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "tests.flaky", municipality_id=municipality.id)
    assert service.execute(engine, settings, job_id) == "retry"
    row = db.get(Job, job_id)
    assert row.state == "queued" and row.attempts == 1 and "antwortet nicht" in row.last_error
    assert aware(row.run_at) > utcnow() + timedelta(seconds=5)  # backoff: not at once
    assert service.execute(engine, settings, job_id) == "skipped"  # not due yet
    for _ in range(2):
        db.execute(update(Job).where(Job.id == job_id).values(run_at=utcnow()))
        db.commit()
        service.execute(engine, settings, job_id)
    db.expire_all()
    row = db.get(Job, job_id)
    assert row.state == "failed" and row.attempts == 3 and FAILURES["runs"] == 3

    # The administrator sees it and sends it round again; it runs after that commit.
    queue.configure(engine, settings)
    FAILURES["left"] = 0
    login(client, "admin")
    page = client.get("/admin/jobs?state=failed")
    assert page.status_code == 200 and "Testauftrag" in page.text
    assert "fehlgeschlagen" in page.text and "antwortet nicht" in page.text
    r = client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "wird erneut ausgeführt" in r.text
    db.expire_all()
    assert db.get(Job, job_id).state == "done" and FAILURES["runs"] == 4  # ran after commit


def test_retry_of_another_towns_job_is_refused(
    app, db, municipality, other_municipality, client, held, admin
):
    with unit_of_work(app.state.engine) as s:
        job_id = service.enqueue(s, "tests.flaky", municipality_id=other_municipality.id)
    db.execute(update(Job).where(Job.id == job_id).values(state="failed"))
    db.commit()
    login(client, "admin")
    page = client.get("/admin/jobs")
    assert f'<th scope="row">{job_id}</th>' not in page.text
    r = client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 404
    db.expire_all()
    assert db.get(Job, job_id).state == "failed"


def test_a_crashed_workers_job_runs_again(app, db, municipality, settings, held):
    engine = app.state.engine
    FAILURES.update(left=0, runs=0)
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "tests.flaky")
    assert service.claim(engine, job_id, "dead-host:1") is not None  # then kill -9
    assert service.sweep(engine) == []  # lease still running: nobody else takes it
    later = utcnow() + timedelta(minutes=10)
    assert service.sweep(engine, now=later) == [job_id]
    db.expire_all()
    assert db.get(Job, job_id).state == "queued"
    assert service.execute(engine, settings, job_id) == "done" and FAILURES["runs"] == 1


def test_two_deliveries_of_one_job_run_it_once(app, db, municipality, settings, held):
    engine = app.state.engine
    FAILURES.update(left=0, runs=0)
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "tests.flaky")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        outcomes.append(service.execute(engine, settings, job_id))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["done", "skipped", "skipped", "skipped"]
    assert FAILURES["runs"] == 1


def test_periodic_jobs_are_queued_once_per_installation(app, db, municipality, held):
    now = utcnow().replace(hour=12, minute=30)  # past every daily job's hour; +1 min: same hour
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def tick() -> None:  # four workers' schedulers at the same minute
        barrier.wait()
        results.append(schedule.enqueue_due(app.state.engine, now))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    kinds = sorted(db.exec(select(Job.kind)).all())
    assert kinds == sorted(p.kind for p in schedule.PERIODIC)
    assert sum(len(r) for r in results) == len(schedule.PERIODIC)
    # The next minute: only the every-minute job is due again.
    schedule.enqueue_due(app.state.engine, now + timedelta(minutes=1))
    assert len(db.exec(select(Job)).all()) == len(schedule.PERIODIC) + 1


def test_the_transport_carries_jobs_to_a_worker(app, db, municipality, settings):
    """Through huey (SQLite queue file, or PostgreSQL's huey tables with LISTEN/NOTIFY)."""
    engine = app.state.engine
    FAILURES.update(left=0, runs=0)
    transport = queue.Transport(engine, settings.model_copy(update={"jobs": "worker"}))
    transport.huey.storage.flush_queue()
    queue.register(engine, transport)
    try:
        with unit_of_work(engine) as s:
            job_id = service.enqueue(s, "tests.flaky")
        assert transport.pending() == 1  # handed over at commit
        task = transport.huey.dequeue()
        transport.huey.execute(task)  # what a consumer thread does
    finally:
        queue.configure(engine, settings)
    db.expire_all()
    assert db.get(Job, job_id).state == "done" and FAILURES["runs"] == 1
    transport.check()


def test_metrics_and_readiness_cover_the_queue(app, db, municipality, settings, held):
    with unit_of_work(app.state.engine) as s:
        service.enqueue(s, "tests.flaky")
    worker_app = create_app(settings.model_copy(update={"jobs": "worker"}))
    try:
        with TestClient(worker_app) as client:
            body = client.get("/metrics").text
            assert 'amtsweg_jobs{state="queued"} 1.0' in body
            assert "amtsweg_jobs_oldest_due_seconds" in body
            ready = client.get("/readyz").json()
            assert ready["checks"]["queue"] == "ok" and ready["checks"]["database"] == "ok"
    finally:
        queue.configure(app.state.engine, settings)
        worker_app.state.engine.dispose()
