"""The yearly run: annual notices for every registered dog with next year's new rates.

Register used by most tests (new rates for YEAR: 40 / 54 / 66 €, dangerous 200 €, by count;
the demo's earlier years: 36 / 48 / 60 €, dangerous 180 €):

* Bello (Erika Mustermann), only dog:           12 × 40/12 = 40.00 €, 4 × 10.00 €
* Rex and Luna (Anna Müller), two dogs:          12 × 54/12 = 54.00 € each, 4 × 13.50 €
* Hasso (Karl Schmidt), dangerous:               12 × 200/12 = 200.00 €, 4 × 50.00 €
* Mia (Lena Weber), shelter dog, 50 % for 36 months from 01.02.2026 (until 01/2029):
                                                 12 × 40/12 × 50 % = 20.00 €, 4 × 5.00 €
* Struppi (Otto Lehmann), deregistered to 30.09.2026: not in the run.
"""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from typer.testing import CliRunner

from services.annual import runner, service
from services.annual.cli import notices_app
from services.annual.models import NoticeRun, NoticeRunItem
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases.models import Document, RegisteredDog
from services.errors import ConfigurationMissing
from services.municipalities.models import DogTaxRateTable
from services.procedures import dog_registration as registration
from services.timeutil import today_local
from tests.conftest import login

YEAR = today_local().year + 1
NOTICE_DATE = date(YEAR - 1, 12, 1)
EXPECTED = {
    "Bello": Decimal("40.00"),
    "Rex": Decimal("54.00"),
    "Luna": Decimal("54.00"),
    "Hasso": Decimal("200.00"),
    "Mia": Decimal("20.00"),
}


def _new_rates(db, m) -> None:
    table = db.exec(
        select(DogTaxRateTable).where(
            DogTaxRateTable.municipality_id == m.id, DogTaxRateTable.year == YEAR
        )
    ).one()
    table.data = {
        **table.data,
        "rates": ["40.00", "54.00", "66.00"],
        "dangerous_rate": "200.00",
    }
    db.add(table)
    db.commit()


@pytest.fixture
def register(db, municipality, case_factory):
    """The register described in the module docstring; returns {dog name: RegisteredDog}."""
    _new_rates(db, municipality)
    dogs = {}

    def add(dog_name, keeper, liable_from, *, dangerous=False, until=None, shelter=False):
        case = case_factory("notice_issued", dangerous=dangerous, name=keeper)
        answers = {**case.answers, "dog_name": dog_name}
        if shelter:
            answers.update(reduction_requested=True, reduction_reason="shelter_dog")
            audit.record(
                db,
                case_id=case.id,
                municipality_id=municipality.id,
                actor_kind="staff",
                actor_id=None,
                actor_name="Test",
                action="approve",
                data={"reduction": {"granted": True, "reason": ""}},
            )
        case.answers = answers
        db.add(case)
        dog = RegisteredDog(
            municipality_id=municipality.id,
            case_id=case.id,
            owner_key=registration.owner_key(answers),
            chip_number=answers["chip_number"],
            dog_name=dog_name,
            tag_number=f"{liable_from[:4]}-{len(dogs) + 1:04d}",
            liable_from=liable_from,
            liable_until=until,
            dangerous=dangerous,
        )
        db.add(dog)
        db.commit()
        dogs[dog_name] = dog

    add("Bello", "Mustermann, Erika", f"{YEAR - 1}-06-01")
    add("Rex", "Müller, Anna", f"{YEAR - 2}-03-01")
    add("Luna", "Müller, Anna", f"{YEAR - 1}-04-01")
    add("Hasso", "Schmidt, Karl", f"{YEAR - 1}-08-01", dangerous=True)
    add("Mia", "Weber, Lena", f"{YEAR - 1}-02-01", shelter=True)
    add("Struppi", "Lehmann, Otto", f"{YEAR - 2}-05-01", until=f"{YEAR - 1}-09-30")
    return dogs


def run_inline(db, engine, m, year=YEAR, limit=None) -> service.Plan:
    """Plan (or continue) and issue in this process, like one worker would."""
    plan = service.plan(db, m, year, "test")
    db.commit()
    for dog_id in plan.pending[:limit]:
        service.issue_one(engine, plan.run.id, dog_id, NOTICE_DATE)
    return plan


def annual_docs(db) -> list[Document]:
    db.expire_all()
    return list(db.exec(select(Document).where(Document.kind == "annual_notice")))


def notices_per_dog(db) -> dict[str, int]:
    rows = db.exec(
        select(RegisteredDog.dog_name, func.count(Document.id))
        .join(Document, Document.case_id == RegisteredDog.case_id)
        .where(Document.kind == "annual_notice")
        .group_by(RegisteredDog.dog_name)
    ).all()
    return dict(rows)


