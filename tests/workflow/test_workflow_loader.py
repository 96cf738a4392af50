"""Broken workflow definitions are refused at load with a message naming what is wrong."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import workflow
from workflow import WorkflowDefinitionError, load_workflow, parse_workflow
from workflow.guards import GUARDS
from workflow.model import ROLES

REAL = Path(workflow.__file__).parent / "definitions" / "dog_registration.yaml"


def base() -> dict:
    return copy.deepcopy(
        {
            "id": "test",
            "version": 1,
            "initial": "new",
            "states": {
                "new": {"label": "Neu"},
                "checking": {"label": "In Prüfung"},
                "done": {"label": "Erledigt", "terminal": True},
            },
            "transitions": [
                {
                    "name": "check",
                    "label": "Prüfen",
                    "from": "new",
                    "to": "checking",
                    "role": "clerk",
                },
                {
                    "name": "finish",
                    "label": "Abschließen",
                    "from": ["checking"],
                    "to": "done",
                    "role": "approver",
                    "guards": ["four_eyes"],
                    "effects": ["issue_notice"],
                },
            ],
        }
    )


def refused(raw: object, known_effects=("issue_notice",)) -> str:
    with pytest.raises(WorkflowDefinitionError) as exc:
        parse_workflow(raw, "test.yaml", known_effects)
    message = str(exc.value)
    assert message.startswith("test.yaml: ")
    return message


def test_base_workflow_is_accepted():
    wf = parse_workflow(base(), "test.yaml", {"issue_notice"})
    assert wf.transition("check").from_ == ["new"]  # a single source becomes a list
    assert wf.transition("finish").guards == ["four_eyes"]
    assert wf.transition("nope") is None


def test_real_workflow_loads_with_its_effects():
    wf = load_workflow(
        REAL, known_effects={"issue_notice", "issue_rejection_notice", "notify_information_request"}
    )
    assert wf.id == "dog_registration" and wf.initial == "submitted"


def test_real_workflow_refused_when_its_effect_is_unknown():
    with pytest.raises(WorkflowDefinitionError) as exc:
        load_workflow(REAL, known_effects={"send_mail"})
    assert 'unknown effect "notify_information_request" (known: send_mail)' in str(exc.value)
    assert str(REAL) in str(exc.value)


def test_unknown_target_state():
    raw = base()
    raw["transitions"][1]["to"] = "finished"
    assert refused(raw) == 'test.yaml: transition "finish": unknown state "finished"'


def test_unknown_source_state():
    raw = base()
    raw["transitions"][1]["from"] = ["checking", "waiting"]
    assert refused(raw) == 'test.yaml: transition "finish": unknown state "waiting"'


def test_unknown_role_lists_known_roles():
    raw = base()
    raw["transitions"][0]["role"] = "manager"
    message = refused(raw)
    assert message.startswith('test.yaml: transition "check": unknown role "manager"')
    for role in ROLES:
        assert role in message


def test_unknown_guard_lists_known_guards():
    raw = base()
    raw["transitions"][1]["guards"] = ["two_eyes"]
    message = refused(raw)
    assert message.startswith('test.yaml: transition "finish": unknown guard "two_eyes"')
    for name in GUARDS:
        assert name in message
    assert "four_eyes" in message and "needs_four_eyes" in message


def test_unknown_effect_lists_known_effects():
    raw = base()
    raw["transitions"][1]["effects"] = ["print_letter"]
    message = refused(raw, known_effects=("issue_notice", "send_mail"))
    assert message == (
        'test.yaml: transition "finish": unknown effect "print_letter" '
        "(known: issue_notice, send_mail)"
    )


def test_effects_unchecked_when_no_known_effects_given():
    raw = base()
    raw["transitions"][1]["effects"] = ["anything"]
    assert parse_workflow(raw, "test.yaml").transition("finish").effects == ["anything"]


def test_unreachable_state():
    raw = base()
    raw["states"]["archived"] = {"label": "Archiviert", "terminal": True}
    raw["states"]["parked"] = {"label": "Zurückgestellt"}
    message = refused(raw)
    assert message == (
        "test.yaml: unreachable state(s) archived, parked (no transition leads there)"
    )


def test_state_reachable_only_from_an_unreachable_state_is_unreachable():
    raw = base()
    raw["states"]["limbo"] = {"label": "Schwebe"}
    raw["states"]["after_limbo"] = {"label": "Danach"}
    raw["transitions"].append(
        {
            "name": "leave_limbo",
            "label": "Raus",
            "from": "limbo",
            "to": "after_limbo",
            "role": "clerk",
        }
    )
    message = refused(raw)
    assert "unreachable state(s) after_limbo, limbo" in message


def test_transition_leaving_a_terminal_state():
    raw = base()
    raw["transitions"].append(
        {
            "name": "reopen",
            "label": "Wieder öffnen",
            "from": "done",
            "to": "checking",
            "role": "admin",
        }
    )
    assert refused(raw) == 'test.yaml: transition "reopen": leaves terminal state "done"'


def test_initial_state_not_declared():
    raw = base()
    raw["initial"] = "received"
    assert refused(raw) == 'test.yaml: initial state "received" is not declared'


def test_duplicate_transition_name():
    raw = base()
    raw["transitions"].append(
        {"name": "check", "label": "Nochmal", "from": "checking", "to": "done", "role": "clerk"}
    )
    assert refused(raw) == 'test.yaml: transition "check": duplicate name'


def test_missing_attribute_names_its_location():
    raw = base()
    del raw["transitions"][0]["to"]
    message = refused(raw)
    assert "transitions.0.to" in message and "required" in message


def test_misspelt_attribute_is_refused():
    raw = base()
    raw["transitions"][0]["guard"] = ["four_eyes"]
    assert "transitions.0.guard" in refused(raw)


@pytest.mark.parametrize("raw", [None, [], "id: x"])
def test_definition_that_is_not_a_mapping(raw):
    assert "must be a mapping" in refused(raw)


def test_load_workflow_names_the_file(tmp_path):
    raw = base()
    raw["transitions"][0]["role"] = "manager"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as exc:
        load_workflow(path, known_effects={"issue_notice"})
    assert str(exc.value).startswith(f'{path}: transition "check": unknown role "manager"')


def test_invalid_yaml_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("states:\n  new: {label: Neu\n", encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as exc:
        load_workflow(path)
    assert str(exc.value).startswith(f"{path}: not valid YAML")
