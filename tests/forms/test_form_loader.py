"""Broken form definitions are refused at load, with a message naming source, step, field
and the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import forms
from forms import DefinitionError, FormDefinition, load_definition, parse_definition
from forms.model import FIELD_TYPES


def base() -> dict:
    """A small valid definition; tests break one thing in a copy."""
    return copy.deepcopy(
        {
            "id": "test",
            "version": 1,
            "title": "Test",
            "code_lists": {"colours": [{"value": "red", "label": "Rot"}]},
            "steps": [
                {
                    "id": "one",
                    "title": "Eins",
                    "fields": [
                        {"id": "born", "type": "date", "label": "Geboren"},
                        {"id": "name", "type": "text", "label": "Name"},
                        {"id": "has_pet", "type": "yesno", "label": "Haustier?"},
                    ],
                },
                {
                    "id": "two",
                    "title": "Zwei",
                    "fields": [
                        {"id": "colour", "type": "choice", "options": "colours", "label": "Farbe"},
                        {"id": "since", "type": "date", "label": "Seit"},
                    ],
                },
            ],
        }
    )


def refused(raw: object) -> str:
    with pytest.raises(DefinitionError) as exc:
        parse_definition(raw, "test.yaml")
    message = str(exc.value)
    assert message.startswith("test.yaml: ")
    return message


def test_base_definition_is_accepted():
    d = parse_definition(base(), "test.yaml")
    assert isinstance(d, FormDefinition)
    assert d.field_ids() == ["born", "name", "has_pet", "colour", "since"]
    assert d.field("name").label.de == "Name"


def test_real_dog_registration_definition_loads():
    d = load_definition(Path(forms.__file__).parent / "definitions" / "dog_registration.yaml")
    assert d.id == "dog_registration"
    assert [s.id for s in d.steps][:3] == ["keeper", "dog", "dangerous"]


def test_unknown_field_type_lists_known_types():
    raw = base()
    raw["steps"][1]["fields"][1]["type"] = "datum"
    message = refused(raw)
    assert 'step "two"' in message and 'field "since"' in message
    assert 'unknown type "datum"' in message
    for known in FIELD_TYPES:
        assert known in message


def test_duplicate_field_id_in_the_same_step():
    raw = base()
    raw["steps"][0]["fields"].append({"id": "name", "type": "text", "label": "Nochmal"})
    assert refused(raw) == 'test.yaml: step "one", field "name": duplicate field id'


def test_duplicate_field_id_across_steps():
    raw = base()
    raw["steps"][1]["fields"].append({"id": "born", "type": "date", "label": "Nochmal"})
    assert refused(raw) == 'test.yaml: step "two", field "born": duplicate field id'


def test_duplicate_step_id():
    raw = base()
    raw["steps"][1]["id"] = "one"
    assert refused(raw) == 'test.yaml: step "one": duplicate step id'


def test_choice_without_code_list():
    raw = base()
    del raw["steps"][1]["fields"][0]["options"]
    message = refused(raw)
    assert message == (
        'test.yaml: step "two", field "colour": a choice field needs options (a code list)'
    )


def test_unknown_code_list_lists_known_ones():
    raw = base()
    raw["steps"][1]["fields"][0]["options"] = "farben"
    message = refused(raw)
    assert message == (
        'test.yaml: step "two", field "colour": unknown code list "farben" (known: colours)'
    )


def test_options_on_a_non_choice_field():
    raw = base()
    raw["steps"][0]["fields"][1]["options"] = "colours"
    assert "options are only allowed on choice fields" in refused(raw)


def test_condition_referring_to_unknown_field():
    raw = base()
    raw["steps"][1]["fields"][1]["show_if"] = {"==": [{"var": "has_cat"}, True]}
    message = refused(raw)
    assert 'step "two", field "since"' in message
    assert '"has_cat", unknown field' in message


def test_condition_referring_to_a_later_field():
    raw = base()
    raw["steps"][0]["fields"][1]["show_if"] = {"==": [{"var": "colour"}, "red"]}
    message = refused(raw)
    assert 'step "one", field "name"' in message
    assert '"colour", a later field' in message
    assert "conditions may only use fields asked before" in message


def test_required_condition_is_checked_like_show_if():
    raw = base()
    raw["steps"][0]["fields"][0]["required"] = {"==": [{"var": "has_pet"}, True]}
    message = refused(raw)
    assert 'field "born"' in message and '"has_pet", a later field' in message


def test_step_condition_referring_to_a_field_of_the_same_or_later_step():
    raw = base()
    raw["steps"][1]["show_if"] = {"==": [{"var": "colour"}, "red"]}
    message = refused(raw)
    assert message.startswith('test.yaml: step "two": condition refers to "colour"')


def test_condition_on_an_earlier_field_is_accepted():
    raw = base()
    raw["steps"][1]["show_if"] = {"==": [{"var": "has_pet"}, True]}
    raw["steps"][0]["fields"][1]["required"] = {"==": [{"var": "born"}, None]}
    parse_definition(raw, "test.yaml")


def test_not_before_referring_to_a_non_date_field():
    raw = base()
    raw["steps"][1]["fields"][1]["not_before"] = "name"
    message = refused(raw)
    assert message == (
        'test.yaml: step "two", field "since": not_before refers to "name", '
        "which is not an earlier date field"
    )


def test_not_before_referring_to_an_unknown_field():
    raw = base()
    raw["steps"][1]["fields"][1]["not_before"] = "geboren"
    assert 'not_before refers to "geboren"' in refused(raw)


def test_not_before_on_a_non_date_field():
    raw = base()
    raw["steps"][0]["fields"][1]["not_before"] = "born"
    assert refused(raw) == (
        'test.yaml: step "one", field "name": not_before is only allowed on date fields'
    )


def test_not_before_an_earlier_date_field_is_accepted():
    raw = base()
    raw["steps"][1]["fields"][1]["not_before"] = "born"
    assert parse_definition(raw, "test.yaml").field("since").not_before == "born"


def test_min_age_of_a_non_date_field():
    raw = base()
    raw["steps"][1]["fields"][0]["min_age"] = {"years": 18, "of": "name"}
    assert 'min_age refers to "name", which is not an earlier date field' in refused(raw)


def test_step_without_fields():
    raw = base()
    raw["steps"][1]["fields"] = []
    assert refused(raw) == 'test.yaml: step "two": has no fields'


def test_step_missing_fields_key():
    raw = base()
    del raw["steps"][1]["fields"]
    message = refused(raw)
    assert 'step "two"' in message and "fields" in message and "required" in message


def test_field_missing_label_names_step_and_field():
    raw = base()
    del raw["steps"][0]["fields"][1]["label"]
    message = refused(raw)
    assert message.startswith('test.yaml: step "one", field "name", label:')
    assert "required" in message


def test_misspelt_attribute_is_refused():
    raw = base()
    raw["steps"][0]["fields"][1]["requird"] = True
    message = refused(raw)
    assert 'step "one", field "name"' in message and "requird" in message


def test_invalid_field_id_is_refused():
    raw = base()
    raw["steps"][0]["fields"][1]["id"] = "Name-1"
    assert "id" in refused(raw)


@pytest.mark.parametrize("raw", [None, [], "steps: []", 42])
def test_definition_that_is_not_a_mapping(raw):
    assert "must be a mapping" in refused(raw)


@pytest.mark.parametrize("steps", [["keeper"], {"keeper": {}}, "keeper"])
def test_steps_that_are_not_mappings_are_refused_cleanly(steps):
    raw = base()
    raw["steps"] = steps
    assert "steps" in refused(raw)


def test_field_that_is_not_a_mapping_is_refused_cleanly():
    raw = base()
    raw["steps"][0]["fields"][1] = "name"
    message = refused(raw)
    assert 'step "one"' in message


# --- load_definition from files ------------------------------------------------------------


def test_load_definition_from_file(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(base(), allow_unicode=True), encoding="utf-8")
    assert load_definition(path).id == "test"


def test_load_definition_names_the_file(tmp_path):
    raw = base()
    raw["steps"][1]["fields"][1]["type"] = "datum"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_definition(path)
    assert str(exc.value).startswith(f'{path}: step "two", field "since": unknown type')


def test_invalid_yaml_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nsteps: [\n  - {id: a\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_definition(path)
    assert str(exc.value).startswith(f"{path}: not valid YAML")


def test_missing_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(DefinitionError) as exc:
        load_definition(path)
    assert str(exc.value).startswith(f"{path}: cannot be read")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_definition(path)
    assert "must be a mapping" in str(exc.value)
