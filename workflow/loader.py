"""Load a workflow definition; refuse unknown states, roles, guards and effects, and
unreachable states."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workflow.guards import GUARDS
from workflow.model import ROLES, WorkflowDefinition


class WorkflowDefinitionError(ValueError):
    """A workflow definition that cannot be used; the message names where and why."""


def parse_workflow(
    raw: Any, source: str = "<workflow>", known_effects: Iterable[str] | None = None
) -> WorkflowDefinition:
    if not isinstance(raw, dict):
        raise WorkflowDefinitionError(f"{source}: the definition must be a mapping")
    try:
        wf = WorkflowDefinition.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise WorkflowDefinitionError(f"{source}: {loc}: {first['msg']}") from None
    effects = set(known_effects) if known_effects is not None else None
    if wf.initial not in wf.states:
        raise WorkflowDefinitionError(f'{source}: initial state "{wf.initial}" is not declared')
    names: set[str] = set()
    for t in wf.transitions:
        where = f'{source}: transition "{t.name}"'
        if t.name in names:
            raise WorkflowDefinitionError(f"{where}: duplicate name")
        names.add(t.name)
        for s in [*t.from_, t.to]:
            if s not in wf.states:
                raise WorkflowDefinitionError(f'{where}: unknown state "{s}"')
        for s in t.from_:
            if wf.states[s].terminal:
                raise WorkflowDefinitionError(f'{where}: leaves terminal state "{s}"')
        if t.role not in ROLES:
            raise WorkflowDefinitionError(
                f'{where}: unknown role "{t.role}" (known: {", ".join(ROLES)})'
            )
        for g in t.guards:
            if g not in GUARDS:
                raise WorkflowDefinitionError(
                    f'{where}: unknown guard "{g}" (known: {", ".join(sorted(GUARDS))})'
                )
        for e in t.effects:
            if effects is not None and e not in effects:
                raise WorkflowDefinitionError(
                    f'{where}: unknown effect "{e}" (known: {", ".join(sorted(effects))})'
                )
    reachable = {wf.initial}
    changed = True
    while changed:
        changed = False
        for t in wf.transitions:
            if t.to not in reachable and reachable.intersection(t.from_):
                reachable.add(t.to)
                changed = True
    unreachable = sorted(set(wf.states) - reachable)
    if unreachable:
        raise WorkflowDefinitionError(
            f"{source}: unreachable state(s) {', '.join(unreachable)} (no transition leads there)"
        )
    return wf


def load_workflow(
    path: str | Path, known_effects: Iterable[str] | None = None
) -> WorkflowDefinition:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise WorkflowDefinitionError(f"{path}: not valid YAML: {exc}") from None
    return parse_workflow(raw, str(path), known_effects)