def test_run_issues_one_notice_per_liable_dog_with_the_new_rates(app, db, municipality, register):
    plan = run_inline(db, app.state.engine, municipality)

    assert plan.run.planned == 5  # Struppi ended before the year
    docs = annual_docs(db)
    assert len(docs) == 5
    by_dog = {d.meta["registered_dog_id"]: d for d in docs}
    for name, total in EXPECTED.items():
        doc = by_dog[register[name].id]
        assert Decimal(doc.meta["total"]) == total, name
        assert doc.public and doc.template == "annual_notice.html" and doc.template_version == 1
        assert doc.meta["year"] == YEAR
        periods = doc.meta["assessment"]["periods"]
        assert [p["year"] for p in periods] == [YEAR]
        assert sum(p["months"] for p in periods) == 12
    assert register["Struppi"].id not in by_dog
    rex = by_dog[register["Rex"].id].meta["assessment"]
    assert [i["amount"] for i in rex["instalments"]] == ["13.50"] * 4
    assert by_dog[register["Mia"].id].meta["assessment"]["reduction_percent"] == "50"

    db.expire_all()
    run = db.get(NoticeRun, plan.run.id)
    service.finish(db, run.id, "finished")
    db.commit()
    assert (run.issued, run.failed, run.status) == (5, 0, "finished")
    # The case history shows the notice, publicly (status page).
    event = db.exec(
        select(CaseEvent).where(
            CaseEvent.case_id == register["Bello"].case_id, CaseEvent.action == "annual_notice"
        )
    ).one()
    assert event.public and event.data["year"] == YEAR


def test_annual_notice_reads_back_with_text_and_embedded_data(app, db, municipality, register):
    run_inline(db, app.state.engine, municipality)
    doc = next(d for d in annual_docs(db) if d.meta["registered_dog_id"] == register["Bello"].id)
    reader = PdfReader(io.BytesIO(doc.content))
    text = " ".join(page.extract_text() for page in reader.pages).replace("\u2010", "")
    text = " ".join(text.replace("-\n", "").split())
    assert f"Bescheid über die Festsetzung der Hundesteuer für {YEAR}" in text
    assert "zugleich Dauerbescheid" in text
    assert "40,00 €" in text and "10,00 €" in text
    assert f"01.01.{YEAR} – 31.12.{YEAR}" in text
    assert "Widerspruch" in text and "Rechtsbehelfsbelehrung" in text
    assert "neu festgelegt" in text and "bisher 36,00 €" in text  # the reasons: new rates
    assert "Bello" in text and "Mustermann" in text

    (name,) = reader.attachments
    data = json.loads(reader.attachments[name][0])
    assert data["template"] == {"name": "annual_notice.html", "version": 1}
    assert data["year"] == YEAR
    assert data["rate_table"]["rates"] == ["40.00", "54.00", "66.00"]
    assert data["assessment"]["total"] == "40.00"
    assert "iban" not in data["case"]["answers"]


def test_run_resumes_after_an_interruption_without_issuing_twice(app, db, municipality, register):
    first = run_inline(db, app.state.engine, municipality, limit=2)  # then "interrupted"
    service.finish(db, first.run.id, "interrupted")
    db.commit()
    assert len(annual_docs(db)) == 2

    second = run_inline(db, app.state.engine, municipality)

    assert second.resumed and second.run.id == first.run.id
    assert second.already_issued == 2 and len(second.pending) == 3
    assert notices_per_dog(db) == dict.fromkeys(EXPECTED, 1)
    db.expire_all()
    assert db.get(NoticeRun, first.run.id).attempts == 2
    # Issuing a dog again is a no-op.
    assert service.issue_one(app.state.engine, first.run.id, register["Rex"].id).outcome == (
        "skipped"
    )
    assert len(annual_docs(db)) == 5


def test_a_racing_process_that_loses_rolls_its_document_back(
    app, db, municipality, register, monkeypatch
):
    plan = run_inline(db, app.state.engine, municipality, limit=0)
    dog_id = register["Bello"].id
    original = registration.store_notice

    def other_process_was_faster(session, *args, **kwargs):
        # After our check found no item, another process issues the dog while we render.
        with Session(app.state.engine) as other:
            other.add(
                NoticeRunItem(
                    run_id=plan.run.id,
                    municipality_id=municipality.id,
                    registered_dog_id=dog_id,
                    status="issued",
                )
            )
            other.commit()
        return original(session, *args, **kwargs)  # renders, then stores our document

    monkeypatch.setattr(registration, "store_notice", other_process_was_faster)
    result = service.issue_one(app.state.engine, plan.run.id, dog_id, NOTICE_DATE)

    assert result.outcome == "skipped"
    assert annual_docs(db) == []  # our document went with our transaction
    with pytest.raises(IntegrityError), Session(app.state.engine) as s:
        s.add(
            NoticeRunItem(
                run_id=plan.run.id,
                municipality_id=municipality.id,
                registered_dog_id=dog_id,
                status="issued",
            )
        )
        s.commit()


