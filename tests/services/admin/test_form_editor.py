"""The form editor's model (services/admin/form_editor.py): pure operations on a form's data,
checked by the form loader; a form loaded into the editor and saved unchanged is the same
form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forms import DefinitionError, parse_definition
from forms.model import UPLOAD_TYPES
from services.admin import form_editor as fe

ROOT = Path(__file__).resolve().parents[3]
DOG = (ROOT / "forms/definitions/dog_registration.yaml").read_text(encoding="utf-8")
FORMS = sorted((ROOT / "forms/definitions").glob("*.yaml"))


def posted_of(values: dict) -> dict:
    """What the field page posts for these values when the administrator changes nothing
    (the template's encoding: checked boxes post "yes", option rows are numbered)."""
    posted = {
        k: v for k, v in values.items() if isinstance(v, str) and k not in ("not_future", "unique")
    }
    for box in ("not_future", "unique"):
        if values.get(box):
            posted[box] = "yes"
    posted["accept"] = list(values["accept"])
    rows = values["option_rows"]
    posted["option_count"] = str(len(rows))
    for i, row in enumerate(rows):
        for part in ("value", "de", "en"):
            posted[f"option-{i}-{part}"] = row[part]
    return posted


def definition(raw: dict):
    return fe.checked(raw)[1]


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.stem)
def test_yaml_written_by_the_editor_reads_back_as_the_same_form(path):
    text = path.read_text(encoding="utf-8")
    raw = fe.load(text)
    written = fe.dump(raw)
    assert yaml.safe_load(written) == raw
    assert definition(raw) == parse_definition(yaml.safe_load(text))
    assert fe.dump(fe.load(written)) == written  # stable


def test_dog_registration_saved_unchanged_through_every_page_is_identical():
    raw = fe.load(DOG)
    new = raw
    for step in raw["steps"]:
        new, problems = fe.apply_step(new, step["id"], fe.step_values(step))
        assert not problems, problems.items
        for f in step["fields"]:
            posted = posted_of(fe.field_values(new, f))
            new, problems = fe.apply_field(new, step["id"], f["id"], posted)
            assert not problems, (f["id"], problems.items)
            assert fe.field_of(new, step["id"], f["id"]) == f, f["id"]
    assert new == raw
    assert definition(new) == parse_definition(yaml.safe_load(DOG))


def test_add_move_and_remove_a_field():
    raw = fe.load(DOG)
    posted = {
        "id": "dog_weight",
        "type": "integer",
        "label_de": "Gewicht in kg",
        "label_en": "Weight in kg",
        "required": "yes",
        "min": "1",
        "max": "120",
    }
    added, problems = fe.apply_field(raw, "dog", None, posted)
    assert not problems
    ids = [f["id"] for f in fe.step_of(added, "dog")["fields"]]
    assert ids[-1] == "dog_weight"
    assert fe.field_of(added, "dog", "dog_weight") == {
        "id": "dog_weight",
        "type": "integer",
        "label": {"de": "Gewicht in kg", "en": "Weight in kg"},
        "required": True,
        "min": 1,
        "max": 120,
    }
    assert raw == fe.load(DOG)  # the argument is left alone
    form = definition(added)
    assert form.field("dog_weight").max == 120 and form.field("dog_weight").required is True

    up = fe.move_field(added, "dog", "dog_weight", -1)
    assert [f["id"] for f in fe.step_of(up, "dog")["fields"]][-2:] == ["dog_weight", ids[-2]]
    top = added
    for _ in range(len(ids) + 2):  # beyond the first place it stays first
        top = fe.move_field(top, "dog", "dog_weight", -1)
    assert fe.step_of(top, "dog")["fields"][0]["id"] == "dog_weight"
    assert fe.move_field(top, "dog", "dog_weight", +1)["steps"][1]["fields"][1]["id"] == (
        "dog_weight"
    )
    removed = fe.remove_field(top, "dog", "dog_weight")
    assert removed == raw
    with pytest.raises(fe.NoSuchPart):
        fe.remove_field(raw, "dog", "dog_weight")


