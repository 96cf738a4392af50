"""Audit events under real concurrency, on SQLite and PostgreSQL: many staff opening one case
page at the same moment, staff looking while the citizen answers, two clerks claiming or
approving at once while colleagues look. Every request runs in its own thread with its own
client (and so its own database connection); a barrier releases them together. Nothing may
answer 500, every event is recorded, each case's chain stays gapless and verifies."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.audit import service as audit
from services.audit.models import AdminEvent, CaseEvent
from services.cases.models import Case
from services.cases.service import token_hash
from services.db import unit_of_work
from services.municipalities.models import Municipality
from services.uploads.models import Upload
from tests.conftest import PDF, csrf_of, login, make_staff

THREADS = 8
ROUNDS = 3


def client_of(app) -> TestClient:
    """A client of its own (no lifespan: it would dispose the shared engine on exit);
    server errors come back as 500 responses instead of being raised in the thread."""
    return TestClient(app, raise_server_exceptions=False)


def staff_client(app, username: str) -> tuple[TestClient, str]:
    """A logged-in staff client and its CSRF token."""
    c = client_of(app)
    assert login(c, username).url.path == "/office/"
    return c, csrf_of(c.get("/office/").text)


def staff_clients(app, username: str, n: int) -> list[TestClient]:
    """``n`` clients of one staff member, each its own connection (one login, shared
    cookie: hashing the password once keeps the test fast)."""
    first, _ = staff_client(app, username)
    clients = [first]
    for _ in range(n - 1):
        c = client_of(app)
        c.cookies.set("amtsweg_session", first.cookies.get("amtsweg_session"))
        clients.append(c)
    return clients


def together(tasks: list[Callable[[], object]]) -> list[object]:
    """Run every task in its own thread, released at the same moment by a barrier."""
    barrier = threading.Barrier(len(tasks), timeout=60)

    def run(task):
        barrier.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(run, tasks))


def events_of(db, case: Case) -> list[CaseEvent]:
    db.expire_all()
    return list(db.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by("seq")))


def assert_chains_intact(db, *cases: Case) -> None:
    for case in cases:
        seqs = [e.seq for e in events_of(db, case)]
        assert seqs == list(range(1, len(seqs) + 1)), f"{case.reference}: {seqs}"
    checked, broken = audit.verify(db)
    assert broken == [] and checked > 0


def view(c: TestClient, reference: str) -> Callable[[], int]:
    return lambda: c.get(f"/office/cases/{reference}").status_code


def test_many_staff_open_one_case_page_at_once(app, db, clerk, approver, case_factory):
    case = case_factory("in_review")
    half = THREADS // 2
    clients = staff_clients(app, "clerk", half) + staff_clients(app, "approver", THREADS - half)
    before = len(events_of(db, case))
    for _ in range(ROUNDS):
        statuses = together([view(c, case.reference) for c in clients])
        assert statuses == [200] * THREADS
    events = events_of(db, case)
    viewed = [e for e in events if e.action == "viewed"]
    assert len(viewed) == THREADS * ROUNDS
    assert len(events) == before + THREADS * ROUNDS
    assert {e.actor_id for e in viewed} == {clerk.id, approver.id}
    assert_chains_intact(db, case)


def answer(app, token: str) -> Callable[[], tuple[int, str]]:
    """The citizen on the status page: prepared now (page, CSRF token), posting when run."""
    c = client_of(app)
    page = c.get(f"/status/{token}")
    assert page.status_code == 200 and "Die Stadt bittet Sie um Ergänzung" in page.text

    def post() -> tuple[int, str]:
        r = c.post(
            f"/status/{token}/answer",
            data={"csrf_token": csrf_of(page.text), "answer_text": "Anbei der Kaufvertrag."},
            files=[("answer_files", ("kaufvertrag.pdf", PDF, "application/pdf"))],
        )
        return r.status_code, r.text

    return post


def test_staff_look_while_the_citizen_answers(app, db, clerk, case_factory):
    clients = staff_clients(app, "clerk", THREADS - 1)
    cases = []
    for i in range(ROUNDS):
        case = case_factory("information_requested", name=f"Halter{i}, Eva")
        audit.record(
            db,
            case_id=case.id,
            municipality_id=case.municipality_id,
            actor_kind="staff",
            actor_id=clerk.id,
            actor_name=clerk.display_name,
            action="request_information",
            from_state="in_review",
            to_state="information_requested",
            comment="Bitte senden Sie den Kaufvertrag.",
            public=True,
            data={"reply_by": "2099-01-01"},
        )
        token = f"status-token-{i}"
        case.status_token_hash = token_hash(token)
        db.add(case)
        db.commit()
        cases.append(case)
        citizen = answer(app, token)
        outcomes = together([citizen] + [view(c, case.reference) for c in clients])
        status, text = outcomes[0]
        assert status == 200 and "Ihre Antwort ist eingegangen" in text, text[-400:]
        assert outcomes[1:] == [200] * (THREADS - 1)
        db.refresh(case)
        assert case.state == "answer_received"
        actions = [e.action for e in events_of(db, case)]
        assert actions.count("submit_answer") == 1 and actions.count("viewed") == THREADS - 1
    assert_chains_intact(db, *cases)


def post_as(c: TestClient, csrf: str, url: str, **data: str) -> Callable[[], tuple[int, str]]:
    def post() -> tuple[int, str]:
        r = c.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
        return r.status_code, r.text

    return post


def test_two_clerks_claim_at_once_while_colleagues_look(app, db, clerk, approver, case_factory):
    make_staff(db, db.get(Municipality, clerk.municipality_id), "clerk2", "Jana K", ["clerk"])
    (a, csrf_a), (b, csrf_b) = staff_client(app, "clerk"), staff_client(app, "approver")
    viewers = staff_clients(app, "clerk2", THREADS - 2)
    cases = []
    for i in range(ROUNDS):
        case = case_factory("submitted", name=f"Halter{i}, Eva")
        cases.append(case)
        url = f"/office/cases/{case.reference}/claim"
        outcomes = together(
            [post_as(a, csrf_a, url), post_as(b, csrf_b, url)]
            + [view(c, case.reference) for c in viewers]
        )
        claims, views = outcomes[:2], outcomes[2:]
        assert views == [200] * (THREADS - 2)
        assert sorted(status for status, _ in claims) == [303, 409], claims
        loser = next(text for status, text in claims if status == 409)
        assert "hat inzwischen" in loser and "übernommen" in loser
        db.refresh(case)
        winner = clerk if claims[0][0] == 303 else approver
        assert case.assignee_id == winner.id
        claim_events = [e for e in events_of(db, case) if e.action == "claim"]
        assert [e.actor_id for e in claim_events] == [winner.id]
    assert_chains_intact(db, *cases)


def test_two_approvers_approve_at_once_while_colleagues_look(
    app, db, clerk, approver, second_approver, case_factory
):
    (a, csrf_a), (b, csrf_b) = staff_client(app, "approver"), staff_client(app, "approver2")
    viewers = staff_clients(app, "clerk", THREADS - 2)
    case = case_factory("in_review")
    url = f"/office/cases/{case.reference}/transitions/approve"
    version = str(case.version)
    outcomes = together(
        [post_as(a, csrf_a, url, version=version), post_as(b, csrf_b, url, version=version)]
        + [view(c, case.reference) for c in viewers]
    )
    approvals, views = outcomes[:2], outcomes[2:]
    assert views == [200] * (THREADS - 2)
    assert sorted(status for status, _ in approvals) == [303, 409], [s for s, _ in approvals]
    loser = next(text for status, text in approvals if status == 409)
    assert re.search(r"wurde inzwischen von .+ geändert", loser)
    db.refresh(case)
    assert case.state == "notice_issued"
    actions = [e.action for e in events_of(db, case)]
    assert actions.count("approve") == 1 and actions.count("notice_issued") == 1
    assert_chains_intact(db, case)


def test_parallel_admin_changes_keep_the_municipality_chain_gapless(app, db, municipality):
    """record_admin from many transactions at once (no process write lock held, as in a
    job or a GET): each waits for the municipality's lock instead of failing."""

    engine = app.state.engine

    def change(i: int) -> Callable[[], str]:
        def run() -> str:
            with unit_of_work(engine, lock=False) as s:
                audit.record_admin(
                    s,
                    municipality_id=municipality.id,
                    actor_id=None,
                    actor_name="Test",
                    action="rate_table_saved",
                    target=f"rate_table:{i}",
                )
            return "ok"

        return run

    for r in range(ROUNDS):
        assert together([change(r * THREADS + i) for i in range(THREADS)]) == ["ok"] * THREADS
    db.expire_all()
    seqs = [
        e.seq
        for e in db.exec(
            select(AdminEvent)
            .where(AdminEvent.municipality_id == municipality.id)
            .order_by(AdminEvent.seq)
        )
    ]
    assert seqs == list(range(1, THREADS * ROUNDS + 1))
    assert audit.verify(db)[1] == []