def test_missing_rate_table_is_refused_before_anything_is_issued(db, municipality, register):
    with pytest.raises(ConfigurationMissing) as exc:
        service.plan(db, municipality, YEAR + 1)  # no rates for the year after
    assert "keine Hundesteuer-Satztabelle" in exc.value.message.de
    assert f"Steuersätze für {YEAR + 1} eintragen" in exc.value.message.de
    assert f"rates for {YEAR + 1}" in exc.value.message.en
    db.rollback()
    assert db.exec(select(NoticeRun)).all() == [] and annual_docs(db) == []


def test_missing_bank_details_are_refused_before_anything_is_issued(
    db, municipality, register, settings, monkeypatch
):
    municipality.iban = ""
    municipality.creditor_id = ""
    db.add(municipality)
    db.commit()
    with pytest.raises(ConfigurationMissing) as exc:
        service.plan(db, municipality, YEAR)
    assert "Bankangaben (IBAN, Gläubiger-ID)" in exc.value.message.de
    db.rollback()

    monkeypatch.setattr(
        "services.annual.cli.get_settings",
        lambda: SimpleNamespace(database_url=settings.database_url),
    )
    result = CliRunner().invoke(notices_app, ["annual", "--year", str(YEAR), "--workers", "1"])
    assert result.exit_code == 1
    assert "Bankangaben" in result.output and "IBAN" in result.output
    assert db.exec(select(NoticeRun)).all() == [] and annual_docs(db) == []


def test_a_dog_that_cannot_be_assessed_fails_with_a_reason_and_is_retried(
    app, db, municipality, register
):
    table = db.exec(
        select(DogTaxRateTable).where(
            DogTaxRateTable.municipality_id == municipality.id,
            DogTaxRateTable.year == YEAR - 1,
        )
    ).one()
    rules = table.data
    table.data = {**rules, "reductions": {}}  # the shelter rule Mia's reduction needs
    db.add(table)
    db.commit()
    plan = run_inline(db, app.state.engine, municipality)
    db.expire_all()
    failed = db.exec(select(NoticeRunItem).where(NoticeRunItem.status == "failed")).one()
    assert failed.registered_dog_id == register["Mia"].id
    assert "Ermäßigungsgrund" in failed.error and "shelter_dog" in failed.error
    assert len(annual_docs(db)) == 4

    table.data = rules  # the administrator fixes the rule; the run is started again
    db.add(table)
    db.commit()
    again = run_inline(db, app.state.engine, municipality)
    assert again.pending == [register["Mia"].id] and again.run.id == plan.run.id
    assert notices_per_dog(db) == dict.fromkeys(EXPECTED, 1)
    db.expire_all()
    item = db.exec(
        select(NoticeRunItem).where(NoticeRunItem.registered_dog_id == register["Mia"].id)
    ).one()
    assert item.status == "issued" and item.error == "" and item.document_id


def test_office_shows_the_runs_of_the_own_municipality_only(
    app, client, db, municipality, other_municipality, register, clerk
):
    plan = run_inline(db, app.state.engine, municipality)
    item = db.exec(
        select(NoticeRunItem).where(NoticeRunItem.registered_dog_id == register["Hasso"].id)
    ).one()
    item.status, item.error = "failed", "Für Testzwecke nicht erstellt"
    db.add(item)
    service.finish(db, plan.run.id, "finished")
    db.add(NoticeRun(municipality_id=other_municipality.id, year=2031, status="failed"))
    db.commit()

    login(client, "clerk")
    page = client.get("/office/runs")

    assert page.status_code == 200
    assert "Jahresbescheide" in page.text and 'href="/office/runs"' in page.text
    assert f'<th scope="row">{YEAR}</th>' in page.text
    assert "abgeschlossen" in page.text
    assert '<td class="num">5</td>' in page.text and '<td class="num">4</td>' in page.text
    assert "Für Testzwecke nicht erstellt" in page.text and "Hasso" in page.text
    assert "2031" not in page.text  # another municipality's run


def test_office_runs_page_needs_a_login(client):
    r = client.get("/office/runs", follow_redirects=False)
    assert r.status_code == 303 and "/office/login" in r.headers["location"]


def _cli(settings, monkeypatch, *args):
    monkeypatch.setattr(
        "services.annual.cli.get_settings",
        lambda: SimpleNamespace(database_url=settings.database_url),
    )
    return CliRunner().invoke(notices_app, ["annual", "--year", str(YEAR), *args])