def test_add_move_and_remove_a_step():
    raw = fe.load(DOG)
    step = fe.new_step(
        {
            "step_id": "extra",
            "title_de": "Weiteres",
            "field_id": "remarks",
            "type": "textarea",
            "label_de": "Bemerkungen",
            "label_en": "Remarks",
        }
    )
    added = fe.add_step(raw, step, after="dog")
    order = [s["id"] for s in added["steps"]]
    assert order[:3] == ["keeper", "dog", "extra"]
    assert definition(added).step("extra").fields[0].label.en == "Remarks"
    moved = fe.move_step(fe.move_step(added, "extra", -1), "extra", -1)
    assert [s["id"] for s in moved["steps"]][:2] == ["extra", "keeper"]
    assert [s["id"] for s in fe.move_step(moved, "extra", +1)["steps"]][:2] == ["keeper", "extra"]
    assert fe.remove_step(added, "extra") == raw
    at_end = fe.add_step(raw, step)
    assert at_end["steps"][-1]["id"] == "extra"


def test_a_new_step_without_a_field_label_or_a_duplicate_id_is_refused_by_the_loader():
    raw = fe.load(DOG)
    twice = fe.add_step(
        raw,
        fe.new_step(
            {"step_id": "dog", "title_de": "Hund", "field_id": "x", "type": "text", "label_de": "X"}
        ),
    )
    with pytest.raises(DefinitionError, match='step "dog": duplicate step id'):
        fe.checked(twice)
    clash = fe.add_step(
        raw,
        fe.new_step(
            {
                "step_id": "more",
                "title_de": "Mehr",
                "field_id": "breed",
                "type": "text",
                "label_de": "X",
            }
        ),
    )
    with pytest.raises(DefinitionError, match="duplicate field id") as exc:
        fe.checked(clash)
    assert fe.anchor_of(str(exc.value), ("step_id", "field_id")) == "step_id"  # falls back


def test_options_of_a_new_choice_field_become_its_code_list():
    raw = fe.load(DOG)
    posted = {
        "id": "coat",
        "type": "choice",
        "label_de": "Fell",
        "required": "yes",
        "widget": "select",
        "options": "",
        "option_count": "4",
        "option-0-value": "short",
        "option-0-de": "kurz",
        "option-0-en": "short",
        "option-1-value": "long",
        "option-1-de": "lang",
        "option-1-en": "",
        "option-2-value": "",
        "option-2-de": "",
        "option-2-en": "",
        "option-3-value": "wire",
        "option-3-de": "rau",
        "option-3-remove": "yes",
    }
    new, problems = fe.apply_field(raw, "dog", None, posted)
    assert not problems
    assert new["code_lists"]["coat"] == [
        {"value": "short", "label": {"de": "kurz", "en": "short"}},
        {"value": "long", "label": {"de": "lang"}},
    ]
    form = definition(new)
    assert [o.value for o in form.options(form.field("coat"))] == ["short", "long"]
    assert form.field("coat").widget == "select"

    # Editing the rows changes the list; choosing another list just points to it.
    values = fe.field_values(new, fe.field_of(new, "dog", "coat"))
    again = posted_of(values)
    again["option-1-de"] = "lang (Langhaar)"
    changed, _ = fe.apply_field(new, "dog", "coat", again)
    assert changed["code_lists"]["coat"][1]["label"] == {"de": "lang (Langhaar)"}
    other = {**posted_of(values), "options": "sex"}
    pointed, _ = fe.apply_field(new, "dog", "coat", other)
    assert fe.field_of(pointed, "dog", "coat")["options"] == "sex"
    assert pointed["code_lists"]["sex"] == raw["code_lists"]["sex"]


def test_an_option_row_without_a_value_is_a_problem_at_its_input():
    raw = fe.load(DOG)
    posted = {
        "id": "coat",
        "type": "choice",
        "label_de": "Fell",
        "option_count": "1",
        "option-0-value": "",
        "option-0-de": "kurz",
    }
    _, problems = fe.apply_field(raw, "dog", None, posted)
    assert problems.at == {"option-0-value": "Option 1: Geben Sie den Wert an."}


