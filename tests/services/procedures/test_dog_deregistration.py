"""Deregistration (Abmeldung): end of the liability, the final settlement (refund or balance
due) and the whole procedure through HTTP.

Demo rates (Herzberg, by number kept): 36 / 48 / 60 € per dog, dangerous dog 180 €; every
case carries its hand calculation in a comment (one month of a 36 € dog = 3.00 €).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

from pypdf import PdfReader
from sqlmodel import select

from services.cases.models import Case, Document, RegisteredDog
from services.procedures.dog_deregistration import (
    end_of_liability,
    normalise_tag,
    settle,
)
from services.procedures.dog_registration import household_positions
from services.procedures.dog_tax import RateTable, assess
from services.timeutil import today_local
from tests.conftest import (
    PDF,
    URL,
    act,
    answers,
    csrf_of,
    file_registration,
    login,
    pdf_file,
    reference_of,
    start,
    to_review,
)

D = Decimal


def herzberg(year: int) -> RateTable:
    return RateTable.from_dict(
        {
            "year": year,
            "model": "by_count",
            "rates": ["36.00", "48.00", "60.00"],
            "dangerous_rate": "180.00",
            "due_dates": [[2, 15], [5, 15], [8, 15], [11, 15]],
        }
    )


TABLES = {y: herzberg(y) for y in range(2025, 2029)}


def registration_notice(intake: date, notice: date, dangerous: bool = False, kept: int = 0):
    """What the registration notice assessed (its meta["assessment"])."""
    return assess(
        TABLES, intake_date=intake, notice_date=notice, dangerous=dangerous, dogs_already_kept=kept
    )


# --------------------------------------------------------------------------- end of liability


def test_end_is_the_end_of_the_event_month_when_proven():
    # Died 10.09.2026 with a vet's certificate: liable through 30.09.2026.
    end = end_of_liability(
        {"reason": "died", "event_date": "2026-09-10", "evidence_vet": [{"id": 1}]},
        date(2026, 9, 20),
    )
    assert (end.liable_until, end.proven) == (date(2026, 9, 30), True)


def test_moving_away_ends_with_the_month_of_the_move():
    end = end_of_liability(
        {"reason": "moved_away", "event_date": "2027-03-15", "evidence_new_address": [{"id": 1}]},
        date(2027, 3, 25),
    )
    assert end.liable_until == date(2027, 3, 31)


def test_handover_is_proven_by_the_new_keepers_name_and_address():
    end = end_of_liability({"reason": "given_away", "event_date": "2026-02-28"}, date(2026, 3, 2))
    assert (end.liable_until, end.proven) == (date(2026, 2, 28), True)


def test_unproven_loss_ends_at_the_end_of_the_month_after_filing():
    # Lost 10.09.2026, filed 20.09.2026, no evidence: liable through 31.10.2026.
    lost = {"reason": "lost", "event_date": "2026-09-10"}
    end = end_of_liability(lost, date(2026, 9, 20))
    assert (end.liable_until, end.proven) == (date(2026, 10, 31), False)
    # Filed in December: the month after is January of the next year.
    assert end_of_liability(lost, date(2026, 12, 3)).liable_until == date(2027, 1, 31)
    # With a loss report the date counts: 30.09.2026.
    proven = end_of_liability({**lost, "evidence_other": [{"id": 2}]}, date(2026, 9, 20))
    assert proven.liable_until == date(2026, 9, 30)


def test_tag_numbers_are_normalised():
    assert normalise_tag(" 2026-0001 ") == "2026-0001"
    assert normalise_tag("2026 / 0001") == "2026-0001"
    assert normalise_tag("20260001") == "2026-0001"


# --------------------------------------------------------------------------- settlement


def test_died_in_september_refunds_the_rest_of_the_year():
    # Intake 14.05.2026 -> liable from 01.06.2026; registration notice 09.06.2026 assessed
    # Jun–Dec 7 × 3.00 = 21.00. Died 10.09.2026 -> Jun–Sep 4 × 3.00 = 12.00; refund 9.00.
    previous = registration_notice(date(2026, 5, 14), date(2026, 6, 9))
    assert previous.total == D("21.00")
    s = settle(
        TABLES,
        intake_date=date(2026, 5, 14),
        liable_until=date(2026, 9, 30),
        notice_date=date(2026, 9, 20),
        dangerous=False,
        previous=previous,
    )
    assert [(y.year, y.months, y.assessed, y.owed) for y in s.years] == [
        (2026, 4, D("21.00"), D("12.00"))
    ]
    assert (s.owed, s.assessed, s.refund, s.balance_due, s.due_date) == (
        D("12.00"),
        D("21.00"),
        D("9.00"),
        D("0.00"),
        None,
    )
    assert s.assessment.periods[0].label == "01.06.2026 – 30.09.2026"
    assert s.to_dict()["refund"] == "9.00"


def test_moved_away_in_march_of_the_following_year_against_the_standing_notice():
    # Registration notice of 2026 (21.00) is a standing notice: 36.00 for 2027.
    # Moved away 15.03.2027 -> Jan–Mar 2027: 3 × 3.00 = 9.00; refund 36.00 − 9.00 = 27.00.
    previous = registration_notice(date(2026, 5, 14), date(2026, 6, 9))
    assert previous.yearly_amount_next_year == D("36.00")
    s = settle(
        TABLES,
        intake_date=date(2026, 5, 14),
        liable_until=date(2027, 3, 31),
        notice_date=date(2027, 3, 25),
        dangerous=False,
        previous=previous,
    )
    assert [(y.year, y.months, y.assessed, y.owed) for y in s.years] == [
        (2027, 3, D("36.00"), D("9.00"))
    ]
    assert s.refund == D("27.00")


def test_given_away_in_the_first_taxable_month():
    # Liable from 01.06.2026, given away 20.06.2026 -> June only: 3.00; refund 21.00 − 3.00.
    previous = registration_notice(date(2026, 5, 14), date(2026, 6, 9))
    s = settle(
        TABLES,
        intake_date=date(2026, 5, 14),
        liable_until=date(2026, 6, 30),
        notice_date=date(2026, 7, 1),
        dangerous=False,
        previous=previous,
    )
    assert (s.owed, s.refund) == (D("3.00"), D("18.00"))


def test_given_away_in_the_month_of_the_intake_owes_nothing():
    # Intake 14.05.2026, given away 25.05.2026: the liability would only have begun on
    # 01.06.2026, so nothing is owed and the whole 21.00 is refunded.
    previous = registration_notice(date(2026, 5, 14), date(2026, 5, 20))
    s = settle(
        TABLES,
        intake_date=date(2026, 5, 14),
        liable_until=date(2026, 5, 31),
        notice_date=date(2026, 6, 2),
        dangerous=False,
        previous=previous,
    )
    assert s.assessment is None
    assert [(y.year, y.months, y.owed) for y in s.years] == [(2026, 0, D("0.00"))]
    assert s.refund == D("21.00")


def test_intake_in_december_gone_the_same_month_refunds_the_next_year():
    # Intake 10.12.2026: the notice of 15.12.2026 assessed 2027 (36.00). Died 20.12.2026:
    # 2026 owes nothing (liability had not begun) and 2027 is refunded in full.
    previous = registration_notice(date(2026, 12, 10), date(2026, 12, 15))
    assert [p.year for p in previous.periods] == [2027]
    s = settle(
        TABLES,
        intake_date=date(2026, 12, 10),
        liable_until=date(2026, 12, 31),
        notice_date=date(2027, 1, 4),
        dangerous=False,
        previous=previous,
    )
    assert [(y.year, y.assessed, y.owed) for y in s.years] == [
        (2026, D("0.00"), D("0.00")),
        (2027, D("36.00"), D("0.00")),
    ]
    assert s.refund == D("36.00")
    assert s.years_label == "2026 und 2027"


def test_died_in_december_deregistered_in_january_cancels_the_standing_year():
    # 2026 stays 21.00 (Jun–Dec all owed); the standing 36.00 for 2027 is refunded.
    previous = registration_notice(date(2026, 5, 14), date(2026, 6, 9))
    s = settle(
        TABLES,
        intake_date=date(2026, 5, 14),
        liable_until=date(2026, 12, 31),
        notice_date=date(2027, 1, 8),
        dangerous=False,
        previous=previous,
    )
    assert [(y.year, y.assessed, y.owed, y.difference) for y in s.years] == [
        (2026, D("21.00"), D("21.00"), D("0.00")),
        (2027, D("36.00"), D("0.00"), D("-36.00")),
    ]
    assert s.refund == D("36.00")


def test_dangerous_dog_is_recomputed_at_the_dangerous_rate():
    # Intake 27.07.2026 -> Aug–Dec 5 × 15.00 = 75.00. Died 05.09.2026 -> Aug–Sep 30.00.
    previous = registration_notice(date(2026, 7, 27), date(2026, 8, 3), dangerous=True)
    assert previous.total == D("75.00")
    s = settle(
        TABLES,
        intake_date=date(2026, 7, 27),
        liable_until=date(2026, 9, 30),
        notice_date=date(2026, 9, 14),
        dangerous=True,
        previous=previous,
    )
    assert (s.owed, s.refund) == (D("30.00"), D("45.00"))


def test_second_dog_in_the_household_leads_to_a_balance_due():
    # First dog liable from 01.06.2026, assessed Jun–Dec at 36 € = 21.00. A second dog is
    # liable from 01.08.2026, so by number kept the first dog pays 48 € from August.
    # It dies 10.12.2026: Jun–Jul 2 × 3.00 + Aug–Dec 5 × 4.00 = 26.00; balance 5.00,
    # due one month after the notice of 14.12.2026, i.e. on 14.01.2027.
    previous = registration_notice(date(2026, 5, 14), date(2026, 6, 9))
    positions = [(date(2026, m, 1), 1 if m < 8 else 2) for m in range(1, 13)]
    s = settle(
        TABLES,
        intake_date=date(2026, 5, 14),
        liable_until=date(2026, 12, 31),
        notice_date=date(2026, 12, 14),
        dangerous=False,
        previous=previous,
        position_changes=positions,
    )
    assert [(p.months, p.annual_rate, p.amount) for p in s.assessment.periods] == [
        (2, D("36.00"), D("6.00")),
        (5, D("48.00"), D("20.00")),
    ]
    assert (s.owed, s.balance_due, s.refund, s.due_date) == (
        D("26.00"),
        D("5.00"),
        D("0.00"),
        date(2027, 1, 14),
    )


def test_granted_reduction_is_kept_in_the_recomputation():
    # Shelter dog, half rate: Feb–Dec 11 × 1.50 = 16.50 assessed. Given away 03.04.2026:
    # Feb–Apr 3 × 1.50 = 4.50; refund 12.00.
    previous = assess(
        TABLES,
        intake_date=date(2026, 1, 20),
        notice_date=date(2026, 2, 2),
        dangerous=False,
        reduction_percent=D(50),
    )
    assert previous.total == D("16.50")
    s = settle(
        TABLES,
        intake_date=date(2026, 1, 20),
        liable_until=date(2026, 4, 30),
        notice_date=date(2026, 4, 10),
        dangerous=False,
        previous=previous,
        reduction_percent=D(50),
    )
    assert (s.owed, s.refund) == (D("4.50"), D("12.00"))


def test_household_positions_come_from_the_register(db, case_factory):
    first = case_factory(state="closed")
    second = case_factory(state="closed")
    dangerous = case_factory(state="closed")
    key = "mustermann|erika|1980-08-12"
    dog = RegisteredDog(
        municipality_id=first.municipality_id,
        case_id=first.id,
        owner_key=key,
        chip_number="276098100000001",
        dog_name="Bello",
        tag_number="2026-0001",
        liable_from="2026-06-01",
    )
    other = RegisteredDog(
        municipality_id=first.municipality_id,
        case_id=second.id,
        owner_key=key,
        chip_number="276098100000002",
        dog_name="Luna",
        tag_number="2026-0002",
        liable_from="2026-08-01",
        liable_until="2026-10-31",
    )
    fierce = RegisteredDog(
        municipality_id=first.municipality_id,
        case_id=dangerous.id,
        owner_key=key,
        chip_number="276098100000003",
        dog_name="Rex",
        tag_number="2026-0003",
        liable_from="2026-01-01",
        dangerous=True,
    )
    db.add_all([dog, other, fierce])
    db.commit()
    # By number kept: Luna counts Aug–Oct; the dangerous Rex never counts.
    positions = dict(household_positions(db, dog, 2026, TABLES[2026]))
    assert [positions[date(2026, m, 1)] for m in range(1, 13)] == [1] * 7 + [2] * 3 + [1] * 2
    # By order: Luna started after Bello, so Bello stays the first dog.
    by_order = dict(household_positions(db, dog, 2026, replace(TABLES[2026], model="by_order")))
    assert set(by_order.values()) == {1}


# --------------------------------------------------------------------------- through HTTP

DEREG = "/herzberg-elster/hund-abmelden"


def deregistration(**overrides: str) -> dict[str, dict[str, str]]:
    steps = {
        "keeper": {
            k: v
            for k, v in answers()["keeper"].items()
            if k
            in (
                "given_names",
                "family_name",
                "birth_date",
                "street",
                "house_number",
                "postal_code",
                "town",
                "email",
            )
        },
        "dog": {"dog_name": "Bello", "tag_number": "", "chip_number": ""},
        "reason": {"reason": "died", "event_date": "10.09.2026"},
        "evidence": {},
        "tag": {"tag_return": "handed_in"},
        "refund": {"refund_iban": ""},
        "declarations": {"privacy_read": "yes", "truthful": "yes"},
    }
    for key, value in overrides.items():
        step = next(s for s, f in steps.items() if key in f)
        steps[step][key] = value
    return steps


def file_deregistration(client, steps, files=None):
    """Walk the deregistration form as a citizen and submit; returns the confirmation."""
    files = files or {"evidence": [pdf_file("evidence_vet", "tierarzt.pdf")]}
    token = csrf_of(client.get(DEREG).text)
    r = client.post(f"{DEREG}/start", data={"csrf_token": token})
    assert r.url.path == f"{DEREG}/steps/keeper"
    for _ in range(20):
        step_id = r.url.path.rsplit("/", 1)[-1]
        if step_id == "check":
            break
        r = client.post(
            f"{DEREG}/steps/{step_id}",
            data={"csrf_token": token, **steps[step_id]},
            files=files.get(step_id),
        )
        assert r.status_code == 200, f"step {step_id}: {r.status_code} {r.text[:2000]}"
    assert "von der Hundesteuer ab" in r.text  # the check page speaks of deregistering
    r = client.post(f"{DEREG}/submit", data={"csrf_token": token})
    assert r.url.path == f"{DEREG}/confirmation"
    assert "Ihre Abmeldung ist eingegangen" in r.text
    return r


def dereg_reference(html: str) -> str:
    m = re.search(r"HST-AB-\d{4}-\d{6}", html)
    assert m, "confirmation shows no deregistration case number"
    return m.group(0)


def pdf_text(content: bytes) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    return text.replace("\u2010", "-").replace("\u00ad", "").replace("\u00a0", " ")


def money(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",") + " €"


def register_and_approve(client, db) -> RegisteredDog:
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    assert act(client, reference, "approve").status_code == 200
    case = db.exec(select(Case).where(Case.reference == reference)).one()
    return db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).one()


def test_start_page_speaks_of_deregistration_and_registration_page_is_unchanged(
    client, municipality
):
    page = client.get(DEREG)
    assert page.status_code == 200
    assert "Hund von der Hundesteuer abmelden" in page.text
    assert "Hundesteuermarke" in page.text and "Tierarztes" in page.text
    assert "Was es kostet" not in page.text
    registration = client.get(URL)
    assert "Was es kostet" in registration.text and "36,00" in registration.text
    assert "Tierarztes" not in registration.text


def test_deregistration_end_to_end_refunds_and_frees_the_chip(client, db, clerk):
    dog = register_and_approve(client, db)
    reg_notice = db.exec(
        select(Document).where(Document.case_id == dog.case_id, Document.kind == "notice")
    ).one()
    # While the dog is registered, its chip cannot be registered again.
    token = start(client)
    client.post(f"{URL}/steps/keeper", data={"csrf_token": token, **answers()["keeper"]})
    taken = client.post(f"{URL}/steps/dog", data={"csrf_token": token, **answers()["dog"]})
    assert taken.status_code == 422 and "bereits für einen angemeldeten Hund" in taken.text

    confirmation = file_deregistration(client, deregistration(tag_number=dog.tag_number))
    reference = dereg_reference(confirmation.text)
    to_review(client, reference)
    page = act(client, reference, "approve", comment="Tierärztliche Bescheinigung liegt vor.")
    assert page.status_code == 200 and "Bescheid erteilt" in page.text

    case = db.exec(select(Case).where(Case.reference == reference)).one()
    db.refresh(case)
    assert case.state == "notice_issued"
    db.refresh(dog)
    assert dog.liable_until == "2026-09-30"

    notice = db.exec(
        select(Document).where(Document.case_id == case.id, Document.kind == "notice")
    ).one()
    # Intake 14.05.2026: liable Jun–Sep 2026 = 4 × 3.00 = 12.00; the registration notice
    # assessed its total for the years up to now (21.00 in 2026), the rest is refunded.
    refund = D(reg_notice.meta["total"]) - D("12.00")
    assert notice.meta["refund"] == str(refund) and notice.meta["balance_due"] == "0.00"
    assert notice.meta["template_version"] == 1
    assert notice.meta["template"] == "dog_deregistration_notice.html"
    assert notice.meta["template_version"] == notice.template_version == 1
    assert notice.meta["rate_tables"]["2026"]["rates"] == ["36.00", "48.00", "60.00"]
    assert notice.template == "dog_deregistration_notice.html" and notice.template_version == 1

    text = pdf_text(notice.content)
    assert "Bescheid über die Abmeldung Ihres Hundes und die Hundesteuer für 2026" in text
    assert "30.09.2026" in text
    assert money(refund) in text
    assert "Widerspruch" in text and "ohne Unterschrift gültig" in text
    assert dog.tag_number in text and "Erstattung" in text
    assert "DE89 **** **** **** **30 00" in text  # refunded to the mandate's account
    # The months and the annual rate are named together, never "4 Monate zu 12,00 €" beside
    # the amount assessed before.
    flat = " ".join(text.split())
    assert "Steuer für 4 Monate (Jahressteuer 36,00 € × 4/12) = 12,00 €" in flat
    assert "Monate zu" not in flat
    assert "bisher festgesetzt Monate Steuerpflicht (neu) neu festgesetzt" in flat

    attachments = PdfReader(io.BytesIO(notice.content)).attachments
    embedded = json.loads(attachments["abmeldebescheid.json"][0])
    assert embedded["template"] == {"name": "dog_deregistration_notice.html", "version": 1}
    assert embedded["register_entry"]["tag_number"] == dog.tag_number
    assert embedded["settlement"]["refund"] == str(refund)
    assert embedded["assessment"]["total"] == "12.00"
    assert embedded["rate_tables"]["2026"]["model"] == "by_count"

    # The case can be closed, and the chip can be registered again.
    assert act(client, reference, "close").status_code == 200
    client.cookies.clear()
    again = file_registration(client, answers(intake_date="01.10.2026"))
    assert reference_of(again.text) != reference


def test_unknown_tag_number_is_refused_and_changes_nothing(client, db, clerk):
    dog = register_and_approve(client, db)
    confirmation = file_deregistration(client, deregistration(tag_number="2026-0999"))
    reference = dereg_reference(confirmation.text)
    to_review(client, reference)
    case = db.exec(select(Case).where(Case.reference == reference)).one()
    db.refresh(case)
    version = case.version

    page = act(client, reference, "approve")
    assert page.status_code == 409
    assert "kein angemeldeter Hund mit der Steuermarkennummer 2026-0999" in page.text
    assert "Es wurde nichts geändert" in page.text
    db.refresh(case)
    db.refresh(dog)
    assert case.state == "in_review" and case.version == version
    assert dog.liable_until is None
    assert not db.exec(
        select(Document).where(Document.case_id == case.id, Document.kind == "notice")
    ).all()


def test_deregistration_by_another_keeper_is_refused(client, db, clerk):
    dog = register_and_approve(client, db)
    steps = deregistration(chip_number=dog.chip_number, given_names="Max")
    reference = dereg_reference(file_deregistration(client, steps).text)
    to_review(client, reference)
    page = act(client, reference, "approve")
    assert page.status_code == 409 and "für eine andere Halterin" in page.text
    db.refresh(dog)
    assert dog.liable_until is None


def test_required_evidence_and_identification_are_enforced(client, municipality):
    token = csrf_of(client.get(DEREG).text)
    client.post(f"{DEREG}/start", data={"csrf_token": token})
    steps = deregistration()
    client.post(f"{DEREG}/steps/keeper", data={"csrf_token": token, **steps["keeper"]})
    r = client.post(f"{DEREG}/steps/dog", data={"csrf_token": token, **steps["dog"]})
    assert r.status_code == 422 and "Chipnummer" in r.text  # neither tag nor chip
    r = client.post(
        f"{DEREG}/steps/dog", data={"csrf_token": token, **steps["dog"], "tag_number": "2026-0001"}
    )
    assert r.status_code == 200
    future = date(today_local().year + 1, 1, 1).strftime("%d.%m.%Y")
    r = client.post(
        f"{DEREG}/steps/reason",
        data={"csrf_token": token, "reason": "died", "event_date": future},
    )
    assert r.status_code == 422 and "darf nicht in der Zukunft liegen" in r.text
    client.post(f"{DEREG}/steps/reason", data={"csrf_token": token, **steps["reason"]})
    r = client.post(f"{DEREG}/steps/evidence", data={"csrf_token": token})
    assert r.status_code == 422 and "Tierarztes" in r.text
    r = client.post(
        f"{DEREG}/steps/evidence",
        data={"csrf_token": token},
        files=[("evidence_vet", ("tierarzt.pdf", PDF, "application/pdf"))],
    )
    assert r.status_code == 200


def test_when_one_of_two_dogs_leaves_the_other_gets_a_change_notice(client, db, clerk):
    # Bello from June (21.00 for 2026 as the only dog), Luna from September: Bello becomes
    # one of two (change notice: 9.00 + 4 × 4.00 = 25.00). Luna dies on 10 October: from
    # November Bello is alone again: Jun–Aug 3 × 3.00 + Sep–Oct 2 × 4.00 + Nov–Dec 2 × 3.00
    # = 9.00 + 8.00 + 6.00 = 23.00, so a second change notice refunds 2.00.
    bello = register_and_approve(client, db)
    client.cookies.clear()
    luna_ref = reference_of(
        file_registration(
            client,
            answers(chip_number="276 0981 0000 9999", dog_name="Luna", intake_date="03.08.2026"),
        ).text
    )
    login(client, "clerk")
    to_review(client, luna_ref)
    act(client, luna_ref, "approve")
    luna = db.exec(select(RegisteredDog).where(RegisteredDog.dog_name == "Luna")).one()
    confirmation = file_deregistration(
        client, deregistration(tag_number=luna.tag_number, dog_name="Luna", event_date="10.10.2026")
    )
    reference = dereg_reference(confirmation.text)
    to_review(client, reference)
    assert act(client, reference, "approve").status_code == 200
    changes = db.exec(
        select(Document)
        .where(Document.case_id == bello.case_id, Document.kind == "change_notice")
        .order_by(Document.id)
    ).all()
    assert [c.meta["total"] for c in changes] == ["25.00", "23.00"]
    assert changes[-1].meta["difference"] == "-2.00"
    text = pdf_text(changes[-1].content)
    assert "Erstattung" in text and "Abmeldung des Hundes „Luna“" in text
