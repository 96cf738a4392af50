"""Notices through the office, on SQLite and PostgreSQL: reductions granted or refused,
rejection, change notices when a second dog changes the rate, replacement tags. Every
notice is read back: text, embedded JSON with template version, PDF/A identification."""

from __future__ import annotations

import io
import json
import re

from pypdf import PdfReader
from sqlmodel import select

from services.audit.models import CaseEvent
from services.cases.models import Case, Document, RegisteredDog
from tests import conftest
from tests.conftest import (
    act,
    answers,
    csrf_of,
    file_registration,
    login,
    pdf_file,
    reference_of,
    status_path,
    to_review,
)


def read(doc: Document) -> tuple[str, dict, PdfReader]:
    reader = PdfReader(io.BytesIO(doc.content))
    text = "\n".join(p.extract_text() for p in reader.pages)
    text = text.replace("\u2010", "-").replace("\u00ad", "").replace("\u00a0", " ")
    ((name, [payload]),) = reader.attachments.items()
    assert name.endswith(".json")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', xmp)  # PDF/A-3 identification
    assert re.search(r'pdfaid:conformance(="|>)A', xmp)
    return text, json.loads(payload), reader


def notice_of(db, reference: str, kind: str = "notice") -> Document:
    case = db.exec(select(Case).where(Case.reference == reference)).one()
    return db.exec(select(Document).where(Document.case_id == case.id, Document.kind == kind)).one()


def decide(client, reference, name, **data):
    page = client.get(f"/office/cases/{reference}")
    version = re.search(r'name="version" value="(\d+)"', page.text)[1]
    return client.post(
        f"/office/cases/{reference}/transitions/{name}",
        data={"csrf_token": csrf_of(page.text), "version": version, **data},
    )


def test_granted_shelter_reduction_halves_the_tax_for_36_months(client, db, clerk, approver):
    steps = answers(reduction_requested="yes", reduction_reason="shelter_dog")
    reference = reference_of(file_registration(client, steps).text)
    login(client, "clerk")
    to_review(client, reference)
    r = decide(client, reference, "propose_approval")
    assert r.status_code == 422 and "Bitte entscheiden Sie über die beantragte Ermäßigung" in r.text
    r = decide(client, reference, "propose_approval", reduction="refuse")
    assert r.status_code == 422 and "Bitte begründen Sie" in r.text
    assert decide(client, reference, "propose_approval", reduction="grant").status_code == 200
    client.cookies.clear()
    login(client, "approver")
    assert act(client, reference, "confirm_approval").status_code == 200
    text, data, _ = read(notice_of(db, reference))
    # Intake 14 May: Jun–Dec 7 × 36/12 × 50 % = 10.50; reduced through May 2029.
    assert data["assessment"]["total"] == "10.50"
    assert "10,50 €" in text and "50 %" in text and "05/2029" in text
    assert "Ihrem Antrag auf Steuerermäßigung (Hund aus einem Tierheim) wird entsprochen" in text
    assert data["template"] == {"name": "dog_registration_notice.html", "version": 2}


def test_granted_exemption_issues_an_exemption_notice_without_payment_terms(
    client, db, clerk, approver, monkeypatch
):
    monkeypatch.setitem(
        conftest.STEP_FILES, "reduction", [pdf_file("evidence_assistance_dog", "assistenz.pdf")]
    )
    steps = answers(
        reduction_requested="yes", reduction_reason="assistance_dog", payment_interval="annual"
    )
    reference = reference_of(file_registration(client, steps).text)
    login(client, "clerk")
    to_review(client, reference)
    assert decide(client, reference, "propose_approval", reduction="grant").status_code == 200
    client.cookies.clear()
    login(client, "approver")
    assert act(client, reference, "confirm_approval").status_code == 200
    text, data, reader = read(notice_of(db, reference))
    flat = " ".join(text.split())
    assert data["assessment"]["total"] == "0.00"
    assert reader.metadata.title.startswith("Freistellungsbescheid")
    assert "Befreiung von der Hundesteuer (Freistellungsbescheid)" in flat
    assert "ist ab dem 01.06.2026 von der Hundesteuer befreit" in flat
    assert "Grund der Befreiung: Assistenzhund (§ 12e BGG)" in flat
    assert "wenn die Voraussetzungen der Steuerbefreiung entfallen" in flat
    assert "0,00 €" not in flat and "Fälligkeit" not in flat and "Jahresbetrag" not in flat
    assert db.exec(select(RegisteredDog)).one().exempt