def test_a_choice_field_without_options_is_refused_at_the_options():
    raw = fe.load(DOG)
    new, problems = fe.apply_field(
        raw, "dog", None, {"id": "coat", "type": "choice", "label_de": "Fell"}
    )
    assert not problems
    with pytest.raises(DefinitionError, match="needs options") as exc:
        fe.checked(new)
    assert fe.anchor_of(str(exc.value), ("id", "type", "label_de", "options")) == "options"


def test_conditions_is_and_is_not():
    assert fe.condition("moved_in", "==", True) == {"==": [{"var": "moved_in"}, True]}
    assert fe.simple_condition({"!=": [{"var": "declared_dangerous"}, True]}) == (
        "declared_dangerous",
        "!=",
        True,
    )
    assert fe.simple_condition({"and": [{"==": [{"var": "a"}, 1]}]}) is None
    assert fe.simple_condition({"in": [{"var": "a"}, ["x"]]}) is None
    assert fe.typed_value("ja", "yesno") is True and fe.typed_value("Nein", "yesno") is False
    assert fe.typed_value("3", "integer") == 3 and fe.typed_value("3", "text") == "3"

    raw = fe.load(DOG)
    values = fe.field_values(raw, fe.field_of(raw, "keeper", "previous_address"))
    assert (values["show_field"], values["show_op"], values["show_value"]) == (
        "moved_in",
        "==",
        "ja",
    )
    posted = {**posted_of(values), "show_op": "!=", "show_value": "nein"}
    new, problems = fe.apply_field(raw, "keeper", "previous_address", posted)
    assert not problems
    assert fe.field_of(new, "keeper", "previous_address")["show_if"] == {
        "!=": [{"var": "moved_in"}, False]
    }
    always, _ = fe.apply_field(raw, "keeper", "previous_address", {**posted, "show_field": ""})
    assert "show_if" not in fe.field_of(always, "keeper", "previous_address")
    # A condition on a later field is refused by the loader, at the condition.
    later, _ = fe.apply_field(
        raw,
        "keeper",
        "given_names",
        {
            **posted_of(fe.field_values(raw, raw["steps"][0]["fields"][0])),
            "show_field": "town",
            "show_value": "Herzberg",
        },
    )
    with pytest.raises(DefinitionError, match="a later field") as exc:
        fe.checked(later)
    assert fe.anchor_of(str(exc.value), ("id", "show_field")) == "show_field"
    # A missing value is a problem at its input.
    _, problems = fe.apply_field(raw, "keeper", "town", {**posted, "show_value": " "})
    assert "show_value" in problems.at


def test_a_condition_the_editor_cannot_show_is_kept():
    raw = fe.load(DOG)
    f = fe.field_of(raw, "keeper", "town")
    f["show_if"] = {"and": [{"==": [{"var": "moved_in"}, True]}, {"!=": [{"var": "email"}, ""]}]}
    values = fe.field_values(raw, f)
    assert values["show_field"] == "__keep__"
    raw2 = fe.replace_field(raw, "keeper", "town", f)
    new, problems = fe.apply_field(raw2, "keeper", "town", posted_of(values))
    assert not problems and new == raw2


