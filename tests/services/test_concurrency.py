"""Real concurrent requests against the service layer, on SQLite and PostgreSQL: a double
submit files one case, parallel filings get distinct numbers, two clerks acting on one case
at once get exactly one winner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlmodel import select

from forms import validate
from services.cases import service as cases
from services.cases.models import Case
from services.db import unit_of_work
from services.errors import Conflict
from services.procedures import registry
from services.review import service as review
from tests.conftest import answers

SECRET = "s" * 40


def valid_answers(chip: str = "276098100001234") -> dict:
    flat = {k: v for step in answers(chip_number=chip).values() for k, v in step.items()}
    clean, errors = validate(registry.get("dog_registration").form, flat, today=date.today())
    assert errors == []
    return clean


def ready_draft(engine, municipality, chip: str = "276098100001234") -> str:
    with unit_of_work(engine) as db:
        draft, token = cases.start_draft(db, municipality, registry.get("dog_registration"), 30)
        draft.answers = valid_answers(chip)
        db.add(draft)
    return token


def submit(engine, municipality, token: str) -> str:
    with unit_of_work(engine) as db:
        return cases.submit(db, municipality, token, SECRET).case.reference


def test_concurrent_submits_of_one_draft_file_one_case(app, db, municipality):
    engine = app.state.engine
    token = ready_draft(engine, municipality)
    with ThreadPoolExecutor(max_workers=4) as pool:
        references = list(pool.map(lambda _: submit(engine, municipality, token), range(4)))
    assert len(set(references)) == 1
    assert len(db.exec(select(Case)).all()) == 1


def test_parallel_filings_get_distinct_consecutive_numbers(app, db, municipality):
    engine = app.state.engine
    tokens = [ready_draft(engine, municipality, f"2760981000{i:05d}") for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        references = list(pool.map(lambda t: submit(engine, municipality, t), tokens))
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    assert numbers == [1, 2, 3, 4, 5, 6]


def test_two_clerks_acting_at_once_exactly_one_wins(app, db, clerk, approver):
    engine = app.state.engine
    municipality_id = clerk.municipality_id
    from services.municipalities.models import Municipality

    m = db.get(Municipality, municipality_id)
    reference = submit(engine, m, ready_draft(engine, m))

    def start_check(staff) -> str:
        try:
            with unit_of_work(engine) as s:
                review.transition(s, s.merge(staff), reference, "start_check", "", 1)
            return "won"
        except Conflict as exc:
            return exc.message.de

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(start_check, [clerk, approver]))
    assert outcomes.count("won") == 1
    loser = next(o for o in outcomes if o != "won")
    assert "wurde inzwischen von" in loser and "geändert" in loser
    case = db.exec(select(Case)).one()
    db.refresh(case)
    assert case.state == "completeness_check" and case.version == 2


def test_simultaneous_approvals_get_distinct_tag_numbers(app, db, clerk, approver, case_factory):
    from services.cases.models import RegisteredDog

    engine = app.state.engine
    cases = [case_factory("in_review", name=f"Halter{i}, Eva") for i in range(4)]

    def approve(pair) -> str:
        staff, case = pair
        with unit_of_work(engine) as s:
            review.transition(s, s.merge(staff), case.reference, "approve", "", case.version)
        return case.reference

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(approve, zip([clerk, approver] * 2, cases, strict=True)))
    assert sorted(done) == sorted(c.reference for c in cases)
    tags = [d.tag_number for d in db.exec(select(RegisteredDog)).all()]
    assert len(tags) == 4 and len(set(tags)) == 4
