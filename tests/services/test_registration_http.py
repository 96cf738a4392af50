"""The whole dog registration through HTTP, on SQLite and PostgreSQL: citizen files,
clerk reviews, approval issues the notice, citizen downloads it."""

from __future__ import annotations

import io
import re
from datetime import date

from pypdf import PdfReader
from sqlmodel import select

from services.audit.models import CaseEvent
from services.cases.models import Case, Document, RegisteredDog
from tests.conftest import (
    URL,
    act,
    answers,
    csrf_of,
    file_registration,
    login,
    reference_of,
    start,
    status_path,
    to_review,
)


def pdf_text(content: bytes) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    return text.replace("\u2010", "-").replace("\u00ad", "").replace("\u00a0", " ")


def test_citizen_files_clerk_approves_citizen_downloads_notice(client, db, clerk):
    confirmation = file_registration(client)
    assert "Ihre Anmeldung ist eingegangen" in confirmation.text
    reference = reference_of(confirmation.text)
    assert re.fullmatch(rf"HST-{date.today().year}-000001", reference)
    status = status_path(confirmation.text)

    page = client.get(status)
    assert page.status_code == 200
    assert "Eingegangen" in page.text and reference in page.text

    assert login(client, "clerk").url.path == "/office/"
    queue = client.get("/office/")
    assert reference in queue.text and "Mustermann, Erika" in queue.text

    to_review(client, reference)
    case_page = act(client, reference, "approve", comment="Chip geprüft.")
    assert case_page.status_code == 200
    assert "Bescheid erteilt" in case_page.text

    case = db.exec(select(Case).where(Case.reference == reference)).one()
    assert case.state == "notice_issued"
    events = db.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action != "viewed")
        .order_by(CaseEvent.seq)
    ).all()
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        ("filed", None, "submitted"),
        ("start_check", "submitted", "completeness_check"),
        ("complete", "completeness_check", "in_review"),
        ("approve", "in_review", "approved"),
        ("notice_issued", "approved", "notice_issued"),
        ("document_stored", None, None),  # the notice's PDF, rendered by its job
    ]
    notice = db.exec(
        select(Document).where(Document.case_id == case.id, Document.kind == "notice")
    ).one()
    assert events[-1].data == {
        "document_id": notice.id,
        "kind": "notice",
        "sha256": notice.sha256,
        "size": len(notice.content),
    }
    assert events[3].actor_name == "Petra Schulze" and events[3].comment == "Chip geprüft."
    # Every time the clerk opened the case page it was recorded (not shown to the citizen).
    views = db.exec(select(CaseEvent).where(CaseEvent.action == "viewed")).all()
    assert views and all(v.actor_name == "Petra Schulze" and not v.public for v in views)

    status_page = client.get(status)
    assert "Bescheid erteilt" in status_page.text
    link = re.search(
        r'href="(/status/[^"]+/documents/\d+)" download>Hundesteuerbescheid', status_page.text
    ).group(1)
    pdf = client.get(link)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert reference in text
    assert "Erika Mustermann" in text
    doc = db.exec(
        select(Document).where(Document.case_id == case.id, Document.kind == "notice")
    ).one()
    total = doc.meta["total"]  # e.g. "21.00"
    assert total.replace(".", ",") + " €" in text
    dog = db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).one()
    assert dog.tag_number in text and dog.chip_number == "276098100001234"


def test_field_errors_are_shown_in_place_and_in_summary_and_answers_stay(client, municipality):
    token = start(client)
    data = {
        **answers()["keeper"],
        "postal_code": "4916",
        "family_name": "",
        "birth_date": "31.02.1980",
        "csrf_token": token,
    }
    r = client.post(f"{URL}/steps/keeper", data=data)
    assert r.status_code == 422
    html = r.text
    assert "<title>Fehler:" in html
    summary = html.split('class="error-summary-list"')[1].split("</ul>")[0]
    for message in (
        "Bitte geben Sie „Familienname“ an.",
        "Die Postleitzahl muss aus genau 5 Ziffern bestehen",
        "„Geburtsdatum“ muss ein gültiges Datum sein",
    ):
        assert message in summary
        assert html.count(message) == 2  # summary and next to the field
    assert 'href="#family_name"' in summary
    assert 'id="family_name-error"' in html
    assert 'value="Erika"' in html and 'value="Torgauer Straße"' in html and 'value="4916"' in html


def test_future_and_inconsistent_dates_are_refused(client, municipality):
    token = start(client)
    client.post(f"{URL}/steps/keeper", data={"csrf_token": token, **answers()["keeper"]})
    future = date(date.today().year + 1, 1, 1).strftime("%d.%m.%Y")
    r = client.post(
        f"{URL}/steps/dog",
        data={
            "csrf_token": token,
            **answers()["dog"],
            "dog_birth_date": "01.06.2021",
            "intake_date": "01.05.2020",
        },
    )
    assert r.status_code == 422
    assert "„Seit wann halten Sie den Hund?“ darf nicht vor „Wurfdatum" in r.text
    r = client.post(
        f"{URL}/steps/dog", data={"csrf_token": token, **answers()["dog"], "intake_date": future}
    )
    assert r.status_code == 422 and "darf nicht in der Zukunft liegen" in r.text