def test_limits_upload_slots_and_type_changes():
    raw = fe.load(DOG)
    birth = posted_of(fe.field_values(raw, fe.field_of(raw, "keeper", "birth_date")))
    assert birth["max_years_ago"] == "130"
    new, _ = fe.apply_field(raw, "keeper", "birth_date", {**birth, "max_years_ago": "120"})
    assert definition(new).field("birth_date").max_years_ago == 120
    _, problems = fe.apply_field(raw, "keeper", "birth_date", {**birth, "max_years_ago": "viele"})
    assert problems.at == {"max_years_ago": "Geben Sie eine ganze Zahl ein."}
    too_far, problems = fe.apply_field(
        raw, "keeper", "birth_date", {**birth, "max_years_ago": "500"}
    )
    with pytest.raises(DefinitionError, match="max_years_ago") as exc:
        fe.checked(too_far)
    assert fe.anchor_of(str(exc.value), ("id", "max_years_ago")) == "max_years_ago"

    # A date field becomes a text field: what only dates have goes. (The keeper's date of
    # birth cannot: the minimum age of a dangerous dog's keeper reads it, says the loader.)
    moved = {
        **posted_of(fe.field_values(raw, fe.field_of(raw, "keeper", "moved_in_date"))),
        "max_years_ago": "50",
    }
    dated, _ = fe.apply_field(raw, "keeper", "moved_in_date", moved)
    as_text, problems = fe.apply_field(dated, "keeper", "moved_in_date", {**moved, "type": "text"})
    assert not problems
    f = fe.field_of(as_text, "keeper", "moved_in_date")
    assert f["type"] == "text" and "max_years_ago" not in f
    assert definition(as_text).field("moved_in_date").type == "text"
    birth_as_text, _ = fe.apply_field(raw, "keeper", "birth_date", {**birth, "type": "text"})
    with pytest.raises(DefinitionError, match='min_age refers to "birth_date"'):
        fe.checked(birth_as_text)

    slot = posted_of(fe.field_values(raw, fe.field_of(raw, "dangerous_details", "permit_file")))
    assert slot["accept"] == list(UPLOAD_TYPES) and slot["max_files"] == "3"
    pdf_only, _ = fe.apply_field(
        raw,
        "dangerous_details",
        "permit_file",
        {**slot, "accept": ["application/pdf"], "max_size_mb": "5", "max_files": "10"},
    )
    permit = definition(pdf_only).field("permit_file")
    assert permit.accept == ("application/pdf",) and permit.max_size_mb == 5
    assert permit.max_files == 10
    nothing, _ = fe.apply_field(raw, "dangerous_details", "permit_file", {**slot, "accept": []})
    with pytest.raises(DefinitionError, match="accept may list only"):
        fe.checked(nothing)
    huge, _ = fe.apply_field(raw, "dangerous_details", "permit_file", {**slot, "max_size_mb": "80"})
    with pytest.raises(DefinitionError, match="max_size_mb"):
        fe.checked(huge)


def test_texts_in_both_languages_and_explicit_defaults_stay():
    raw = fe.load(DOG)
    f = fe.field_of(raw, "reduction", "reduction_valid_until")
    assert f["not_future"] is False
    values = posted_of(fe.field_values(raw, f))
    assert "not_future" not in values  # the box is not ticked
    new, _ = fe.apply_field(
        raw,
        "reduction",
        "reduction_valid_until",
        {**values, "label_en": "Valid until", "hint_de": "Wenn befristet"},
    )
    g = fe.field_of(new, "reduction", "reduction_valid_until")
    assert g["label"] == {"de": "Nachweis gültig bis (falls befristet)", "en": "Valid until"}
    assert g["hint"] == {"de": "Wenn befristet"}
    assert g["not_future"] is False
    form = definition(new)
    assert form.field("reduction_valid_until").hint.get("en") == "Wenn befristet"


def test_yaml_written_by_the_editor_keeps_tricky_values():
    """Values YAML would read as something else (off, yes, numbers, dates), quotes, colons,
    line breaks and the municipality placeholder come back as they were."""
    raw = {
        "id": "tricky",
        "version": 3,
        "title": {"de": "Anmeldung: {municipality}", "en": 'It\'s "quoted"'},
        "code_lists": {
            "answers": [
                {"value": "yes", "label": "off"},
                {"value": "0815", "label": {"de": "2026-01-01"}},
            ],
            "empty": [],
        },
        "steps": [
            {
                "id": "one",
                "title": "Eins",
                "intro": {"de": "Zeile 1\nZeile 2 – mit # und: Doppelpunkt"},
                "fields": [
                    {
                        "id": "a",
                        "type": "choice",
                        "options": "answers",
                        "label": "- a",
                        "autocomplete": "off",
                    },
                    {
                        "id": "b",
                        "type": "text",
                        "label": "[b]",
                        "show_if": {"==": [{"var": "a"}, "0815"]},
                    },
                    {
                        "id": "g",
                        "type": "group",
                        "label": "G",
                        "fields": [{"id": "x", "type": "text", "label": "*x"}],
                    },
                ],
            }
        ],
    }
    written = fe.dump(raw)
    assert yaml.safe_load(written) == raw
    definition(raw)
