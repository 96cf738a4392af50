"""Procedure kinds with code declare the answers their rules read (``ANSWERS``): the rules
run on a case that has only those answers, and the built-in forms ask every one of them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from services.annual import service as annual
from services.cases.models import Case, RegisteredDog
from services.procedures import dog_deregistration, dog_registration, registry, versions
from services.procedures.registry import get
from services.timeutil import today_local, utcnow


def only_declared(answers: dict, module) -> dict:
    return {k: v for k, v in answers.items() if k in module.ANSWERS}


@pytest.mark.parametrize("proc", registry.all_procedures(), ids=lambda p: p.id)
def test_built_in_forms_ask_every_declared_answer(proc):
    assert proc.module.ANSWERS
    assert versions.missing_answers(proc) == []


def test_the_rules_run_on_the_declared_answers_alone(db, case_factory, clerk):
    # Registration: the notice (tax, tag, register) and the yearly run.
    case = case_factory("approved")
    case.answers = only_declared(case.answers, dog_registration)
    db.add(case)
    db.commit()
    dog_registration.facts(case.answers)
    notice = dog_registration.issue_notice(db, case, clerk, notice_date=date(2026, 6, 9))
    assert notice.meta["total"] == "21.00"  # Jun–Dec 7 × 3.00
    dog = db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).one()
    year = today_local().year + 1
    assert annual.prepare(db, dog, year, date(year - 1, 12, 1)).assessment.total > 0
    db.commit()

    # Deregistration of that dog, from a case with only its declared answers.
    proc = get("dog_deregistration")
    answers = {
        **{k: v for k, v in case.answers.items() if k in dog_deregistration.ANSWERS},
        "tag_number": dog.tag_number,
        "chip_number": dog.chip_number,
        "reason": "died",
        "event_date": "2026-09-10",
        "tag_return": "handed_in",
        "evidence_vet": [{"id": 1, "filename": "tierarzt.pdf"}],
    }
    dereg = Case(
        municipality_id=case.municipality_id,
        procedure_id=proc.id,
        procedure_version=proc.version,
        reference="HST-AB-2026-000001",
        file_number="20.2-HSt-AB-000001",
        state="in_review",
        answers=only_declared(answers, dog_deregistration),
        status_token_hash="f" * 64,
        submission_key="k" * 64,
        owner_name="Mustermann, Erika",
        submitted_at=utcnow(),
        due_date=today_local(),
    )
    db.add(dereg)
    db.commit()
    dog_deregistration.facts(dereg.answers)
    final = dog_deregistration.issue_notice(db, dereg, clerk, notice_date=today_local())
    assert final.meta["registered_dog_id"] == dog.id and final.meta["liable_until"]