@pytest.mark.postgres
def test_appends_after_storing_files_for_the_case_do_not_deadlock(app, db, case_factory):
    """PostgreSQL: inserting a row that references the case (here an upload, as the
    citizen's answer does before its state change) takes FOR KEY SHARE on the case row. Two
    such transactions then appending to the case must queue, not deadlock: the append's
    lock is FOR NO KEY UPDATE, which does not conflict with FOR KEY SHARE (FOR UPDATE would,
    and PostgreSQL would abort one of them with "deadlock detected")."""

    case = case_factory("answer_received")
    engine = app.state.engine
    stored = threading.Barrier(2, timeout=30)

    def store_then_append(i: int) -> Callable[[], str]:
        def run() -> str:
            with unit_of_work(engine, lock=False) as s:
                s.add(
                    Upload(
                        municipality_id=case.municipality_id,
                        case_id=case.id,
                        slot="answer",
                        filename=f"nachweis-{i}.pdf",
                        media_type="application/pdf",
                        size=len(PDF),
                        sha256=hashlib.sha256(PDF).hexdigest(),
                        scan_status="not_scanned",
                        content=PDF,
                    )
                )
                s.flush()
                stored.wait()  # both hold FOR KEY SHARE on the case now
                audit.record(
                    s,
                    case_id=case.id,
                    municipality_id=case.municipality_id,
                    actor_kind="system",
                    actor_id=None,
                    actor_name="Test",
                    action="document",
                )
            return "ok"

        return run

    assert together([store_then_append(0), store_then_append(1)]) == ["ok", "ok"]
    assert_chains_intact(db, case)
