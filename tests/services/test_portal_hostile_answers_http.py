"""Hostile or implausible answers in the portal are refused at the field, with a message the
citizen can act on, and the corrected filing goes through: a NUL in a name (PostgreSQL
cannot store it: the submit used to fail with "Technischer Fehler"), a right-to-left override
in the address (the notice printed "04916 grebzreH"), an emoji the notice cannot print, and a
date of birth in 1800."""

from __future__ import annotations

import html

from tests.conftest import URL, answers, reference_of, start


def post_step(client, token, step, data):
    return client.post(f"{URL}/steps/{step}", data={"csrf_token": token, **data})


def field_error(page: str, field_id: str) -> str:
    """The message shown at the field (``<p id="…-error">``), unescaped."""
    _, _, rest = page.partition(f'id="{field_id}-error"')
    assert rest, f"no message at {field_id}"
    return html.unescape(rest.split("</p>", 1)[0])


def test_invisible_unprintable_and_implausible_answers_are_refused_at_the_field(
    client, municipality, db
):
    token = start(client)
    steps = answers()
    hostile = {
        **steps["keeper"],
        "family_name": "Muster\x00mann",
        "town": "\u202eHerzberg (Elster)",
        "birth_date": "01.01.1800",
    }
    r = post_step(client, token, "keeper", hostile)
    assert r.status_code == 422 and r.url.path == f"{URL}/steps/keeper"
    assert "Technischer Fehler" not in r.text
    assert "unsichtbares Steuerzeichen (U+0000)" in field_error(r.text, "family_name")
    assert "unsichtbares Steuerzeichen (U+202E)" in field_error(r.text, "town")
    assert "nicht mehr als 130 Jahre zurückliegen" in field_error(r.text, "birth_date")

    r = post_step(client, token, "keeper", steps["keeper"])
    assert r.status_code == 200 and r.url.path == f"{URL}/steps/dog"
    r = post_step(client, token, "dog", {**steps["dog"], "dog_name": "Bello 🐶"})
    assert r.status_code == 422
    assert "„🐶“ (U+1F436)" in field_error(r.text, "dog_name")
    assert "nicht gedruckt" in field_error(r.text, "dog_name")

    # Corrected, the filing goes through.
    r = post_step(client, token, "dog", steps["dog"])
    while (step := r.url.path.rsplit("/", 1)[-1]) != "check":
        r = post_step(client, token, step, steps[step])
        assert r.status_code == 200, step
    r = client.post(f"{URL}/submit", data={"csrf_token": token})
    assert r.url.path == f"{URL}/confirmation"
    assert reference_of(r.text)


def test_english_message_for_a_control_character(client, municipality):
    token = start(client)
    client.cookies.set("amtsweg_lang", "en")
    r = post_step(client, token, "keeper", {**answers()["keeper"], "street": "Markt\x1b 1"})
    assert r.status_code == 422
    assert "“Street” contains an invisible control character (U+001B)" in field_error(
        r.text, "street"
    )
