"""Free text outside the form engine follows the same character rule as every form answer
(``forms.check_text``): the citizen's reply to an information request, the withdrawal reason
and a clerk's comment are refused with a message where they were typed, nothing changes, and
never "Technischer Fehler" (PostgreSQL cannot store a NUL; a right-to-left override would
turn the rejection reason around in the notice). Also: item numbers in portal buttons that
are no ASCII number are ignored, not a 500."""

from __future__ import annotations

import html

import pytest
from sqlmodel import select

from services.cases.models import Case
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
)

HOSTILE = [("Anbei\x00.", "U+0000"), ("\u202eAnbei.", "U+202E")]


def field_error(page: str, field_id: str) -> str:
    """The message shown at the field (``<p id="…-error">``), unescaped."""
    _, _, rest = page.partition(f'id="{field_id}-error"')
    assert rest, f"no message at {field_id}"
    return html.unescape(rest.split("</p>", 1)[0])


def state_of(db) -> str:
    db.expire_all()
    return db.exec(select(Case)).one().state


def test_citizen_and_clerk_texts_with_control_characters_are_refused_in_place(client, db, clerk):
    confirmation = file_registration(client)
    reference = reference_of(confirmation.text)
    status = status_path(confirmation.text)
    citizen = client.cookies.get("amtsweg_session")

    # The withdrawal reason: the page again, with the message at the field and the text kept.
    form = client.get(f"{status}/withdraw")
    for text, code in HOSTILE:
        r = client.post(
            f"{status}/withdraw", data={"csrf_token": csrf_of(form.text), "reason": text}
        )
        assert r.status_code == 422 and "Technischer Fehler" not in r.text
        assert f"unsichtbares Steuerzeichen ({code})" in field_error(r.text, "reason")
        assert 'href="#reason"' in r.text
    assert state_of(db) == "submitted"

    # A clerk's comment: the case page with the reason, nothing done.
    login(client, "clerk")
    assert act(client, reference, "start_check").status_code == 200
    r = act(client, reference, "request_information", comment="Bitte\x00 Ausweis senden.")
    assert r.status_code == 422 and "Technischer Fehler" not in r.text
    assert "„Begründung“ enthält ein unsichtbares Steuerzeichen (U+0000)" in html.unescape(r.text)
    assert state_of(db) == "completeness_check"
    r = act(client, reference, "request_information", comment="Bitte Ausweis senden.")
    assert r.status_code == 200 and state_of(db) == "information_requested"

    # The citizen's answer.
    client.cookies.clear()
    client.cookies.set("amtsweg_session", citizen)
    token = csrf_of(client.get(status).text)
    for text, code in HOSTILE:
        r = client.post(f"{status}/answer", data={"csrf_token": token, "answer_text": text})
        assert r.status_code == 422 and "Technischer Fehler" not in r.text
        assert f"unsichtbares Steuerzeichen ({code})" in field_error(r.text, "answer_text")
    assert state_of(db) == "information_requested"
    client.cookies.set("amtsweg_lang", "en")
    r = client.post(f"{status}/answer", data={"csrf_token": token, "answer_text": "\u202eA"})
    assert "“Your answer” contains an invisible control character (U+202E)" in field_error(
        r.text, "answer_text"
    )
    r = client.post(f"{status}/answer", data={"csrf_token": token, "answer_text": "Anbei."})
    assert r.status_code == 200 and state_of(db) == "answer_received"

    # A rejection reason (printed in the rejection notice).
    client.cookies.clear()
    login(client, "clerk")
    assert act(client, reference, "resume_review").status_code == 200
    for text, code in [("Abgelehnt\x00", "U+0000"), ("Grund: \u202eabgelehnt", "U+202E")]:
        r = act(client, reference, "reject", comment=text)
        assert r.status_code == 422 and "Technischer Fehler" not in r.text
        assert f"„Begründung“ enthält ein unsichtbares Steuerzeichen ({code})" in (
            html.unescape(r.text)
        )
    assert state_of(db) == "in_review"


@pytest.mark.parametrize(
    "action", ["remove_item:co_keepers:²", "remove_item:co_keepers:99999999999"]
)
def test_remove_item_with_no_plain_number_changes_nothing(client, municipality, action):
    token = start(client)
    r = client.post(
        f"{URL}/steps/keeper", data={"csrf_token": token, **answers()["keeper"], "action": action}
    )
    assert r.status_code == 200 and r.url.path == f"{URL}/steps/keeper"


@pytest.mark.parametrize("action", ["remove_upload:²", "remove_upload:99999999999"])
def test_remove_upload_with_no_plain_number_is_not_found(client, municipality, action):
    token = start(client)
    r = client.post(
        f"{URL}/steps/keeper", data={"csrf_token": token, **answers()["keeper"], "action": action}
    )
    assert r.status_code == 404 and "Diese Datei gibt es nicht" in r.text