def test_double_submit_files_one_case(client, db, municipality):
    first = file_registration(client)
    token = csrf_of(client.get(URL).text)
    again = client.post(f"{URL}/submit", data={"csrf_token": token})
    assert again.url.path == f"{URL}/confirmation"
    assert reference_of(again.text) == reference_of(first.text)
    assert status_path(again.text) == status_path(first.text)
    assert len(db.exec(select(Case)).all()) == 1


def test_hidden_answers_are_dropped(client, db, municipality):
    steps = answers(moved_in="no", moved_in_date="01.01.2026", previous_municipality="Berlin")
    steps["payment"]["payment_method"] = "transfer"
    file_registration(client, steps)
    case = db.exec(select(Case)).one()
    assert "moved_in_date" not in case.answers and "previous_municipality" not in case.answers
    assert "iban" not in case.answers  # SEPA step is skipped for bank transfer


def test_wrong_status_token_is_404(client, municipality):
    file_registration(client)
    r = client.get("/status/not-a-real-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert r.status_code == 404
    assert "Zu diesem Link gibt es keinen Antrag" in r.text


def test_status_link_cannot_fetch_another_cases_document(client, db, clerk):
    first = file_registration(client)
    status_a = status_path(first.text)
    client.cookies.clear()
    second = file_registration(client, answers(chip_number="276098100009999"))
    login(client, "clerk")
    ref_b = reference_of(second.text)
    to_review(client, ref_b)
    act(client, ref_b, "approve")
    doc_b = db.exec(select(Document).where(Document.kind == "notice")).one()
    assert client.get(f"{status_a}/documents/{doc_b.id}").status_code == 404


def test_illegal_transition_is_409_and_changes_nothing(client, db, clerk):
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    r = act(client, reference, "approve")  # not possible before the review started
    assert r.status_code == 409
    assert "ist im Status „Eingegangen“ nicht möglich" in r.text
    r = act(client, reference, "confirm_approval")
    assert r.status_code in (403, 409)
    case = db.exec(select(Case)).one()
    db.refresh(case)
    assert case.state == "submitted" and case.version == 1


def test_role_is_checked(client, db, clerk):
    reference = reference_of(file_registration(client, answers(declared_dangerous="yes")).text)
    login(client, "clerk")
    to_review(client, reference)
    act(client, reference, "propose_approval")
    r = act(client, reference, "confirm_approval")
    assert r.status_code == 403
    assert "erfordert die Rolle „Sachgebietsleitung“" in r.text


def test_dangerous_dog_needs_four_eyes(client, db, approver, second_approver):
    steps = answers(declared_dangerous="yes")
    reference = reference_of(file_registration(client, steps).text)
    login(client, "approver")
    to_review(client, reference)
    page = client.get(f"/office/cases/{reference}")
    assert '/transitions/approve"' not in page.text  # direct approval is not offered
    r = act(client, reference, "approve")
    assert r.status_code == 409 and "Zweitprüfung" in r.text
    assert act(client, reference, "propose_approval").status_code == 200
    r = act(client, reference, "confirm_approval")
    assert r.status_code == 409 and "Vier-Augen-Prinzip" in r.text

    client.cookies.clear()
    login(client, "approver2")
    r = act(client, reference, "confirm_approval", comment="Erlaubnis liegt vor.")
    assert r.status_code == 200
    case = db.exec(select(Case)).one()
    db.refresh(case)
    assert case.state == "notice_issued"
    doc = db.exec(select(Document).where(Document.kind == "notice")).one()
    assert "180,00 €" in pdf_text(doc.content)  # dangerous-dog annual rate in the calculation


def test_stale_form_gets_conflict_message(client, db, clerk, approver):
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    page = client.get(f"/office/cases/{reference}")
    stale_version = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))
    act(client, reference, "start_check")  # the case moves on (version + 1)
    r = client.post(
        f"/office/cases/{reference}/transitions/start_check",
        data={"csrf_token": csrf_of(page.text), "version": str(stale_version)},
    )
    assert r.status_code == 409
    assert "wurde inzwischen von Petra Schulze geändert" in r.text
    assert "Vollständigkeitsprüfung" in r.text  # the fresh state is shown


