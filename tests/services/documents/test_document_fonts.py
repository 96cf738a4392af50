"""The characters the documents can print are those of the fonts letter.css names: the form
engine refuses the others (an emoji would print as an empty box)."""

from __future__ import annotations

from pathlib import Path

import pytest

import forms
from forms import load_definition, validate
from services.documents.fonts import families, printable

DOG = load_definition(Path(forms.__file__).parent / "definitions" / "dog_registration.yaml")


def test_the_fonts_are_those_the_letters_are_set_in():
    assert families() == ["Liberation Sans", "DejaVu Sans"]


@pytest.mark.parametrize(
    "text",
    ["Jürgen Groß-Ößwald", "ẞ € „“ – ‚‘ § ° ½", "Zoë Çelik, Łukasz, Ελένη, Анна", "\u00a0"],
)
def test_german_and_european_text_is_printable(text):
    assert all(printable(char) for char in text)


@pytest.mark.parametrize("char", ["🐶", "🦴", "中", "\U0010ffff"])
def test_characters_without_a_glyph_are_not_printable(char):
    assert not printable(char)


def test_the_form_engine_refuses_them_with_the_documents_fonts():
    _, errors = validate(DOG, {"dog_name": "Bello 🐶"}, printable=printable)
    [error] = [e for e in errors if e.field == "dog_name"]
    assert error.message() == (
        "„Rufname des Hundes“ enthält das Zeichen „🐶“ (U+1F436), das in Bescheiden nicht "
        "gedruckt werden kann. Bitte lassen Sie es weg oder ersetzen Sie es."
    )
