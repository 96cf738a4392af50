"""Hostile or implausible answers the form engine refuses with a message at the field:
invisible control and bidirectional characters (a NUL cannot be stored in PostgreSQL, a
right-to-left override prints an address backwards), characters the documents cannot print
(an emoji would come out as an empty box) and dates of birth centuries ago."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import forms
from forms import DefinitionError, load_definition, parse_definition, validate

TODAY = date(2026, 5, 14)
DOG = load_definition(Path(forms.__file__).parent / "definitions" / "dog_registration.yaml")
FORM = parse_definition(
    {
        "id": "characters",
        "version": 1,
        "title": "Zeichen",
        "steps": [
            {
                "id": "only",
                "title": "Schritt",
                "fields": [
                    {"id": "name", "type": "text", "label": {"de": "Name", "en": "Name"}},
                    {"id": "note", "type": "textarea", "label": {"de": "Notiz", "en": "Note"}},
                    {"id": "mail", "type": "email", "label": "E-Mail"},
                    {"id": "town", "type": "postal_code", "label": "PLZ"},
                    {
                        "id": "others",
                        "type": "group",
                        "label": "Weitere",
                        "item_label": "Person",
                        "fields": [{"id": "who", "type": "text", "label": "Name"}],
                    },
                ],
            }
        ],
    }
)


def no_emoji(char: str) -> bool:
    """A stand-in for the documents' fonts: everything but the pictographs."""
    return not 0x1F300 <= ord(char) <= 0x1FAFF


def errors_of(data: dict, printable=no_emoji) -> dict[str, object]:
    _, errors = validate(FORM, data, today=TODAY, printable=printable)
    return {e.field: e for e in errors}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "Erika\x00Mustermann", "U+0000"),
        ("name", "Erika\x01", "U+0001"),
        ("name", "Er\x1b[31mika", "U+001B"),  # ESC of a terminal colour sequence
        ("name", "Erika\x7f", "U+007F"),
        ("name", "Erika\x9b", "U+009B"),
        ("name", "Erika\tMustermann", "U+0009"),  # one line: no tab
        ("name", "Erika\nMustermann", "U+000A"),
        ("name", "04916 \u202eHerzberg", "U+202E"),  # right-to-left override
        ("name", "\u202aErika", "U+202A"),
        ("name", "Erika\u2066x\u2069", "U+2066"),  # isolates
        ("name", "Erika\u200f", "U+200F"),  # right-to-left mark
        ("name", "Erika\u200e", "U+200E"),
        ("name", "Erika\u061c", "U+061C"),  # Arabic letter mark
        ("name", "Erika\ud800", "U+D800"),  # a lone surrogate, only JSON can send it
        ("note", "Zeile 1\x00", "U+0000"),
        ("note", "rechts\u202elinks", "U+202E"),
        ("mail", "erika\x00@example.org", "U+0000"),
        ("town", "0491\x006", "U+0000"),
        ("others", [{"who": "Max\u202e"}], "U+202E"),
    ],
)
def test_invisible_control_characters_are_refused_naming_them(field, value, code):
    errors = errors_of({field: value})
    path = "others.0.who" if field == "others" else field
    assert list(errors) == [path]
    error = errors[path]
    assert error.key == "char_control"
    assert code in error.message("de") and "Steuerzeichen" in error.message("de")
    assert code in error.message("en") and "control character" in error.message("en")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Jürgen Groß-Ößwald"),
        ("name", "Zoë Çelik, Łukasz Nowak, Ελένη, Анна"),
        ("name", "Anne-Marie O’Neil (geb. „Meier“) – 1,5 €"),
        ("note", "Zeile 1\r\nZeile 2\n\tEingerückt"),  # long text keeps its line breaks
        ("name", "  Erika  "),
    ],
)
def test_ordinary_text_is_accepted(field, value):
    assert errors_of({field: value}) == {}


@pytest.mark.parametrize(
    ("field", "value", "char"),
    [
        ("name", "Bello 🐶", "🐶"),
        ("note", "Danke! 🙏", "🙏"),
        ("others", [{"who": "🦴"}], "🦴"),
    ],
)
def test_characters_the_documents_cannot_print_are_refused_naming_them(field, value, char):
    errors = errors_of({field: value})
    path = "others.0.who" if field == "others" else field
    error = errors[path]
    assert error.key == "char_unprintable"
    code = f"U+{ord(char):04X}"
    assert f"„{char}“ ({code})" in error.message("de")
    assert "nicht gedruckt" in error.message("de")
    assert f"“{char}” ({code})" in error.message("en")


def test_without_a_printable_rule_only_control_characters_are_refused():
    assert errors_of({"name": "Bello 🐶"}, printable=None) == {}
    assert errors_of({"name": "Bello\x00"}, printable=None)["name"].key == "char_control"


# --- plausible dates of birth -----------------------------------------------------------------


def dog_errors(**changes: str) -> dict[str, object]:
    data = {
        "given_names": "Erika",
        "family_name": "Mustermann",
        "birth_date": "12.08.1964",
        "dog_birth_date": "01.06.2021",
        **changes,
    }
    _, errors = validate(DOG, data, today=TODAY)
    return {e.field: e for e in errors if e.field in changes}


@pytest.mark.parametrize(
    ("field", "value", "years"),
    [
        ("birth_date", "01.01.0001", 130),
        ("birth_date", "12.08.1800", 130),
        ("birth_date", "13.05.1895", 130),  # 131 years old on 14.05.2026
        ("dog_birth_date", "01.01.1990", 30),
    ],
)
def test_birth_dates_long_ago_are_refused(field, value, years):
    error = dog_errors(**{field: value})[field]
    assert error.key == "date_too_old"
    assert f"nicht mehr als {years} Jahre zurückliegen" in error.message("de")
    assert f"more than {years} years ago" in error.message("en")


@pytest.mark.parametrize(
    ("field", "value"),
    [("birth_date", "14.05.1896"), ("birth_date", "12.08.1964"), ("dog_birth_date", "14.05.1996")],
)
def test_birth_dates_within_the_limit_are_accepted(field, value):
    assert dog_errors(**{field: value}) == {}


def test_max_years_ago_is_only_allowed_on_date_fields():
    raw = {
        "id": "x",
        "version": 1,
        "title": "X",
        "steps": [
            {
                "id": "s",
                "title": "S",
                "fields": [{"id": "name", "type": "text", "label": "Name", "max_years_ago": 5}],
            }
        ],
    }
    with pytest.raises(DefinitionError, match="max_years_ago is only allowed on date fields"):
        parse_definition(raw)