def test_reject_needs_a_reason_and_shows_it_to_the_citizen(client, db, clerk):
    confirmation = file_registration(client)
    reference = reference_of(confirmation.text)
    status = status_path(confirmation.text)
    login(client, "clerk")
    to_review(client, reference)
    r = act(client, reference, "reject")
    assert r.status_code == 422 and "ist eine Begründung nötig" in r.text
    act(client, reference, "reject", comment="Der Hund ist bereits angemeldet.")
    page = client.get(status)
    assert "Abgelehnt" in page.text and "Der Hund ist bereits angemeldet." in page.text


def test_clerk_cannot_see_another_municipalitys_case(client, db, clerk, foreign_clerk):
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    act(client, reference, "approve")
    doc = db.exec(select(Document).where(Document.kind == "notice")).one()
    client.cookies.clear()
    login(client, "foreign")
    assert reference not in client.get("/office/").text
    assert client.get(f"/office/cases/{reference}").status_code == 404
    assert client.get(f"/office/cases/{reference}/documents/{doc.id}").status_code == 404
    assert act(client, reference, "reject", comment="x", version=3).status_code == 404
    assert client.get(f"/api/v1/cases/{reference}").status_code == 404
    assert client.get("/api/v1/cases").json()["items"] == []


def test_office_requires_login_and_csrf(client, db, clerk):
    reference = reference_of(file_registration(client).text)
    r = client.get("/office/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/office/login")
    assert client.get("/api/v1/cases").status_code == 401
    login(client, "clerk")
    r = client.post(
        f"/office/cases/{reference}/transitions/start_check",
        data={"version": "1", "csrf_token": "forged"},
    )
    assert r.status_code == 400 and "Formular ist abgelaufen" in r.text
    case = db.exec(select(Case)).one()
    db.refresh(case)
    assert case.state == "submitted"


def test_login_is_throttled_after_failed_attempts(client, clerk):
    for _ in range(5):
        r = login(client, "clerk", "wrong-password")
        assert r.status_code == 422 and "Benutzername oder Passwort ist falsch" in r.text
    r = login(client, "clerk")  # even the right password is refused while locked
    assert r.status_code == 422 and "Zu viele Fehlversuche" in r.text


def test_missing_rate_table_refuses_approval_and_changes_nothing(client, db, clerk):
    from services.municipalities.models import DogTaxRateTable

    reference = reference_of(file_registration(client).text)
    for table in db.exec(select(DogTaxRateTable)).all():
        db.delete(table)
    db.commit()
    login(client, "clerk")
    to_review(client, reference)
    r = act(client, reference, "approve")
    assert r.status_code == 409
    assert "keine Hundesteuer-Satztabelle" in r.text
    case = db.exec(select(Case)).one()
    db.refresh(case)
    assert case.state == "in_review"
    assert db.exec(select(Document).where(Document.kind == "notice")).all() == []
    assert db.exec(select(RegisteredDog)).all() == []


def test_chip_of_a_registered_dog_is_refused_with_a_plain_message(client, db, clerk):
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    act(client, reference, "approve")
    client.cookies.clear()
    token = start(client)
    client.post(f"{URL}/steps/keeper", data={"csrf_token": token, **answers()["keeper"]})
    r = client.post(f"{URL}/steps/dog", data={"csrf_token": token, **answers()["dog"]})
    assert r.status_code == 422
    assert "Diese Chipnummer ist bereits für einen angemeldeten Hund erfasst" in r.text


def test_audit_chain_verifies_and_detects_tampering(client, db, clerk):
    from services.audit.service import verify

    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    act(client, reference, "approve")
    checked, broken = verify(db)
    assert checked == len(db.exec(select(CaseEvent)).all()) >= 6 and broken == []
    event = db.exec(select(CaseEvent).where(CaseEvent.seq == 2)).one()
    event.comment = "nachträglich geändert"
    db.add(event)
    db.commit()
    _, broken = verify(db)
    assert [(b.seq, "changed" in b.reason) for b in broken] == [(2, True)]


def test_step_without_a_draft_goes_back_to_the_start_with_a_message(client, municipality):
    r = client.get(f"{URL}/steps/dog")
    assert r.url.path == URL
    assert "Ihre Eingaben wurden nicht gefunden oder sind abgelaufen" in r.text


def test_tax_refusal_is_shown_in_one_language(client, db, clerk, case_factory):
    """The tax engine's refusal (intake after the notice date) reaches the clerk in German
    only, without an English sentence glued on."""
    from datetime import timedelta

    from services.timeutil import today_local

    case = case_factory("in_review", assignee=clerk)
    later = today_local() + timedelta(days=10)
    case.answers = {**case.answers, "intake_date": later.isoformat()}
    db.add(case)
    db.commit()
    login(client, "clerk")
    r = act(client, case.reference, "approve")
    assert r.status_code == 409
    assert f"Das Aufnahmedatum {later:%d.%m.%Y} liegt nach dem Bescheiddatum" in r.text
    assert "The intake date" not in r.text
