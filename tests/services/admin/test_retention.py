"""Retention of closed cases: evidence deleted and personal data anonymised when due,
never for open cases or dogs still taxed; chains stay verifiable; CLI with dry run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from services import retention
from services.audit.models import AdminEvent, CaseEvent
from services.audit.service import verify
from services.cases.models import Case, Document, RegisteredDog
from services.mail.models import OutboxMessage
from services.procedures.registry import Retention
from services.timeutil import utcnow
from services.uploads.models import Upload
from tests.conftest import PDF, login

TODAY = date.today()


def age(db, case: Case, days: int) -> Case:
    """Pretend the case was decided ``days`` ago."""
    case.decided_at = case.updated_at = utcnow() - timedelta(days=days)
    db.add(case)
    db.commit()
    return case


def attach(db, case: Case, dog_until: str | None = "none") -> None:
    """An upload, a notice, a sent mail and (optionally) a register entry for the case."""
    m_id = case.municipality_id
    db.add(
        Upload(
            municipality_id=m_id,
            case_id=case.id,
            slot="evidence_shelter",
            filename="vertrag.pdf",
            media_type="application/pdf",
            size=len(PDF),
            sha256="0" * 64,
            scan_status="clean",
            content=PDF,
        )
    )
    db.add(
        Document(
            case_id=case.id,
            municipality_id=m_id,
            kind="notice",
            filename="bescheid.pdf",
            size=len(PDF),
            sha256="1" * 64,
            template="dog_registration_notice.html",
            content=PDF,
        )
    )
    db.add(
        OutboxMessage(
            municipality_id=m_id,
            case_id=case.id,
            kind="filed",
            to_address="erika@example.org",
            subject="Ihr Antrag",
            body="Guten Tag Frau Mustermann",
            status="sent",
        )
    )
    if dog_until != "none":
        db.add(
            RegisteredDog(
                municipality_id=m_id,
                case_id=case.id,
                owner_key="mustermann|erika|1980-08-12",
                chip_number=case.chip_number,
                dog_name="Bello",
                tag_number=f"2015-{case.id:04d}",
                liable_from="2015-06-01",
                liable_until=dog_until,
            )
        )
    db.commit()


def count(db, model, case: Case) -> int:
    return len(db.exec(select(model).where(model.case_id == case.id)).all())


def test_old_closed_case_is_anonymised_and_its_files_go(db, case_factory):
    case = age(db, case_factory("closed", name="Müller, Anna"), 11 * 365)
    ended = (TODAY - timedelta(days=11 * 365)).isoformat()
    attach(db, case, dog_until=ended)
    report = retention.run(db, TODAY)
    db.commit()
    assert (report.cases_anonymised, report.uploads_deleted, report.documents_deleted) == (1, 1, 1)
    assert report.messages_deleted == 1 and report.dogs_anonymised == 1
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.owner_name == case.search_name == "anonymisiert" and case.chip_number is None
    text = str(case.answers)
    for personal in ("Müller", "Anna", "Torgauer", "1980", "DE89", "erika@", "Bello", "2760"):
        assert personal not in text, personal
    assert case.answers["_anonymised"] == {"on": TODAY.isoformat()}
    assert case.answers["declared_dangerous"] is False and "intake_date" in case.answers
    assert case.state == "closed" and case.reference.startswith("HST-")
    assert (
        count(db, Upload, case) == count(db, Document, case) == count(db, OutboxMessage, case) == 0
    )
    dog = db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).one()
    assert (dog.owner_key, dog.chip_number, dog.dog_name) == ("", "", "")
    assert dog.tag_number.startswith("2015-") and dog.liable_until == ended
    event = db.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).first()
    assert (event.action, event.actor_name, event.actor_kind) == ("retention", "System", "system")
    assert event.data["anonymised"] is True and event.data["documents_deleted"] == 1
    admin_event = db.exec(select(AdminEvent)).one()
    assert admin_event.action == "retention_run" and admin_event.after["cases_anonymised"] == 1
    assert verify(db)[1] == []
    # A second run finds nothing left to do.
    again = retention.run(db, TODAY)
    assert again.cases_anonymised == again.uploads_deleted == 0


def test_recent_open_and_still_liable_cases_are_kept(db, case_factory):
    recent = age(db, case_factory("rejected"), 30)
    attach(db, recent)
    open_case = case_factory("in_review", submitted_days_ago=4000)
    open_case.updated_at = utcnow() - timedelta(days=4000)
    db.add(open_case)
    db.commit()
    attach(db, open_case)
    liable = age(db, case_factory("closed"), 12 * 365)
    attach(db, liable, dog_until=None)  # the dog is still taxed
    report = retention.run(db, TODAY)
    db.commit()
    assert report.cases_anonymised == report.uploads_deleted == 0
    assert report.kept_still_liable == 1 and report.cases_checked == 2
    for case in (recent, open_case, liable):
        db.refresh(case)
        assert case.owner_name == "Mustermann, Erika" and count(db, Upload, case) == 1
    assert db.exec(select(AdminEvent)).first() is None


def test_liability_end_starts_the_clock(db, case_factory):
    case = age(db, case_factory("closed"), 12 * 365)
    attach(db, case, dog_until=(TODAY - timedelta(days=100)).isoformat())
    assert retention.run(db, TODAY).cases_anonymised == 0
    assert retention.run(db, TODAY + timedelta(days=3650)).cases_anonymised == 1


def test_files_can_go_before_the_personal_data(db, case_factory, monkeypatch):
    monkeypatch.setattr(
        retention,
        "_retention_of",
        lambda case: Retention(anonymise_after_days=3650, delete_files_after_days=365),
    )
    case = age(db, case_factory("rejected"), 400)
    attach(db, case)
    report = retention.run(db, TODAY)
    db.commit()
    assert (report.cases_files_deleted, report.uploads_deleted, report.cases_anonymised) == (
        1,
        1,
        0,
    )
    db.refresh(case)
    assert case.owner_name == "Mustermann, Erika"
    assert count(db, Upload, case) == 0 and count(db, Document, case) == 1
    event = db.exec(select(CaseEvent).where(CaseEvent.action == "retention")).one()
    assert event.data == {"anonymised": False, "uploads_deleted": 1}
    assert retention.run(db, TODAY).cases_files_deleted == 0
    assert verify(db)[1] == []


def test_anonymised_case_page_still_opens_for_its_clerk_only(
    client, db, case_factory, clerk, foreign_clerk
):
    case = age(db, case_factory("closed", name="Schmidt, Karl"), 11 * 365)
    retention.run(db, TODAY)
    db.commit()
    login(client, "clerk")
    r = client.get(f"/office/cases/{case.reference}")
    assert r.status_code == 200 and "anonymisiert" in r.text and "Schmidt" not in r.text
    client.cookies.clear()
    login(client, "foreign")
    assert client.get(f"/office/cases/{case.reference}").status_code == 404


@pytest.fixture
def cli(settings, monkeypatch):
    from services.cli import app
    from services.config import get_settings

    monkeypatch.setenv("AMTSWEG_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


def test_cli_dry_run_changes_nothing_then_run_does(cli, db, case_factory):
    case = age(db, case_factory("withdrawn"), 11 * 365)
    attach(db, case)
    r = cli("retention", "run", "--dry-run")
    assert r.exit_code == 0, r.output
    assert (
        "dry run" in r.output and "Vorgänge anonymisiert" in r.output and case.reference in r.output
    )
    db.expire_all()
    assert db.get(Case, case.id).owner_name == "Mustermann, Erika"
    assert db.exec(select(AdminEvent)).first() is None
    r = cli("retention", "run")
    assert r.exit_code == 0 and case.reference in r.output
    db.expire_all()
    assert db.get(Case, case.id).owner_name == "anonymisiert"
    assert cli("retention", "run", "--today", "gestern").exit_code == 2
    r = cli("audit", "verify")
    assert r.exit_code == 0 and "0 broken" in r.output
