"""The citizen's side through HTTP, on SQLite and PostgreSQL: uploads, repeatable groups,
save and resume, receipt and mail, information requests, two languages, hostile input."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

from pypdf import PdfReader
from sqlmodel import select

from services.audit.models import CaseEvent
from services.cases.models import Case, Document, Draft
from services.cases.service import purge_expired_drafts
from services.mail.models import OutboxMessage
from services.timeutil import utcnow
from services.uploads.models import Upload
from tests.conftest import (
    PDF,
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

HTML_AS_PDF = b"<!DOCTYPE html><html><script>alert(1)</script></html>"


def post_step(client, token, step, data=None, files=None, **extra):
    return client.post(
        f"{URL}/steps/{step}", data={"csrf_token": token, **(data or {}), **extra}, files=files
    )


def walk_to(client, token, target: str, steps=None):
    """Fill the steps before ``target`` with the default answers."""
    steps = steps or answers()
    r = client.get(f"{URL}/steps/keeper")
    while (step := r.url.path.rsplit("/", 1)[-1]) != target:
        r = post_step(client, token, step, steps[step])
        assert r.status_code == 200, (step, r.text[:300])
    return r


# --- uploads ----------------------------------------------------------------------------


def test_uploaded_evidence_survives_back_and_change_and_goes_with_the_case(client, db, clerk):
    token = start(client)
    steps = answers(declared_dangerous="yes")
    walk_to(client, token, "dangerous_details", steps)
    r = post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[("permit_file", ("erlaubnis.pdf", PDF, "application/pdf"))],
        action="upload:permit_file",
    )
    assert r.status_code == 200 and "erlaubnis.pdf" in r.text
    # Back to the previous step and forward again: the file is still listed.
    client.get(f"{URL}/steps/dangerous")
    page = client.get(f"{URL}/steps/dangerous_details")
    assert "erlaubnis.pdf" in page.text
    r = post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[
            ("dangerous_decision_file", ("entscheidung.pdf", PDF, "application/pdf")),
            ("insurance_file", ("police.pdf", PDF, "application/pdf")),
        ],
    )
    assert r.url.path.endswith("/steps/payment")
    check = walk_to(client, token, "check", steps)
    assert "erlaubnis.pdf" in check.text and "police.pdf" in check.text
    r = client.post(f"{URL}/submit", data={"csrf_token": token})
    case = db.exec(select(Case)).one()
    files = db.exec(select(Upload).where(Upload.case_id == case.id)).all()
    assert sorted(f.filename for f in files) == ["entscheidung.pdf", "erlaubnis.pdf", "police.pdf"]
    assert all(f.draft_id is None and f.size == len(PDF) for f in files)
    # The clerk sees and downloads the evidence.
    login(client, "clerk")
    page = client.get(f"/office/cases/{case.reference}")
    link = re.search(r'href="(/office/cases/[^"]+/files/\d+)"', page.text).group(1)
    download = client.get(link)
    assert download.content == PDF and download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")


def test_a_file_that_lies_about_its_type_is_refused_in_place(client, municipality):
    token = start(client)
    steps = answers(declared_dangerous="yes")
    walk_to(client, token, "dangerous_details", steps)
    r = post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[("permit_file", ("erlaubnis.pdf", HTML_AS_PDF, "application/pdf"))],
    )
    assert r.status_code == 422
    summary = r.text.split('class="error-summary-list"')[1].split("</ul>")[0]
    assert 'href="#permit_file"' in summary
    assert "PDF, JPG oder PNG" in summary
    assert 'id="permit_file-error"' in r.text
    assert 'value="Elster Versicherung"' in r.text  # the other answers stay filled in


def test_removing_an_uploaded_file(client, db, municipality):
    token = start(client)
    steps = answers(declared_dangerous="yes")
    walk_to(client, token, "dangerous_details", steps)
    post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[("permit_file", ("erlaubnis.pdf", PDF, "application/pdf"))],
        action="upload:permit_file",
    )
    upload = db.exec(select(Upload)).one()
    r = post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        action=f"remove_upload:{upload.id}",
    )
    assert r.status_code == 200 and "erlaubnis.pdf" not in r.text
    assert db.exec(select(Upload)).all() == []


def test_another_drafts_file_cannot_be_removed(client, db, municipality):
    token = start(client)
    steps = answers(declared_dangerous="yes")
    walk_to(client, token, "dangerous_details", steps)
    post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[("permit_file", ("erlaubnis.pdf", PDF, "application/pdf"))],
        action="upload:permit_file",
    )
    upload = db.exec(select(Upload)).one()
    client.cookies.clear()
    other = start(client)
    walk_to(client, other, "dangerous_details", steps)
    r = post_step(
        client,
        other,
        "dangerous_details",
        steps["dangerous_details"],
        action=f"remove_upload:{upload.id}",
    )
    assert r.status_code == 404
    assert db.exec(select(Upload)).one().id == upload.id


def test_evidence_of_a_reason_no_longer_chosen_is_not_filed(client, db, municipality):
    token = start(client)
    steps = answers()
    walk_to(client, token, "reduction", steps)
    post_step(
        client,
        token,
        "reduction",
        {"reduction_requested": "yes", "reduction_reason": "low_income"},
        files=[("evidence_low_income", ("bescheid.pdf", PDF, "application/pdf"))],
    )
    # The citizen changes their mind: no reduction after all.
    r = post_step(client, token, "reduction", {"reduction_requested": "no"})
    assert r.status_code == 200
    walk_to(client, token, "check", steps)
    client.post(f"{URL}/submit", data={"csrf_token": token})
    case = db.exec(select(Case)).one()
    assert "evidence_low_income" not in case.answers
    assert db.exec(select(Upload)).all() == []


# --- repeatable groups ------------------------------------------------------------------


def test_joint_keepers_are_a_repeatable_group(client, db, municipality):
    token = start(client)
    keeper = {**answers()["keeper"], "joint_keeping": "yes"}
    r = post_step(client, token, "keeper", keeper)
    assert r.status_code == 422 and "Weitere Halterinnen und Halter" in r.text
    data = {
        **keeper,
        "co_keepers.0.given_names": "Max",
        "co_keepers.0.family_name": "Muster",
        "co_keepers.0.birth_date": "01.02.1979",
    }
    r = post_step(client, token, "keeper", data, action="add_item:co_keepers")
    assert 'name="co_keepers.1.given_names"' in r.text
    data.update({"co_keepers.1.given_names": "Lena", "co_keepers.1.birth_date": "31.02.2001"})
    r = post_step(client, token, "keeper", data)
    assert r.status_code == 422
    assert (
        'href="#co_keepers-1-family_name"' in r.text and 'id="co_keepers-1-family_name"' in r.text
    )
    assert 'href="#co_keepers-1-birth_date"' in r.text
    assert "Bitte geben Sie „Weitere Halterin oder weiterer Halter 2: Familienname“ an." in r.text
    data.update({"co_keepers.1.family_name": "Muster", "co_keepers.1.birth_date": "28.02.2001"})
    r = post_step(client, token, "keeper", data)
    assert r.url.path.endswith("/steps/dog")
    draft = db.exec(select(Draft)).one()
    assert draft.answers["co_keepers"] == [
        {"given_names": "Max", "family_name": "Muster", "birth_date": "1979-02-01"},
        {"given_names": "Lena", "family_name": "Muster", "birth_date": "2001-02-28"},
    ]
    steps = answers()
    steps["keeper"] = data
    check = walk_to(client, token, "check", steps)
    assert "Weitere Halterin oder weiterer Halter 2" in check.text and "Lena" in check.text


# --- save and resume --------------------------------------------------------------------


def test_save_and_resume_in_another_browser(client, db, municipality):
    token = start(client)
    walk_to(client, token, "dangerous")
    r = post_step(client, token, "dangerous", {}, action="save")
    assert r.status_code == 200 and "Ihre Angaben sind gespeichert" in r.text
    link = re.search(r'href="http://testserver(/[^"]+/resume/[^"]+)"', r.text).group(1)
    mail = db.exec(select(OutboxMessage)).one()
    assert mail.kind == "resume_link" and mail.to_address == "erika@example.org"
    assert link in mail.body

    client.cookies.clear()  # another browser
    r = client.get(link)
    assert r.url.path.endswith("/steps/dangerous")
    assert "Willkommen zurück" in r.text
    keeper = client.get(f"{URL}/steps/keeper")
    assert 'value="Erika"' in keeper.text and 'value="12.08.1980"' in keeper.text
    dog = client.get(f"{URL}/steps/dog")
    assert 'value="276 0981 0000 1234"' in dog.text
    token = csrf_of(keeper.text)
    walk_to(client, token, "check")
    assert client.post(f"{URL}/submit", data={"csrf_token": token}).url.path.endswith(
        "/confirmation"
    )


def test_forged_or_expired_resume_links_get_a_clear_page(client, db, municipality):
    r = client.get(f"{URL}/resume/forged-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert r.status_code == 404 and "Link zum Fortsetzen ist ungültig oder abgelaufen" in r.text
    token = start(client)
    walk_to(client, token, "dog")
    r = post_step(client, token, "dog", {}, action="save")
    link = re.search(r'href="http://testserver(/[^"]+/resume/[^"]+)"', r.text).group(1)
    draft = db.exec(select(Draft)).one()
    draft.expires_at = utcnow() - timedelta(minutes=1)
    db.add(draft)
    db.commit()
    client.cookies.clear()
    assert client.get(link).status_code == 404


def test_expired_drafts_are_deleted_with_their_files(client, db, municipality):
    token = start(client)
    steps = answers(declared_dangerous="yes")
    walk_to(client, token, "dangerous_details", steps)
    post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[("permit_file", ("erlaubnis.pdf", PDF, "application/pdf"))],
        action="upload:permit_file",
    )
    assert purge_expired_drafts(db) == 0
    assert purge_expired_drafts(db, now=utcnow() + timedelta(days=31)) == 1
    db.commit()
    assert db.exec(select(Draft)).all() == [] and db.exec(select(Upload)).all() == []


# --- filing: receipt and mail -----------------------------------------------------------


def test_filing_produces_a_receipt_and_a_confirmation_mail(client, db, municipality):
    confirmation = file_registration(
        client, answers(reduction_requested="yes", reduction_reason="shelter_dog")
    )
    case = db.exec(select(Case)).one()
    receipt = db.exec(select(Document).where(Document.kind == "receipt")).one()
    link = re.search(r'href="(/status/[^"]+/documents/\d+)"', confirmation.text).group(1)
    pdf = client.get(link)
    assert pdf.content == receipt.content
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    compact = re.sub(r"\s+", "", text)
    upload = db.exec(select(Upload)).one()
    assert case.reference in text and upload.filename in text and upload.sha256 in compact
    mail = db.exec(select(OutboxMessage)).one()
    assert mail.kind == "filed" and mail.to_address == "erika@example.org"
    assert case.reference in mail.subject
    assert status_path(confirmation.text) in mail.body


def test_without_email_nothing_is_mailed(client, db, municipality):
    file_registration(client, answers(email=""))
    assert db.exec(select(OutboxMessage)).all() == []


def test_answers_are_not_written_to_logs(client, db, municipality, caplog):
    caplog.set_level(logging.DEBUG)
    file_registration(client)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Mustermann", "DE89370400440532013000", "276098100001234", "Torgauer"):
        assert secret not in logged


# --- information requests ---------------------------------------------------------------


def test_information_request_loop(client, db, clerk):
    confirmation = file_registration(client)
    reference = reference_of(confirmation.text)
    status = status_path(confirmation.text)
    citizen = client.cookies.get("amtsweg_session")
    login(client, "clerk")
    to_review(client, reference)
    r = act(client, reference, "request_information", comment="Bitte senden Sie den Kaufvertrag.")
    assert r.status_code == 200
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.kind == "information_request")).one()
    assert "Bitte senden Sie den Kaufvertrag." in mail.body and status in mail.body

    client.cookies.clear()
    client.cookies.set("amtsweg_session", citizen)
    page = client.get(status)
    assert "Die Stadt bittet Sie um Ergänzung" in page.text
    assert "Bitte senden Sie den Kaufvertrag." in page.text
    token = csrf_of(page.text)
    r = client.post(f"{status}/answer", data={"csrf_token": token, "answer_text": ""})
    assert r.status_code == 422 and 'href="#answer_text"' in r.text
    r = client.post(
        f"{status}/answer",
        data={"csrf_token": token, "answer_text": "Anbei."},
        files=[("answer_files", ("kaufvertrag.pdf", PDF, "application/pdf"))],
    )
    assert r.status_code == 200 and "Ihre Antwort ist eingegangen" in r.text
    case = db.exec(select(Case)).one()
    db.refresh(case)
    assert case.state == "answer_received"
    event = db.exec(select(CaseEvent).where(CaseEvent.action == "submit_answer")).one()
    assert event.comment == "Anbei." and event.data["files"][0]["filename"] == "kaufvertrag.pdf"
    assert db.exec(select(Upload).where(Upload.case_id == case.id)).one().slot == "answer"
    # Answering twice is refused clearly.
    r = client.post(f"{status}/answer", data={"csrf_token": token, "answer_text": "Nochmal"})
    assert r.status_code == 409
    client.cookies.clear()
    login(client, "clerk")
    assert act(client, reference, "resume_review").status_code == 200


def test_reply_deadline_must_lie_ahead(client, db, clerk):
    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    page = client.get(f"/office/cases/{reference}")
    r = client.post(
        f"/office/cases/{reference}/transitions/request_information",
        data={
            "csrf_token": csrf_of(page.text),
            "version": re.search(r'name="version" value="(\d+)"', page.text)[1],
            "comment": "x",
            "reply_by": "01.01.2020",
        },
    )
    assert r.status_code == 422 and "Antwortfrist muss in der Zukunft liegen" in r.text


# --- languages --------------------------------------------------------------------------


def test_language_switch_is_remembered_and_keeps_answers(client, municipality):
    token = start(client)
    r = post_step(
        client, token, "keeper", {"given_names": "Erika", "postal_code": "04916"}, action="lang:en"
    )
    assert r.url.path.endswith("/steps/keeper")
    assert '<html lang="en">' in r.text and "Given name(s)" in r.text
    assert 'value="Erika"' in r.text and 'value="04916"' in r.text
    r = post_step(client, token, "keeper", {"given_names": "Erika", "postal_code": "4916"})
    assert r.status_code == 422 and "The postcode must be exactly 5 digits" in r.text
    assert "There is a problem" in r.text
    start_page = client.get(URL)
    assert "Continue your registration" in start_page.text and "€36.00" in start_page.text
    r = client.get(f"/sprache/de?next={URL}")
    assert '<html lang="de">' in r.text and "36,00\xa0€" in r.text


def test_english_catalog_translates_every_page_text():
    """Every German message id in the templates has an English translation."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from services.config import ROOT

    ids = {
        m[2]
        for m in extract_from_dir(
            str(ROOT / "templates"),
            method_map=[("**.html", "jinja2")],
            options_map={"**.html": {"encoding": "utf-8"}},
        )
    }
    with (ROOT / "locale" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    untranslated = sorted(i for i in ids if not (catalog.get(i) and catalog.get(i).string))
    assert untranslated == []


# --- hostile and broken input -----------------------------------------------------------


def test_step_posted_out_of_order_redirects_with_a_message(client, municipality):
    token = start(client)
    r = post_step(client, token, "dangerous_details", {"insurer": "x"})
    assert r.url.path.endswith("/steps/keeper")
    assert "Diese Frage stellt sich nach Ihren bisherigen Angaben nicht" in r.text


def test_oversized_body_gets_a_clear_page(client, app, municipality):
    token = start(client)
    big = b"%PDF-1.4\n" + b"0" * (app.state.settings.max_body_bytes + 10)
    r = post_step(
        client,
        token,
        "keeper",
        answers()["keeper"],
        files=[("x", ("gross.pdf", big, "application/pdf"))],
    )
    assert r.status_code == 413 and "zu groß" in r.text


def test_too_large_file_in_a_slot_is_refused_in_place(client, municipality):
    token = start(client)
    steps = answers(declared_dangerous="yes")
    walk_to(client, token, "dangerous_details", steps)
    big = PDF + b"0" * (10 * 1024 * 1024)
    r = post_step(
        client,
        token,
        "dangerous_details",
        steps["dangerous_details"],
        files=[("permit_file", ("erlaubnis.pdf", big, "application/pdf"))],
    )
    assert r.status_code == 422 and "10 MB" in r.text


def test_broken_encoding_is_not_a_server_error(client, municipality):
    token = start(client)
    body = f"csrf_token={token}&given_names=%FF%FE%FA&family_name=M%C3%BCller".encode()
    r = client.post(
        f"{URL}/steps/keeper",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (400, 422)
    assert "Technischer Fehler" not in r.text


def test_tampered_action_and_hidden_fields_are_harmless(client, db, municipality):
    token = start(client)
    for action in ("remove_upload:abc", "remove_item:nope:9", "lang:xx", "explode"):
        r = post_step(client, token, "keeper", answers()["keeper"], action=action)
        assert r.status_code in (200, 404, 422), action
        assert "Technischer Fehler" not in r.text
    r = post_step(client, token, "keeper", answers()["keeper"], from_check="<script>")
    assert r.status_code == 200


def test_typed_but_invalid_answers_survive_save_and_language_switch(client, db, municipality):
    token = start(client)
    typed = {"given_names": "Erika", "postal_code": "4916", "birth_date": "12.08.198"}
    r = post_step(client, token, "keeper", typed, action="lang:en")
    assert 'value="4916"' in r.text and 'value="12.08.198"' in r.text  # as typed, no errors yet
    assert "There is a problem" not in r.text
    r = post_step(client, token, "keeper", typed, action="save")
    assert "We have saved them as you typed them" in r.text
    link = re.search(r'href="http://testserver(/[^"]+/resume/[^"]+)"', r.text).group(1)
    client.cookies.clear()
    resumed = client.get(link)
    assert 'value="4916"' in resumed.text and 'value="Erika"' in resumed.text
    r = post_step(client, csrf_of(resumed.text), "keeper", {**answers()["keeper"]})
    assert r.url.path.endswith("/steps/dog")
    draft = db.exec(select(Draft)).one()
    db.refresh(draft)
    assert "_pending" not in draft.answers and draft.answers["postal_code"] == "04916"


def test_status_page_shows_the_decision_instead_of_the_expected_date(client, db, case_factory):
    from services.cases.service import token_hash
    from services.timeutil import today_local

    pages = {}
    for state in ("in_review", "approved", "rejected"):
        case = case_factory(state)
        case.status_token_hash = token_hash(f"token-{state}")
        db.add(case)
        db.commit()
        pages[state] = client.get(f"/status/token-{state}").text
    today = today_local().strftime("%d.%m.%Y")
    assert "Voraussichtlich entschieden bis" in pages["in_review"]
    assert "Entschieden am" not in pages["in_review"]
    for state, decision in (("approved", "Genehmigt"), ("rejected", "Abgelehnt")):
        assert "Voraussichtlich entschieden bis" not in pages[state]
        assert f"Entschieden am {today}: {decision}" in pages[state]


def test_favicon_is_served_and_linked(client, municipality):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/").text
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert "/favicon.ico" in icons
    for href in icons:
        assert client.get(href).status_code == 200


def test_change_links_on_the_check_page_have_distinct_names(client, municipality):
    token = start(client)
    steps = answers(joint_keeping="yes", moved_in="yes", account_holder_differs="yes")
    steps["keeper"].update(
        {
            "moved_in_date": "01.03.2026",
            "previous_municipality": "Falkenberg/Elster",
            **{
                f"co_keepers.{i}.{k}": v
                for i in (0, 1)
                for k, v in (
                    ("given_names", f"Max{i}"),
                    ("family_name", "Muster"),
                    ("birth_date", "01.02.1979"),
                )
            },
        }
    )
    steps["sepa"].update({"account_holder_name": "Max Muster", "account_holder_address": "Ort 1"})
    check = walk_to(client, token, "check", steps)
    names = re.findall(r'>Ändern<span class="visually-hidden"> ([^<]*)</span>', check.text)
    assert "Ort" in names and "Ort der Mandatserteilung" in names
    assert "Weitere Halterin oder weiterer Halter 2" in names
    assert len(names) > 20 and sorted(n for n in set(names) if names.count(n) > 1) == []


def test_language_switch_keeps_the_problems_the_page_showed(client, municipality):
    token = start(client)
    typed = {"given_names": "Erika", "postal_code": "4916"}
    r = post_step(client, token, "keeper", typed)
    assert r.status_code == 422 and "Es gibt ein Problem" in r.text
    assert 'name="errors_shown" value="1"' in r.text
    r = post_step(client, token, "keeper", typed, action="lang:en", errors_shown="1")
    assert r.status_code == 422 and '<html lang="en">' in r.text
    assert "There is a problem" in r.text and "The postcode must be exactly 5 digits" in r.text
    assert 'value="4916"' in r.text and 'value="Erika"' in r.text
    assert '<html lang="en">' in client.get(f"{URL}/steps/keeper").text  # remembered


def test_form_texts_name_the_municipality_asking(client, municipality, other_municipality):
    def keeper_step(url: str) -> str:
        token = csrf_of(client.get(url).text)
        return client.post(f"{url}/start", data={"csrf_token": token}).text

    falkenberg = keeper_step("/falkenberg-elster/hund-anmelden")
    assert "Sind Sie mit dem Hund neu nach Falkenberg/Elster gezogen?" in falkenberg
    assert "Herzberg" not in falkenberg and "{municipality}" not in falkenberg
    herzberg = keeper_step(URL)
    assert "Sind Sie mit dem Hund neu nach Herzberg (Elster) gezogen?" in herzberg


def test_language_switch_on_the_status_pages_keeps_the_problems_and_does_nothing(client, db, clerk):
    """On the withdrawal page and the answer form, a page that shows problems makes the
    header's language switch post the form: the same problems and text in the other
    language, and neither a withdrawal nor an answer is sent."""

    def state() -> str:
        db.expire_all()
        return db.exec(select(Case)).one().state

    confirmation = file_registration(client)
    reference = reference_of(confirmation.text)
    status = status_path(confirmation.text)
    citizen = client.cookies.get("amtsweg_session")
    token = csrf_of(client.get(f"{status}/withdraw").text)
    r = client.post(f"{status}/withdraw", data={"csrf_token": token, "reason": "Umzug\x01"})
    assert r.status_code == 422 and 'form="withdraw-form" name="action" value="lang:en"' in r.text
    r = client.post(
        f"{status}/withdraw",
        data={"csrf_token": token, "reason": "Umzug\x01", "action": "lang:en"},
    )
    assert r.status_code == 422 and '<html lang="en">' in r.text
    assert "There is a problem" in r.text and "U+0001" in r.text and "Umzug" in r.text
    # A valid reason with the switch: the page again (now German), still not withdrawn.
    r = client.post(
        f"{status}/withdraw", data={"csrf_token": token, "reason": "Umzug", "action": "lang:de"}
    )
    assert r.status_code == 200 and '<html lang="de">' in r.text and state() == "submitted"

    login(client, "clerk")
    act(client, reference, "start_check")
    act(client, reference, "request_information", comment="Bitte Ausweis senden.")
    client.cookies.clear()
    client.cookies.set("amtsweg_session", citizen)
    token = csrf_of(client.get(status).text)
    r = client.post(f"{status}/answer", data={"csrf_token": token, "answer_text": ""})
    assert r.status_code == 422 and 'form="answer-form"' in r.text
    r = client.post(
        f"{status}/answer", data={"csrf_token": token, "answer_text": "", "action": "lang:en"}
    )
    assert r.status_code == 422 and "There is a problem" in r.text
    assert "Your answer" in r.text
    r = client.post(
        f"{status}/answer",
        data={"csrf_token": token, "answer_text": "Anbei.", "action": "lang:en"},
    )
    assert r.status_code == 200 and "Anbei." in r.text and state() == "information_requested"