def test_refused_reduction_is_explained_in_the_notice(client, db, clerk, approver):
    steps = answers(reduction_requested="yes", reduction_reason="low_income")
    steps["reduction"]["evidence_low_income"] = ""
    reference = reference_of(
        file_registration(
            client, answers(reduction_requested="yes", reduction_reason="shelter_dog")
        ).text
    )
    login(client, "clerk")
    to_review(client, reference)
    decide(
        client,
        reference,
        "propose_approval",
        reduction="refuse",
        reduction_reason="Der Vertrag des Tierheims ist älter als drei Jahre.",
    )
    client.cookies.clear()
    login(client, "approver")
    act(client, reference, "confirm_approval")
    text, data, _ = read(notice_of(db, reference))
    assert data["assessment"]["total"] == "21.00"
    assert "lehnen wir ab" in text and "älter als drei Jahre" in text


def test_rejection_notice_with_reasons(client, db, clerk):
    confirmation = file_registration(client)
    reference = reference_of(confirmation.text)
    login(client, "clerk")
    to_review(client, reference)
    act(
        client,
        reference,
        "reject",
        comment="Der Hund ist bereits unter HST-2025-000017 angemeldet.",
    )
    text, data, reader = read(notice_of(db, reference, "rejection"))
    assert "lehnen wir ab" in text and "HST-2025-000017" in text and "Widerspruch" in text
    assert data["reasons"].startswith("Der Hund ist bereits")
    assert data["template"] == {"name": "rejection_notice.html", "version": 1}
    assert reader.metadata.title.startswith("Ablehnungsbescheid")
    client.cookies.clear()
    status = client.get(status_path(confirmation.text))
    assert "Ablehnungsbescheid vom" in status.text


def test_second_dog_changes_the_first_dogs_rate(client, db, clerk):
    first = reference_of(file_registration(client).text)
    client.cookies.clear()
    second_steps = answers(
        chip_number="276 0981 0000 9999", dog_name="Luna", intake_date="03.08.2026"
    )
    second_confirmation = file_registration(client, second_steps)
    second = reference_of(second_confirmation.text)
    login(client, "clerk")
    for reference in (first, second):
        to_review(client, reference)
        assert act(client, reference, "approve").status_code == 200
    # Luna, the second dog, from September: 4 × 48/12 = 16.00.
    _, luna, _ = read(notice_of(db, second))
    assert luna["assessment"]["total"] == "16.00"
    # Bello (first dog): Jun–Aug 3 × 3.00 + Sep–Dec 4 × 4.00 = 25.00 instead of 21.00.
    text, change, _ = read(notice_of(db, first, "change_notice"))
    assert change["assessment"]["total"] == "25.00" and change["difference"] == "4.00"
    assert "Änderungsbescheid" in text and "Nachzahlung" in text and "4,00 €" in text
    assert "Luna" in text and "Widerspruch" in text
    event = db.exec(select(CaseEvent).where(CaseEvent.action == "change_notice")).one()
    assert event.public and event.data["cause_case"] == second


def test_lost_tag_gets_a_new_number_and_the_old_one_is_recorded(client, db, clerk):
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    act(client, reference, "approve")
    dog = db.exec(select(RegisteredDog)).one()
    old = dog.tag_number
    page = client.get(f"/office/cases/{reference}")
    r = client.post(
        f"/office/cases/{reference}/replace-tag",
        data={"csrf_token": csrf_of(page.text), "reason": ""},
    )
    assert r.status_code == 422
    r = client.post(
        f"/office/cases/{reference}/replace-tag",
        data={"csrf_token": csrf_of(page.text), "reason": "Verlust gemeldet"},
    )
    assert r.status_code == 200 and "Ersatzmarke Nr." in r.text
    db.expire_all()
    dog = db.exec(select(RegisteredDog)).one()
    assert dog.tag_number != old and dog.replaced_tags[0]["tag_number"] == old
    assert f"ersetzt: {old}" in r.text
