"""The office through HTTP, on SQLite and PostgreSQL: every transition and refusal, queues,
claiming, the paused clock, reminders, withdrawal, sessions, the CLI."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from services.audit.models import CaseEvent
from services.cases.models import Case, Document, RegisteredDog
from services.db import unit_of_work
from services.errors import Conflict
from services.mail.models import OutboxMessage
from services.procedures.registry import get
from services.review import service as review
from services.timeutil import today_local, utcnow
from tests.conftest import act, csrf_of, file_registration, login, reference_of, status_path
from workflow import TransitionRefused

WF = get("dog_registration").workflow
STAFF_TRANSITIONS = [t for t in WF.transitions if t.role in ("clerk", "approver")]


def refresh(db, case: Case) -> Case:
    db.expire_all()
    return db.get(Case, case.id)


# --- every transition and every refusal --------------------------------------------------


@pytest.mark.parametrize(
    "name, source",
    [(t.name, s) for t in STAFF_TRANSITIONS for s in t.from_],
)
def test_every_staff_transition_through_http(
    client, db, clerk, approver, second_approver, case_factory, name, source
):
    t = WF.transition(name)
    four_eyes = name in ("propose_approval", "confirm_approval")
    case = case_factory(source, dangerous=four_eyes)
    if name == "confirm_approval":  # a colleague proposed; the approver confirms
        from services.audit import service as audit

        audit.record(
            db,
            case_id=case.id,
            municipality_id=case.municipality_id,
            actor_kind="staff",
            actor_id=second_approver.id,
            actor_name=second_approver.display_name,
            action="propose_approval",
            from_state="in_review",
            to_state="awaiting_second_approval",
        )
        db.commit()
    login(client, "approver" if t.role == "approver" else "clerk")
    r = act(client, case.reference, name, comment="Begründung im Test", version=case.version)
    assert r.status_code == 200, r.text[-500:]
    case = refresh(db, case)
    expected = "notice_issued" if t.to == "approved" else t.to  # approval issues the notice
    assert case.state == expected
    assert case.is_open == (not WF.states[expected].terminal)
    event = db.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == name)
    ).one()
    assert (event.from_state, event.to_state) == (source, t.to)
    assert event.comment == "Begründung im Test"


@pytest.mark.parametrize("name", [t.name for t in STAFF_TRANSITIONS])
def test_every_transition_refused_from_a_wrong_state(
    client, db, clerk, approver, case_factory, name
):
    t = WF.transition(name)
    wrong = next(s for s in WF.states if s not in t.from_ and not WF.states[s].terminal)
    case = case_factory(wrong)
    login(client, "approver")  # has both staff roles: the state is the reason
    r = act(client, case.reference, name, comment="x", version=case.version)
    assert r.status_code == 409
    assert "nicht möglich" in r.text
    assert refresh(db, case).state == wrong and refresh(db, case).version == case.version


@pytest.mark.parametrize("name", [t.name for t in WF.transitions if t.role == "approver"])
def test_approver_transitions_refused_for_a_clerk(client, db, clerk, case_factory, name):
    t = WF.transition(name)
    case = case_factory(t.from_[0], dangerous=True)
    login(client, "clerk")
    r = act(client, case.reference, name, comment="x", version=case.version)
    assert r.status_code == 403 and "Sachgebietsleitung" in r.text
    assert refresh(db, case).state == t.from_[0]


@pytest.mark.parametrize("name", ["submit_answer", "withdraw", "notice_issued", "no_such_step"])
def test_citizen_and_system_steps_cannot_be_taken_by_staff(
    client, db, approver, case_factory, name
):
    t = WF.transition(name)
    case = case_factory(t.from_[0] if t else "in_review")
    login(client, "approver")
    r = act(client, case.reference, name, comment="x", version=case.version)
    assert r.status_code in (403, 409)
    assert refresh(db, case).state == (t.from_[0] if t else "in_review")


def test_the_office_offers_exactly_the_allowed_buttons(client, db, clerk, case_factory):
    case = case_factory("completeness_check")
    login(client, "clerk")
    page = client.get(f"/office/cases/{case.reference}").text
    offered = set(re.findall(r'/transitions/(\w+)"', page))
    assert offered == {"request_information", "complete", "reject"}


# --- four eyes, concurrency --------------------------------------------------------------


def test_two_approvers_confirming_at_once_issue_one_notice(
    app, db, clerk, approver, second_approver, case_factory
):
    case = case_factory("in_review", dangerous=True)
    engine = app.state.engine
    with unit_of_work(engine) as s:
        review.transition(s, s.merge(clerk), case.reference, "propose_approval", "", 1)

    def confirm(staff) -> str:
        try:
            with unit_of_work(engine) as s:
                review.transition(s, s.merge(staff), case.reference, "confirm_approval", "", 2)
            return "won"
        except (Conflict, TransitionRefused) as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(confirm, [approver, second_approver]))
    assert sorted(outcomes) == ["Conflict", "won"]
    assert refresh(db, case).state == "notice_issued"
    assert len(db.exec(select(Document).where(Document.kind == "notice")).all()) == 1
    assert len(db.exec(select(RegisteredDog)).all()) == 1


# --- queues ------------------------------------------------------------------------------


def queue_refs(client, **params) -> list[str]:
    page = client.get("/office/", params=params)
    assert page.status_code == 200
    return re.findall(r'<td><a href="/office/cases/([^"]+)">', page.text)


def test_queue_views(client, db, clerk, approver, case_factory, other_municipality):
    mine = case_factory("in_review", assignee=clerk, due_in=10)
    unassigned = case_factory("submitted", due_in=20)
    overdue = case_factory("completeness_check", due_in=-2)
    soon = case_factory("in_review", due_in=2)
    waiting = case_factory(
        "information_requested", due_in=-30, reply_by=today_local() + timedelta(days=5)
    )
    second = case_factory("awaiting_second_approval", assignee=approver, dangerous=True)
    closed = case_factory("closed", due_in=-100)
    foreign = case_factory("submitted", m=other_municipality)
    login(client, "clerk")
    refs = lambda **p: set(queue_refs(client, **p))  # noqa: E731
    open_cases = {c.reference for c in (mine, unassigned, overdue, soon, waiting, second)}
    assert refs() == open_cases
    assert refs(view="mine") == {mine.reference}
    assert refs(view="unassigned") == {
        unassigned.reference,
        overdue.reference,
        soon.reference,
        waiting.reference,
    }
    assert refs(view="waiting") == {waiting.reference}
    assert refs(view="overdue") == {overdue.reference}  # a paused case is never overdue
    assert refs(view="due_soon") == {soon.reference}
    assert refs(view="second_approval") == {second.reference}
    assert refs(view="all") == open_cases | {closed.reference}
    assert foreign.reference not in refs(view="all")
    # Default order: deadline first.
    assert queue_refs(client)[0] == waiting.reference  # due date furthest back
    page = client.get("/office/", params={"view": "overdue"}).text
    assert "2 Tage überfällig" in page and 'Überfällig <span class="count count-alert">(1)' in page


def test_queue_filters_and_search(client, db, clerk, approver, case_factory):
    a = case_factory(
        "in_review",
        name="Müller, Anna",
        assignee=clerk,
        chip="276098100007777",
        submitted_days_ago=40,
    )
    b = case_factory("submitted", name="Müllner, Bernd", submitted_days_ago=2)
    c = case_factory("submitted", name="Schulze, Clara", assignee=approver)
    login(client, "clerk")
    refs = lambda **p: set(queue_refs(client, **p))  # noqa: E731
    assert refs(q="Müll") == {a.reference, b.reference}
    assert refs(q="müller anna") == {a.reference}
    assert refs(q="276 0981 0000 7777") == {a.reference}
    assert refs(q=b.reference) == {b.reference}
    assert refs(state="submitted") == {b.reference, c.reference}
    assert refs(assignee=str(approver.id)) == {c.reference}
    assert refs(assignee="none") == {b.reference}
    since = (today_local() - timedelta(days=10)).isoformat()
    assert refs(submitted_from=since) == {b.reference, c.reference}
    assert refs(submitted_to=since) == {a.reference}
    assert refs(submitted_from="kaputt") == {a.reference, b.reference, c.reference}


def test_keyset_pagination_walks_forward_and_back(client, db, clerk, case_factory):
    made = [case_factory("submitted", due_in=i % 30) for i in range(120)]
    login(client, "clerk")
    seen, pages, url = [], [], "/office/?view=open"
    while url:
        page = client.get(url).text
        refs = re.findall(r'<td><a href="/office/cases/([^"]+)">', page)
        pages.append(refs)
        seen += refs
        nxt = re.search(r'href="(/office/\?[^"]+)">Nächste Seite', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert [len(p) for p in pages] == [50, 50, 20]
    assert sorted(seen) == sorted(c.reference for c in made)  # each once, none missing
    due = {c.reference: (c.due_date, c.id) for c in made}
    assert seen == sorted(seen, key=lambda r: due[r])
    prev = re.search(r'href="(/office/\?[^"]+)">Vorherige Seite', page).group(1)
    back = client.get(prev.replace("&amp;", "&")).text
    assert re.findall(r'<td><a href="/office/cases/([^"]+)">', back) == pages[1]


def test_tampered_cursor_is_harmless(client, clerk, case_factory):
    case_factory("submitted")
    login(client, "clerk")
    for cursor in ("%%%", "bm9wZQ", "W1siYSJdLCAiYiJd"):
        assert client.get("/office/", params={"after": cursor}).status_code == 200


# --- claim, assign, release ----------------------------------------------------------------


def test_claim_assign_release(client, db, clerk, approver, foreign_clerk, case_factory):
    case = case_factory("submitted")
    login(client, "clerk")
    token = csrf_of(client.get("/office/").text)
    r = client.post(f"/office/cases/{case.reference}/claim", data={"csrf_token": token})
    assert r.status_code == 200 and "übernommen" in r.text
    assert refresh(db, case).assignee_id == clerk.id
    client.cookies.clear()
    login(client, "approver")
    token = csrf_of(client.get("/office/").text)
    r = client.post(f"/office/cases/{case.reference}/claim", data={"csrf_token": token})
    assert r.status_code == 409 and "hat inzwischen Petra Schulze übernommen" in r.text
    r = client.post(
        f"/office/cases/{case.reference}/assign",
        data={"csrf_token": token, "assignee_id": str(foreign_clerk.id)},
    )
    assert r.status_code == 404  # not a colleague of this municipality
    r = client.post(
        f"/office/cases/{case.reference}/assign",
        data={"csrf_token": token, "assignee_id": str(approver.id)},
    )
    assert r.status_code == 200 and refresh(db, case).assignee_id == approver.id
    client.cookies.clear()
    login(client, "clerk")
    token = csrf_of(client.get("/office/").text)
    r = client.post(f"/office/cases/{case.reference}/release", data={"csrf_token": token})
    assert r.status_code == 403  # not the holder
    actions = [
        e.action
        for e in db.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.action.in_(["claim", "assign", "release"])
            )
        )
    ]
    assert actions == ["claim", "assign"]


# --- the statutory clock and reminders ---------------------------------------------------


def test_clock_pauses_while_waiting_for_the_citizen(client, db, clerk):
    confirmation = file_registration(client)
    reference = reference_of(confirmation.text)
    status = status_path(confirmation.text)
    citizen = client.cookies.get("amtsweg_session")
    case = db.exec(select(Case)).one()
    due_before = case.due_date
    assert due_before == today_local() + timedelta(days=WF.processing_days)
    login(client, "clerk")
    act(client, reference, "start_check")
    act(client, reference, "request_information", comment="Bitte Heimtierausweis nachreichen.")
    case = refresh(db, case)
    assert case.state == "information_requested" and case.paused_since is not None
    assert case.reply_by == today_local() + timedelta(days=14)
    page = client.get(f"/office/cases/{reference}").text
    assert "pausiert" in page
    # Six days pass while the citizen looks for the document.
    case.paused_since = utcnow() - timedelta(days=6)
    db.add(case)
    db.commit()
    client.cookies.clear()
    client.cookies.set("amtsweg_session", citizen)
    page = client.get(status)
    client.post(
        f"{status}/answer", data={"csrf_token": csrf_of(page.text), "answer_text": "Anbei."}
    )
    case = refresh(db, case)
    assert case.state == "answer_received" and case.paused_since is None
    assert case.paused_days == 6 and case.due_date == due_before + timedelta(days=6)


def test_overdue_reply_raises_one_reminder(app, db, case_factory):
    from services.review.service import Links, send_reply_reminders

    late = case_factory("information_requested", reply_by=today_local() - timedelta(days=1))
    case_factory("information_requested", reply_by=today_local() + timedelta(days=3))
    links = Links("http://testserver", app.state.settings.secret_key)
    assert send_reply_reminders(db, links) == 1
    db.commit()
    mail = db.exec(select(OutboxMessage)).one()
    assert mail.kind == "reply_reminder" and late.reference in mail.subject
    assert "/status/" in mail.body
    event = db.exec(select(CaseEvent).where(CaseEvent.action == "reply_reminder")).one()
    assert event.public and event.case_id == late.id
    assert send_reply_reminders(db, links) == 0  # once only


# --- withdrawal --------------------------------------------------------------------------


def test_citizen_withdraws_before_the_decision(client, db, clerk):
    confirmation = file_registration(client)
    status = status_path(confirmation.text)
    page = client.get(status)
    assert "Antrag zurückziehen" in page.text
    form = client.get(f"{status}/withdraw")
    r = client.post(
        f"{status}/withdraw",
        data={"csrf_token": csrf_of(form.text), "reason": "Hund doch nicht übernommen."},
    )
    assert r.status_code == 200 and "Zurückgezogen" in r.text
    case = db.exec(select(Case)).one()
    assert case.state == "withdrawn" and not case.is_open
    assert "Antrag zurückziehen" not in client.get(status).text
    r = client.post(f"{status}/withdraw", data={"csrf_token": csrf_of(form.text)})
    assert r.status_code == 409 and "kann nicht mehr zurückgezogen werden" in r.text


# --- sessions and CLI --------------------------------------------------------------------


def test_idle_session_times_out(client, clerk, monkeypatch):
    import services.web.deps as deps

    login(client, "clerk")
    assert client.get("/office/").status_code == 200
    real = deps.time.time
    monkeypatch.setattr(deps.time, "time", lambda: real() + 31 * 60)
    r = client.get("/office/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/office/login")


def test_logout_ends_the_session(client, clerk):
    login(client, "clerk")
    page = client.get("/office/")
    client.post("/office/logout", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/office/", follow_redirects=False).status_code == 303


def test_cli_users_and_audit_verify(settings, db, municipality, case_factory, monkeypatch):
    from services.cli import app as cli
    from services.config import get_settings

    monkeypatch.setenv("AMTSWEG_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        r = runner.invoke(
            cli,
            [
                "users",
                "create",
                "neu",
                "--name",
                "Nina Neu",
                "--municipality",
                municipality.slug,
                "--role",
                "clerk",
                "--password",
                "ein-langes-passwort",
            ],
        )
        assert r.exit_code == 0, r.output
        r = runner.invoke(
            cli,
            [
                "users",
                "create",
                "kurz",
                "--name",
                "K",
                "--municipality",
                municipality.slug,
                "--role",
                "clerk",
                "--password",
                "kurz",
            ],
        )
        assert r.exit_code == 1 and "at least 12 characters" in r.output
        assert runner.invoke(cli, ["users", "disable", "neu"]).exit_code == 0
        case = case_factory("in_review")
        assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0
        event = db.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.seq == 2)
        ).one()
        event.actor_name = "Jemand anderes"
        db.add(event)
        db.commit()
        r = runner.invoke(cli, ["audit", "verify"])
        assert r.exit_code == 1
        assert f"case {case.id}, event 2" in r.output
    finally:
        get_settings.cache_clear()


def test_cli_creates_a_municipality_with_its_procedures(settings, db, monkeypatch):
    from services.cli import app as cli
    from services.config import get_settings
    from services.municipalities.models import Municipality
    from services.procedures.models import ProcedureVersion

    monkeypatch.setenv("AMTSWEG_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        args = [
            "municipalities",
            "create",
            "uebigau-wahrenbrueck",
            "--name",
            "Stadt Uebigau-Wahrenbrück",
            "--department",
            "Kämmerei",
            "--street",
            "Markt 1",
            "--postal-code",
            "04938",
            "--town",
            "Uebigau-Wahrenbrück",
        ]
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
        assert CliRunner().invoke(cli, args).exit_code == 1  # exists already
        m = db.exec(select(Municipality).where(Municipality.slug == "uebigau-wahrenbrueck")).one()
        versions = db.exec(
            select(ProcedureVersion).where(ProcedureVersion.municipality_id == m.id)
        ).all()
        assert {(v.procedure_id, v.version, v.status) for v in versions} == {
            ("dog_registration", 1, "published"),
            ("dog_deregistration", 1, "published"),
        }
    finally:
        get_settings.cache_clear()
