"""Behaviour of the form validator against the real dog-registration definition.

Rules: shared/domain.md section 4 (chip ISO 11784, IBAN, postal code, dates) and the
conditional structure of forms/definitions/dog_registration.yaml.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

import forms
from forms import (
    fields_to_render,
    load_definition,
    parse_definition,
    prune,
    validate,
    validate_steps,
    visible_steps,
)

DEFINITION = load_definition(
    Path(forms.__file__).parent / "definitions" / "dog_registration.yaml"
).for_municipality("Herzberg (Elster)")
TODAY = date(2026, 5, 14)

# A complete, valid filing as an HTML form would post it (strings only).
VALID: dict[str, str] = {
    "given_names": "Erika",
    "family_name": "Mustermann",
    "birth_date": "12.08.1964",
    "street": "Markt",
    "house_number": "1",
    "postal_code": "04916",
    "town": "Herzberg (Elster)",
    "email": "erika.mustermann@beispiel.de",
    "phone": "03535 482253",
    "joint_keeping": "no",
    "moved_in": "no",
    "dog_name": "Bello",
    "breed": "Mischling (Schäferhund)",
    "colour": "schwarz",
    "sex": "male",
    "dog_birth_date": "01.06.2021",
    "chip_number": "276 0981 0000 1234",
    "intake_date": "14.05.2026",
    "acquired_from_person": "no",
    "declared_dangerous": "no",
    "reduction_requested": "no",
    "payment_method": "direct_debit",
    "payment_interval": "quarterly",
    "account_holder_differs": "no",
    "iban": "DE89 3704 0044 0532 0130 00",
    "bic": "",
    "mandate_place": "Herzberg (Elster)",
    "sepa_consent": "yes",
    "privacy_read": "yes",
    "truthful": "yes",
}

DANGEROUS_DETAILS = {
    "dangerous_decision_date": "02.01.2026",
    "dangerous_file_number": "32-HundehV-17/2026",
    "permit_number": "32-E-4/2026",
    "insurer": "Musterversicherung AG",
    "policy_number": "HV-123456",
    "dangerous_decision_file": [{"id": 1, "filename": "entscheidung.pdf"}],
    "permit_file": [{"id": 2, "filename": "erlaubnis.pdf"}],
    "insurance_file": [{"id": 3, "filename": "versicherung.pdf"}],
}


def run(**changes: object) -> tuple[dict, dict]:
    """Validate VALID with ``changes`` (value None removes the key); errors keyed by field."""
    data: dict[str, object] = dict(VALID)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    clean, errors = validate(DEFINITION, data, today=TODAY)
    by_field = {}
    for e in errors:
        assert e.field not in by_field, f"two errors for {e.field}"
        by_field[e.field] = e
    return clean, by_field


def only_error(field: str, **changes: object):
    clean, errors = run(**changes)
    assert set(errors) == {field}, {k: e.message() for k, e in errors.items()}
    assert field not in clean
    return errors[field]


# --- the complete filing -------------------------------------------------------------------


def test_complete_filing_has_no_errors_and_clean_data_is_json():
    clean, errors = run()
    assert errors == {}
    assert json.loads(json.dumps(clean)) == clean
    assert clean["birth_date"] == "1964-08-12"
    assert clean["postal_code"] == "04916"
    assert clean["moved_in"] is False
    assert clean["chip_number"] == "276098100001234"
    assert clean["iban"] == "DE89370400440532013000"
    assert clean["sepa_consent"] is True
    # Optional fields left empty are not stored (the BIC is derived from a German IBAN);
    # hidden steps are not stored.
    assert "phone" in clean and "previous_address" not in clean
    assert clean["bic"] == "COBADEFFXXX"
    assert "dangerous_decision_date" not in clean


def test_validate_is_deterministic():
    data = {**VALID, "chip_number": "999 0000 0000 0000", "birth_date": "31.02.1970"}
    first = validate(DEFINITION, data, today=TODAY)
    second = validate(DEFINITION, data, today=TODAY)
    assert first == second
    assert [e.field for e in first[1]] == ["birth_date", "chip_number"]


def test_clean_data_validates_again_unchanged():
    # Services re-validate stored (clean) answers to find the first incomplete step.
    clean, _ = run()
    again, errors = validate(DEFINITION, clean, today=TODAY)
    assert errors == []
    assert again == clean


def test_json_api_values_are_accepted():
    clean, errors = run(moved_in=False, declared_dangerous=False, sepa_consent=True)
    assert errors == {}
    assert clean["moved_in"] is False and clean["sepa_consent"] is True


# --- required fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("given_names", "Vorname(n)"),
        ("family_name", "Familienname"),
        ("birth_date", "Geburtsdatum"),
        ("town", "Ort"),
        ("chip_number", "Chipnummer (Transpondernummer)"),
        ("iban", "IBAN"),
    ],
)
def test_missing_required_field_gives_german_message_naming_it(field, label):
    error = only_error(field, **{field: None})
    assert error.message() == f"Bitte geben Sie „{label}“ an."


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_counts_as_missing(blank):
    data = {**VALID, "family_name": blank}
    _, errors = validate(DEFINITION, data, today=TODAY)
    assert [(e.field, e.key) for e in errors] == [("family_name", "required")]


def test_missing_choice_asks_to_select():
    error = only_error("moved_in", moved_in=None)
    assert error.message() == (
        "Bitte wählen Sie bei „Sind Sie mit dem Hund neu nach Herzberg (Elster) gezogen?“ "
        "eine Antwort aus."
    )
    assert only_error("sex", sex="").message().startswith("Bitte wählen Sie bei „Geschlecht“")


def test_missing_confirmation_asks_to_confirm():
    error = only_error("truthful", truthful=None)
    assert error.message() == (
        "Bitte bestätigen Sie: Ich versichere, dass meine Angaben wahr und vollständig sind."
    )


def test_unticked_confirmation_is_refused():
    assert only_error("privacy_read", privacy_read="no").key == "required_confirm"


def test_english_messages_with_lang_en():
    _, errors = validate(DEFINITION, {**VALID, "family_name": ""}, today=TODAY, lang="en")
    assert errors[0].message("en") == "Enter “Family name”."
    # The same error object speaks German too: labels are resolved when the message is shown.
    assert errors[0].message("de") == "Bitte geben Sie „Familienname“ an."


def test_empty_filing_lists_every_required_field_of_the_default_path():
    _, errors = validate(DEFINITION, {}, today=TODAY)
    fields = [e.field for e in errors]
    assert fields[:3] == ["given_names", "family_name", "birth_date"]
    assert "email" not in fields and "phone" not in fields  # optional
    assert "moved_in_date" not in fields  # only if moved in
    assert "iban" not in fields  # SEPA step only for direct debit
    assert {"declared_dangerous", "payment_method", "privacy_read", "truthful"} <= set(fields)


def test_too_long_text_is_refused():
    error = only_error("family_name", family_name="x" * 101)
    assert error.message() == "„Familienname“ darf höchstens 100 Zeichen lang sein."
    clean, errors = run(family_name="x" * 100)
    assert errors == {} and clean["family_name"] == "x" * 100


def test_text_is_trimmed():
    clean, _ = run(given_names="  Erika  ")
    assert clean["given_names"] == "Erika"


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("27.03.2024", "2024-03-27"),
        ("7.3.2024", "2024-03-07"),
        ("2024-03-27", "2024-03-27"),
        (" 27.03.2024 ", "2024-03-27"),
        ("29.02.2024", "2024-02-29"),
        ("27/03/2024", "2024-03-27"),  # British order, as English-speaking citizens type it
    ],
)
def test_dates_in_german_and_iso_form_are_accepted(raw, iso):
    clean, errors = run(dog_birth_date=raw)
    assert errors == {}
    assert clean["dog_birth_date"] == iso


@pytest.mark.parametrize(
    "raw",
    [
        "31.02.2024",
        "29.02.2023",
        "00.01.2024",
        "32.01.2024",
        "27.13.2024",
        "2024-02-30",
        "27.03.24",
        "27/13/2024",
        "gestern",
        "2024-03",
    ],
)
def test_impossible_or_malformed_dates_are_refused(raw):
    error = only_error("dog_birth_date", dog_birth_date=raw)
    assert error.key == "date_invalid"
    assert error.message() == (
        "„Wurfdatum (Geburtsdatum des Hundes)“ muss ein gültiges Datum sein, "
        "zum Beispiel 27.03.2024."
    )


def test_future_date_is_refused_and_today_is_accepted():
    error = only_error("intake_date", intake_date="15.05.2026")
    assert error.message() == "„Seit wann halten Sie den Hund?“ darf nicht in der Zukunft liegen."
    clean, errors = run(intake_date="14.05.2026")
    assert errors == {} and clean["intake_date"] == "2026-05-14"


def test_future_depends_on_today_passed_in():
    data = {**VALID, "intake_date": "20.05.2026"}
    _, later = validate(DEFINITION, data, today=date(2026, 5, 20))
    _, earlier = validate(DEFINITION, data, today=date(2026, 5, 19))
    assert later == []
    assert [e.key for e in earlier] == ["date_future"]


def test_future_birth_date_of_keeper_is_refused():
    assert only_error("birth_date", birth_date="01.01.2030").key == "date_future"


def test_date_allowed_in_future_where_definition_says_so():
    clean, errors = run(
        reduction_requested="yes",
        reduction_reason="shelter_dog",
        evidence_shelter=[{"id": 5, "filename": "tierheimvertrag.pdf"}],
        reduction_valid_until="31.12.2027",
    )
    assert errors == {}
    assert clean["reduction_valid_until"] == "2027-12-31"


def test_intake_before_dog_birth_is_refused():
    error = only_error("intake_date", dog_birth_date="01.06.2021", intake_date="31.05.2021")
    assert error.key == "date_before"
    assert error.message() == (
        "„Seit wann halten Sie den Hund?“ darf nicht vor "
        "„Wurfdatum (Geburtsdatum des Hundes)“ liegen."
    )


def test_intake_on_dog_birth_day_is_accepted():
    clean, errors = run(dog_birth_date="01.06.2021", intake_date="2021-06-01")
    assert errors == {}
    assert clean["intake_date"] == clean["dog_birth_date"] == "2021-06-01"


def test_intake_compared_as_dates_across_formats():
    # German vs ISO input must not be compared as text.
    only_error("intake_date", dog_birth_date="2021-06-10", intake_date="09.06.2021")
    _, errors = run(dog_birth_date="10.06.2021", intake_date="2021-12-01")
    assert errors == {}


# --- postal code ---------------------------------------------------------------------------


def test_postal_code_keeps_leading_zero_as_string():
    clean, errors = run(postal_code="04916")
    assert errors == {}
    assert clean["postal_code"] == "04916"
    assert isinstance(clean["postal_code"], str)


@pytest.mark.parametrize(
    "raw", ["4916", "049160", "0491A", "04 916", "D-04916", "\uff10\uff14\uff19\uff11\uff16"]
)
def test_postal_code_must_be_five_digits(raw):
    error = only_error("postal_code", postal_code=raw)
    assert error.message() == (
        "Die Postleitzahl muss aus genau 5 Ziffern bestehen, zum Beispiel 04916."
    )


# --- IBAN / BIC ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "de89 3704 0044 0532 0130 00",
        " DE89 3704 0044 0532 0130 00 ",
    ],
)
def test_valid_iban_is_stored_compact(raw):
    clean, errors = run(iban=raw)
    assert errors == {}
    assert clean["iban"] == "DE89370400440532013000"


def test_other_sepa_country_iban_is_accepted():
    clean, errors = run(iban="CH93 0076 2011 6238 5295 7")
    assert errors == {}
    assert clean["iban"] == "CH9300762011623852957"


@pytest.mark.parametrize(
    "raw",
    [
        "DE88 3704 0044 0532 0130 00",
        "DE89 3704 0044 0532 0130 01",
        "DE89 3704 0044 0532 0130 0",
        "IBAN",
        "1234567890",
    ],
)
def test_iban_with_wrong_check_digits_or_length_is_refused(raw):
    error = only_error("iban", iban=raw)
    assert error.key == "iban_invalid"
    assert error.message().startswith("Die IBAN ist nicht gültig.")


@pytest.mark.parametrize(
    "raw", ["SA03 8000 0000 6080 1016 7519", "TR33 0006 1005 1978 6457 8413 26"]
)
def test_non_sepa_iban_is_refused(raw):
    error = only_error("iban", iban=raw)
    assert error.message() == "Die IBAN muss zu einem Konto im SEPA-Raum gehören."


def test_bic_is_optional_and_derived_from_a_german_iban():
    clean, errors = run(bic=None)
    assert errors == {} and clean["bic"] == "COBADEFFXXX"  # from bank code 37040044
    clean, errors = run(bic="weladed1ees")
    assert errors == {} and clean["bic"] == "WELADED1EES"
    clean, errors = run(bic="COBA DEFF XXX")
    assert errors == {} and clean["bic"] == "COBADEFFXXX"


def test_invalid_bic_is_refused():
    assert only_error("bic", bic="XX12").key == "bic_invalid"


# --- chip (ISO 11784) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("276098100001234", "276098100001234"),
        ("276 0981 0000 1234", "276098100001234"),
        ("276-0981-0000-1234", "276098100001234"),
        (" 276 098 100 001 234 ", "276098100001234"),
        ("0276098100001234", "276098100001234"),  # reader shows a 16th leading 0
        ("0 276 0981 0000 1234", "276098100001234"),
        ("900123456789012", "900123456789012"),  # manufacturer codes 900-998
        ("981098100001234", "981098100001234"),
        ("998123456789012", "998123456789012"),
        ("001123456789012", "001123456789012"),  # lowest country code
    ],
)
def test_chip_accepted_and_stored_as_digits(raw, digits):
    clean, errors = run(chip_number=raw)
    assert errors == {}
    assert clean["chip_number"] == digits


@pytest.mark.parametrize(
    "raw",
    [
        "27609810000123",  # 14 digits
        "2760981000012345",  # 16 digits, not a leading 0
        "00276098100001234",  # 17 digits
        "27609810000123A",
        "\uff12\uff17\uff16\uff10\uff19\uff18\uff11\uff10\uff10\uff10\uff10\uff11\uff12\uff13\uff14",
    ],
)
def test_chip_with_wrong_number_of_digits_is_refused(raw):
    error = only_error("chip_number", chip_number=raw)
    assert error.message() == (
        "Die Chipnummer muss aus 15 Ziffern bestehen, zum Beispiel 276 0981 0000 1234."
    )


def test_test_chip_999_is_refused():
    error = only_error("chip_number", chip_number="999 0981 0000 1234")
    assert error.key == "chip_test"
    assert "Testchips" in error.message()


def test_chip_with_country_code_000_is_refused():
    error = only_error("chip_number", chip_number="000 0981 0000 1234")
    assert error.key == "chip_country"
    assert "Ländercode" in error.message()


# --- e-mail, phone, yes/no, choice ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["erika@", "erika.beispiel.de", "erika@beispiel", "er ika@beispiel.de", "@beispiel.de"]
)
def test_email_syntax_is_checked(raw):
    error = only_error("email", email=raw)
    assert error.message() == (
        "Bitte geben Sie eine gültige E-Mail-Adresse an, zum Beispiel name@beispiel.de."
    )


def test_email_is_optional():
    clean, errors = run(email="")
    assert errors == {} and "email" not in clean


def test_phone_must_look_like_a_number():
    assert only_error("phone", phone="ruf mich an").key == "phone_invalid"
    clean, errors = run(phone="+49 3535 48-2253")
    assert errors == {} and clean["phone"] == "+49 3535 48-2253"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("yes", True),
        ("Ja", True),
        ("true", True),
        ("1", True),
        (True, True),
        ("no", False),
        ("NEIN", False),
        ("false", False),
        ("0", False),
        (False, False),
    ],
)
def test_yes_no_is_parsed_to_bool(raw, value):
    clean, errors = run(
        acquired_from_person=raw,
        previous_keeper_name="Max Muster",
        previous_keeper_address="Hauptstr. 2, 04916 Herzberg",
    )
    assert errors == {}
    assert clean["acquired_from_person"] is value


def test_yes_no_refuses_other_answers():
    assert only_error("moved_in", moved_in="vielleicht").key == "choice_invalid"


def test_choice_refuses_values_outside_code_list():
    error = only_error("sex", sex="unknown")
    assert error.message() == "Bitte wählen Sie bei „Geschlecht“ eine der angebotenen Antworten."
    clean, errors = run(sex="female")
    assert errors == {} and clean["sex"] == "female"


# --- conditional fields and steps ----------------------------------------------------------


def test_moved_in_date_required_only_when_moved_in():
    clean, errors = run(moved_in="yes", previous_municipality="Torgau")
    assert set(errors) == {"moved_in_date"}
    assert errors["moved_in_date"].message() == "Bitte geben Sie „Datum des Zuzugs“ an."

    clean, errors = run(moved_in="yes", moved_in_date="01.04.2026", previous_municipality="Torgau")
    assert errors == {}
    assert clean["moved_in_date"] == "2026-04-01"
    assert clean["previous_municipality"] == "Torgau"


def test_moved_in_answers_dropped_when_not_moved_in():
    clean, errors = run(
        moved_in="no",
        moved_in_date="01.04.2026",
        previous_municipality="Torgau",
        previous_address="Markt 3",
    )
    assert errors == {}
    assert "moved_in_date" not in clean
    assert "previous_municipality" not in clean
    assert "previous_address" not in clean


def test_hidden_field_is_not_validated():
    # An invalid answer to a question that is not asked must not block the filing.
    clean, errors = run(moved_in="no", moved_in_date="31.02.2026")
    assert errors == {}
    assert "moved_in_date" not in clean


def test_moved_in_date_may_not_be_in_future():
    assert (
        only_error(
            "moved_in_date", moved_in="yes", moved_in_date="01.06.2026", previous_municipality="X"
        ).key
        == "date_future"
    )


def test_previous_keeper_required_when_acquired_from_person():
    _, errors = run(acquired_from_person="yes")
    assert set(errors) == {"previous_keeper_name", "previous_keeper_address"}


def test_dangerous_details_required_when_declared_dangerous():
    clean, errors = run(declared_dangerous="yes", reduction_requested=None)
    assert set(errors) == set(DANGEROUS_DETAILS)
    clean, errors = run(declared_dangerous="yes", **DANGEROUS_DETAILS)
    assert errors == {}
    assert clean["dangerous_decision_date"] == "2026-01-02"
    assert clean["policy_number"] == "HV-123456"


def test_dangerous_details_step_skipped_and_dropped_when_not_dangerous():
    clean, errors = run(declared_dangerous="no", **DANGEROUS_DETAILS)
    assert errors == {}
    for field in DANGEROUS_DETAILS:
        assert field not in clean


def test_skipped_step_is_not_validated():
    clean, errors = run(declared_dangerous="no", dangerous_decision_date="kein Datum")
    assert errors == {}


def test_no_reduction_for_dangerous_dog():
    clean, errors = run(
        declared_dangerous="yes",
        reduction_requested="yes",
        reduction_reason="low_income",
        **DANGEROUS_DETAILS,
    )
    assert errors == {}
    assert "reduction_requested" not in clean
    assert "reduction_reason" not in clean


def test_reduction_reason_required_when_requested():
    _, errors = run(reduction_requested="yes")
    assert set(errors) == {"reduction_reason"}


@pytest.mark.parametrize(
    "reason, slot",
    [
        ("disabled_keeper", "evidence_disability_pass"),
        ("assistance_dog", "evidence_assistance_dog"),
        ("shelter_dog", "evidence_shelter"),
        ("service_dog", "evidence_service_dog"),
        ("working_dog", "evidence_working_dog"),
        ("low_income", "evidence_low_income"),
    ],
)
def test_evidence_is_asked_only_for_the_chosen_reason(reason, slot):
    _, errors = run(reduction_requested="yes", reduction_reason=reason)
    assert set(errors) == {slot}
    assert errors[slot].key == "required_file"
    clean, errors = run(
        reduction_requested="yes",
        reduction_reason=reason,
        **{
            slot: [{"id": 1, "filename": "nachweis.pdf"}],
            "evidence_shelter" if slot != "evidence_shelter" else "evidence_low_income": [
                {"id": 2, "filename": "x.pdf"}
            ],
        },
    )
    assert errors == {}
    assert slot in clean
    other = "evidence_shelter" if slot != "evidence_shelter" else "evidence_low_income"
    assert other not in clean  # the other reason's evidence is dropped, not stored


def test_sepa_step_only_for_direct_debit():
    clean, errors = run(payment_method="transfer", iban="kaputt", sepa_consent="")
    assert errors == {}
    for field in ("account_holder_differs", "iban", "mandate_place", "sepa_consent"):
        assert field not in clean

    _, errors = run(iban=None, sepa_consent=None)
    assert set(errors) == {"iban", "sepa_consent"}


def test_account_holder_required_only_when_differs():
    _, errors = run(account_holder_differs="yes")
    assert set(errors) == {"account_holder_name", "account_holder_address"}


# --- 18+ rule for keepers of a dangerous dog (section 6 HundehV) ---------------------------


def test_minor_keeper_of_dangerous_dog_is_refused():
    error = only_error(
        "declared_dangerous", birth_date="15.05.2008", declared_dangerous="yes", **DANGEROUS_DETAILS
    )
    assert "mindestens 18 Jahre" in error.message()
    assert "Geburtsdatum" in error.message()
    data = {**VALID, "birth_date": "15.05.2008", "declared_dangerous": "yes", **DANGEROUS_DETAILS}
    _, errors = validate(DEFINITION, data, today=TODAY, lang="en")
    assert [e.field for e in errors] == ["declared_dangerous"]
    assert "at least 18 years old" in errors[0].message("en")


def test_keeper_turning_18_today_may_keep_dangerous_dog():
    clean, errors = run(birth_date="14.05.2008", declared_dangerous="yes", **DANGEROUS_DETAILS)
    assert errors == {}
    assert clean["declared_dangerous"] is True


def test_minor_keeper_of_ordinary_dog_is_fine():
    clean, errors = run(birth_date="01.01.2012", declared_dangerous="no")
    assert errors == {}
    assert clean["declared_dangerous"] is False


def test_age_rule_uses_today_passed_in():
    data = {**VALID, "birth_date": "01.06.2008", "declared_dangerous": "yes", **DANGEROUS_DETAILS}
    _, before = validate(DEFINITION, data, today=date(2026, 5, 31))
    _, after = validate(DEFINITION, data, today=date(2026, 6, 1))
    assert [e.field for e in before] == ["declared_dangerous"]
    assert after == []


# --- validate_steps (one step at a time, as the wizard saves) ------------------------------


def test_validate_steps_uses_context_for_conditions_and_age():
    step = DEFINITION.step("dangerous")
    context = {"birth_date": "2010-01-01"}
    clean, errors = validate_steps(
        DEFINITION, [step], {"declared_dangerous": "yes"}, context=context, today=TODAY
    )
    assert [e.field for e in errors] == ["declared_dangerous"]
    clean, errors = validate_steps(
        DEFINITION, [step], {"declared_dangerous": "no"}, context=context, today=TODAY
    )
    assert errors == [] and clean == {"declared_dangerous": False}


def test_validate_steps_only_returns_the_given_steps_answers():
    step = DEFINITION.step("payment")
    clean, errors = validate_steps(DEFINITION, [step], VALID, today=TODAY)
    assert errors == []
    assert clean == {"payment_method": "direct_debit", "payment_interval": "quarterly"}


def test_validate_steps_skips_a_step_hidden_by_context():
    step = DEFINITION.step("sepa")
    clean, errors = validate_steps(
        DEFINITION, [step], {}, context={"payment_method": "transfer"}, today=TODAY
    )
    assert (clean, errors) == ({}, [])


# --- visible_steps, prune, fields_to_render ------------------------------------------------


def step_ids(answers: dict) -> list[str]:
    return [s.id for s in visible_steps(DEFINITION, answers)]


def test_visible_steps_follow_answers():
    base = ["keeper", "dog", "dangerous"]
    assert step_ids({}) == [*base, "reduction", "payment", "declarations"]
    assert step_ids({"declared_dangerous": False, "payment_method": "transfer"}) == [
        *base,
        "reduction",
        "payment",
        "declarations",
    ]
    assert step_ids({"declared_dangerous": True, "payment_method": "direct_debit"}) == [
        *base,
        "dangerous_details",
        "payment",
        "sepa",
        "declarations",
    ]


def test_prune_drops_stale_answers_after_a_change():
    clean, _ = run(
        declared_dangerous="yes",
        moved_in="yes",
        moved_in_date="01.04.2026",
        previous_municipality="Torgau",
        **DANGEROUS_DETAILS,
    )
    assert "dangerous_file_number" in clean and "iban" in clean

    changed = {
        **clean,
        "declared_dangerous": False,
        "moved_in": False,
        "payment_method": "transfer",
        "reduction_requested": False,
    }
    kept = prune(DEFINITION, changed)
    for gone in (
        "moved_in_date",
        "previous_municipality",
        *DANGEROUS_DETAILS,
        "account_holder_differs",
        "iban",
        "mandate_place",
        "sepa_consent",
    ):
        assert gone not in kept, gone
    assert kept["reduction_requested"] is False
    assert kept["chip_number"] == "276098100001234"
    assert kept["payment_method"] == "transfer"


def test_prune_keeps_answers_that_are_still_asked():
    clean, _ = run()
    assert prune(DEFINITION, clean) == clean


def test_fields_to_render_shows_fields_revealed_within_the_same_step():
    keeper = [f.id for f in fields_to_render(DEFINITION.step("keeper"), {})]
    # moved_in_date depends on moved_in in the same step: rendered, revealed by the page.
    assert keeper[-4:] == ["moved_in", "moved_in_date", "previous_municipality", "previous_address"]
    reduction = [f.id for f in fields_to_render(DEFINITION.step("reduction"), {})]
    assert reduction == [
        "reduction_requested",
        "reduction_reason",
        "evidence_disability_pass",
        "evidence_assistance_dog",
        "evidence_shelter",
        "evidence_service_dog",
        "evidence_working_dog",
        "evidence_low_income",
        "reduction_valid_until",
    ]


def test_fields_to_render_hides_fields_whose_earlier_answer_says_no():
    definition = parse_definition(
        {
            "id": "t",
            "version": 1,
            "title": "T",
            "steps": [
                {
                    "id": "one",
                    "title": "Eins",
                    "fields": [{"id": "has_dog", "type": "yesno", "label": "Hund?"}],
                },
                {
                    "id": "two",
                    "title": "Zwei",
                    "fields": [
                        {"id": "name", "type": "text", "label": "Name"},
                        {
                            "id": "dog_name",
                            "type": "text",
                            "label": "Hundename",
                            "show_if": {"==": [{"var": "has_dog"}, True]},
                        },
                    ],
                },
            ],
        },
        "test.yaml",
    )
    step = definition.step("two")
    assert [f.id for f in fields_to_render(step, {"has_dog": True})] == ["name", "dog_name"]
    assert [f.id for f in fields_to_render(step, {"has_dog": False})] == ["name"]
