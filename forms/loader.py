"""Load a form definition and refuse a broken one with a message naming file, step and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from forms.conditions import variables
from forms.model import FIELD_TYPES, UPLOAD_TYPES, FormDefinition


class DefinitionError(ValueError):
    """A form definition that cannot be used; the message names where and why."""


def _where(source: str, raw: dict, loc: tuple) -> str:
    """Translate a pydantic error location into 'step "x", field "y"'."""
    parts = [source]
    try:
        if len(loc) >= 2 and loc[0] == "steps":
            step = raw["steps"][loc[1]]
            parts.append(f'step "{step.get("id", loc[1])}"')
            if len(loc) >= 4 and loc[2] == "fields":
                parts.append(f'field "{step["fields"][loc[3]].get("id", loc[3])}"')
                rest = loc[4:]
            else:
                rest = loc[2:]
        else:
            rest = loc
    except (KeyError, IndexError, TypeError, AttributeError):
        rest = loc
    if rest:
        parts.append(".".join(str(p) for p in rest))
    return ", ".join(parts[:1]) + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")


def parse_definition(raw: Any, source: str = "<definition>") -> FormDefinition:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: the definition must be a mapping with id, version, steps")
    # Check field types first so the message lists the known ones.
    steps = raw.get("steps")
    for step in steps if isinstance(steps, list) else []:  # other shapes: pydantic reports
        fields = step.get("fields") if isinstance(step, dict) else None
        for f in fields if isinstance(fields, list) else []:
            if isinstance(f, dict) and f.get("type") not in FIELD_TYPES:
                raise DefinitionError(
                    f'{source}: step "{step.get("id")}", field "{f.get("id")}": '
                    f'unknown type "{f.get("type")}" (known: {", ".join(FIELD_TYPES)})'
                )
    try:
        definition = FormDefinition.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DefinitionError(
            f"{_where(source, raw, tuple(first['loc']))}: {first['msg']}"
        ) from None
    _check_consistency(definition, source)
    return definition


def _check_consistency(d: FormDefinition, source: str) -> None:
    seen_steps: set[str] = set()
    seen: set[str] = set()
    all_ids = set(d.field_ids())
    for step in d.steps:
        if step.id in seen_steps:
            raise DefinitionError(f'{source}: step "{step.id}": duplicate step id')
        seen_steps.add(step.id)
        if not step.fields:
            raise DefinitionError(f'{source}: step "{step.id}": has no fields')
        for name in variables(step.show_if) - seen:
            raise DefinitionError(
                f'{source}: step "{step.id}": condition refers to "{name}", '
                "which is not a field of an earlier step"
            )
        for f in step.fields:
            where = f'{source}: step "{step.id}", field "{f.id}"'
            if f.id in seen:
                raise DefinitionError(f"{where}: duplicate field id")
            for cond in (f.show_if, f.required if isinstance(f.required, dict) else None):
                for name in variables(cond) - seen:
                    problem = "unknown field" if name not in all_ids else "a later field"
                    raise DefinitionError(
                        f'{where}: condition refers to "{name}", {problem}; '
                        "conditions may only use fields asked before"
                    )
            _check_kind(d, f, where, seen)
            if f.type == "group":
                if not f.fields:
                    raise DefinitionError(f"{where}: a group needs fields")
                if f.min_items > f.max_items:
                    raise DefinitionError(f"{where}: min_items is larger than max_items")
                inner: set[str] = set()
                for sub in f.fields:
                    sub_where = f'{where}, group field "{sub.id}"'
                    if sub.id in inner:
                        raise DefinitionError(f"{sub_where}: duplicate field id")
                    if sub.type in ("group", "file"):
                        raise DefinitionError(
                            f"{sub_where}: {sub.type} fields cannot be in a group"
                        )
                    for name in variables(sub.show_if) - seen - inner:
                        raise DefinitionError(
                            f'{sub_where}: condition refers to "{name}", which is not asked before'
                        )
                    _check_kind(d, sub, sub_where, seen | inner)
                    inner.add(sub.id)
            elif f.fields:
                raise DefinitionError(f"{where}: only group fields have fields")
            seen.add(f.id)


def _check_kind(d: FormDefinition, f, where: str, seen: set[str]) -> None:
    """Checks that depend on the field's type."""
    if f.type not in FIELD_TYPES:
        raise DefinitionError(f'{where}: unknown type "{f.type}" (known: {", ".join(FIELD_TYPES)})')
    if f.type in ("choice", "multichoice"):
        if not f.options:
            raise DefinitionError(f"{where}: a choice field needs options (a code list)")
        if f.options not in d.code_lists:
            raise DefinitionError(
                f'{where}: unknown code list "{f.options}" '
                f"(known: {', '.join(sorted(d.code_lists)) or 'none'})"
            )
    elif f.options:
        raise DefinitionError(f"{where}: options are only allowed on choice fields")
    if f.derive_from is not None:
        if f.type != "bic":
            raise DefinitionError(f"{where}: derive_from is only allowed on bic fields")
        if f.derive_from not in seen or d.field(f.derive_from).type != "iban":
            raise DefinitionError(
                f'{where}: derive_from refers to "{f.derive_from}", '
                "which is not an earlier IBAN field"
            )
    if f.type == "file":
        unknown = set(f.accept) - set(UPLOAD_TYPES)
        if unknown or not f.accept:
            raise DefinitionError(f"{where}: accept may list only {', '.join(UPLOAD_TYPES)}")
    if f.not_before:
        if f.type != "date":
            raise DefinitionError(f"{where}: not_before is only allowed on date fields")
        if f.not_before not in seen or d.field(f.not_before).type != "date":
            raise DefinitionError(
                f'{where}: not_before refers to "{f.not_before}", '
                "which is not an earlier date field"
            )
    if f.max_years_ago is not None and f.type != "date":
        raise DefinitionError(f"{where}: max_years_ago is only allowed on date fields")
    if f.min_age:
        target = f.min_age.of
        if target is None and f.type != "date":
            raise DefinitionError(f"{where}: min_age needs a date field or 'of'")
        if target is not None and (target not in seen or d.field(target).type != "date"):
            raise DefinitionError(
                f'{where}: min_age refers to "{target}", which is not an earlier date field'
            )
        for name in variables(f.min_age.when) - seen - {f.id}:
            raise DefinitionError(
                f'{where}: min_age condition refers to "{name}", which is not asked before'
            )


def load_definition(path: str | Path) -> FormDefinition:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise DefinitionError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_definition(raw, str(path))
