"""The one summary renderer: check page, confirmation, clerk view and documents."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import forms
from forms import load_definition, summarize, validate
from forms.summary import format_chip, mask_iban

DEFINITION = load_definition(Path(forms.__file__).parent / "definitions" / "dog_registration.yaml")
TODAY = date(2026, 5, 14)

FILING = {
    "given_names": "Erika",
    "family_name": "Mustermann",
    "birth_date": "12.08.1964",
    "street": "Markt",
    "house_number": "1",
    "postal_code": "04916",
    "town": "Herzberg (Elster)",
    "joint_keeping": "no",
    "moved_in": "yes",
    "moved_in_date": "01.04.2026",
    "previous_municipality": "Torgau",
    "dog_name": "Bello",
    "breed": "Mischling (Schäferhund)",
    "colour": "schwarz",
    "sex": "female",
    "dog_birth_date": "01.06.2021",
    "chip_number": "276-0981-0000-1234",
    "intake_date": "2026-05-14",
    "acquired_from_person": "no",
    "declared_dangerous": "no",
    "reduction_requested": "yes",
    "reduction_reason": "shelter_dog",
    "evidence_shelter": [
        {
            "id": 7,
            "filename": "tierheimvertrag.pdf",
            "size": 2048,
            "media_type": "application/pdf",
            "sha256": "ab" * 32,
        }
    ],
    "payment_method": "direct_debit",
    "payment_interval": "annual",
    "account_holder_differs": "no",
    "iban": "de89 3704 0044 0532 0130 00",
    "mandate_place": "Herzberg (Elster)",
    "sepa_consent": "yes",
    "privacy_read": "yes",
    "truthful": "yes",
}


def clean_answers(**changes: str) -> dict:
    clean, errors = validate(DEFINITION, {**FILING, **changes}, today=TODAY)
    assert errors == []
    return clean


def rows(answers: dict, **kwargs) -> dict[str, str]:
    return {r.field: r.value for s in summarize(DEFINITION, answers, **kwargs) for r in s.rows}


def labels(answers: dict, **kwargs) -> dict[str, str]:
    return {r.field: r.label for s in summarize(DEFINITION, answers, **kwargs) for r in s.rows}


def test_dates_are_shown_in_german_form():
    shown = rows(clean_answers())
    assert shown["intake_date"] == "14.05.2026"
    assert shown["birth_date"] == "12.08.1964"
    assert shown["moved_in_date"] == "01.04.2026"


def test_yes_no_as_ja_nein_and_confirmations_as_bestaetigt():
    shown = rows(clean_answers())
    assert shown["moved_in"] == "Ja"
    assert shown["acquired_from_person"] == "Nein"
    assert shown["declared_dangerous"] == "Nein"
    assert shown["truthful"] == "Bestätigt"


def test_choice_shows_the_label_not_the_code():
    shown = rows(clean_answers())
    assert shown["sex"] == "Hündin"
    assert shown["reduction_reason"] == "Hund aus einem Tierheim"
    assert shown["payment_interval"] == "Jährlich in einem Betrag"


def test_chip_is_grouped():
    assert rows(clean_answers())["chip_number"] == "276 0981 0000 1234"
    assert format_chip("900123456789012") == "900 1234 5678 9012"


def test_iban_grouped_in_full_or_masked():
    answers = clean_answers()
    assert rows(answers)["iban"] == "DE89 3704 0044 0532 0130 00"
    masked = rows(answers, mask=True)["iban"]
    assert masked == "DE89 **** **** **** **30 00"
    assert "37040044" not in masked.replace(" ", "")
    assert mask_iban("DE89 3704 0044 0532 0130 00") == masked


def test_postal_code_keeps_its_leading_zero():
    assert rows(clean_answers())["postal_code"] == "04916"


def test_sections_follow_visible_steps_with_german_titles():
    sections = summarize(DEFINITION, clean_answers())
    assert [s.step for s in sections] == [
        "keeper",
        "dog",
        "dangerous",
        "reduction",
        "payment",
        "sepa",
        "declarations",
    ]
    assert sections[0].title == "Angaben zur Halterin oder zum Halter"
    assert [r.field for r in sections[0].rows][:3] == ["given_names", "family_name", "birth_date"]
    assert sections[0].rows[0].label == "Vorname(n)"


def test_hidden_steps_are_absent_even_with_stale_answers():
    answers = clean_answers(payment_method="transfer")
    # Stale SEPA answers and dangerous-dog details that a pruned draft would not hold:
    answers |= {"iban": "DE89370400440532013000", "dangerous_file_number": "32-17/2026"}
    sections = summarize(DEFINITION, answers)
    steps = [s.step for s in sections]
    assert "sepa" not in steps and "dangerous_details" not in steps
    assert "iban" not in rows(answers)
    assert "dangerous_file_number" not in rows(answers)
    assert rows(answers)["payment_method"] == "Überweisung (Sie überweisen selbst)"


def test_unanswered_optional_fields_are_not_listed():
    shown = rows(clean_answers())
    assert "email" not in shown and "phone" not in shown
    assert "previous_address" not in shown


def test_english_labels_and_values():
    answers = clean_answers()
    sections = summarize(DEFINITION, answers, lang="en")
    assert sections[0].title == "About the keeper"
    shown = rows(answers, lang="en")
    named = labels(answers, lang="en")
    assert named["given_names"] == "Given name(s)"
    assert named["chip_number"] == "Microchip number"
    assert shown["sex"] == "Female"
    assert shown["moved_in"] == "Yes"
    assert shown["acquired_from_person"] == "No"
    assert shown["truthful"] == "Confirmed"
    assert shown["intake_date"] == "14/05/2026"  # British English date order


def test_dangerous_dog_summary_shows_details_and_no_reduction():
    answers = clean_answers(
        declared_dangerous="yes",
        dangerous_decision_date="02.01.2026",
        dangerous_file_number="32-17/2026",
        permit_number="32-E-4/2026",
        insurer="Musterversicherung AG",
        policy_number="HV-1",
        dangerous_decision_file=[{"id": 1, "filename": "entscheidung.pdf"}],
        permit_file=[{"id": 2, "filename": "erlaubnis.pdf"}, {"id": 3, "filename": "anlage.png"}],
        insurance_file=[{"id": 4, "filename": "police.pdf"}],
    )
    assert rows(answers)["permit_file"] == "erlaubnis.pdf; anlage.png"
    steps = [s.step for s in summarize(DEFINITION, answers)]
    assert "dangerous_details" in steps and "reduction" not in steps
    assert rows(answers)["dangerous_decision_date"] == "02.01.2026"