def test_cli_issues_the_run_with_one_worker_and_again_skips_everything(
    db, municipality, register, settings, monkeypatch
):
    result = _cli(settings, monkeypatch, "--municipality", municipality.slug, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "Issued" in result.output and "finished" in result.output
    assert notices_per_dog(db) == dict.fromkeys(EXPECTED, 1)

    again = _cli(settings, monkeypatch, "--workers", "1")
    assert again.exit_code == 0, again.output
    assert "Continuing the run" in again.output
    assert notices_per_dog(db) == dict.fromkeys(EXPECTED, 1)
    db.expire_all()
    run = db.exec(select(NoticeRun)).one()
    assert (run.status, run.issued, run.skipped, run.attempts) == ("finished", 5, 5, 2)


def test_two_workers_share_the_run_and_an_interruption_resumes(
    app, db, municipality, register, settings
):
    ticks = []

    def interrupt_after_first(n):
        ticks.append(n)
        raise KeyboardInterrupt

    with runner.pool(settings.database_url, 2, batch=1) as p:
        first = runner.run_year(
            app.state.engine, p, municipality, YEAR, on_progress=interrupt_after_first
        )
        assert first.status == "interrupted"
        assert 1 <= first.issued < 5
        db.expire_all()
        assert db.get(NoticeRun, first.run_id).status == "interrupted"

        second = runner.run_year(app.state.engine, p, municipality, YEAR)

    assert second.status == "finished" and second.run_id == first.run_id
    assert second.skipped == first.issued and second.issued == 5 - first.issued
    assert notices_per_dog(db) == dict.fromkeys(EXPECTED, 1)


def test_workers_are_replaced_after_their_share_of_notices(
    app, db, municipality, register, settings
):
    """Recycling (WeasyPrint keeps a little memory per render) loses and repeats nothing."""
    with runner.pool(settings.database_url, 1, batch=3, recycle_after=3) as p:
        summary = runner.run_year(app.state.engine, p, municipality, YEAR)

        assert p.recycled == 1  # 3 notices, then a fresh worker for the other 2
    assert summary.status == "finished" and summary.issued == 5 and not summary.failed
    assert summary.max_worker_rss > 0
    assert notices_per_dog(db) == dict.fromkeys(EXPECTED, 1)


def test_the_yearly_run_and_a_change_notice_agree_on_a_mixed_household(
    db, municipality, case_factory, clerk
):
    """Karl keeps an ordinary dog (Bello), a dangerous one (Hasso) and an exempt one (Mia);
    neither of the latter two counts (demo rule), so Bello is the first dog (36 €) until a
    second ordinary dog (Luna) arrives in July: the yearly run and the change notice for
    Luna's arrival bill Bello alike."""
    dogs = {}
    for name, flags in (("Bello", {}), ("Hasso", {"dangerous": True}), ("Mia", {"exempt": True})):
        case = case_factory("notice_issued", name="Schmidt, Karl", dangerous=name == "Hasso")
        dogs[name] = RegisteredDog(
            municipality_id=municipality.id,
            case_id=case.id,
            owner_key=registration.owner_key(case.answers),
            chip_number=case.answers["chip_number"],
            dog_name=name,
            tag_number=f"{YEAR - 1}-{len(dogs) + 1:04d}",
            liable_from=f"{YEAR - 1}-06-01",
            **flags,
        )
        db.add(dogs[name])
    luna_case = case_factory("notice_issued", name="Schmidt, Karl")
    luna = RegisteredDog(
        municipality_id=municipality.id,
        case_id=luna_case.id,
        owner_key=registration.owner_key(luna_case.answers),
        chip_number=luna_case.answers["chip_number"],
        dog_name="Luna",
        tag_number=f"{YEAR}-0001",
        liable_from=f"{YEAR}-07-01",
    )
    db.add(luna)
    db.commit()

    yearly = service.prepare(db, dogs["Bello"], YEAR, NOTICE_DATE).assessment
    change = registration.issue_change_notice(
        db,
        dogs["Bello"],
        clerk,
        since=date(YEAR, 7, 1),
        cause=luna_case,
        cause_left=False,
        notice_date=date(YEAR, 7, 10),
    )

    # The first dog, then one of two: 6 × 3.00 + 6 × 4.00 = 42.00, in both notices.
    expected = [(6, Decimal("36.00")), (6, Decimal("48.00"))]
    assert [(p.months, p.annual_rate) for p in yearly.periods] == expected
    assert [
        (p["months"], Decimal(p["annual_rate"])) for p in change.meta["assessment"]["periods"]
    ] == expected
    assert yearly.total == Decimal(change.meta["total"]) == Decimal("42.00")
