"""Between HTML forms and answers: raw values from a posted form, and stored answers as the
strings inputs show. Pure; no web framework types (a form is any ``getlist`` mapping)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from forms.model import FieldDef, FormDefinition
from forms.summary import format_chip, group


class MultiDict(Protocol):
    def getlist(self, key: str) -> list[Any]: ...
    def keys(self) -> Iterable[str]: ...


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def raw_from_form(fields: Iterable[FieldDef], form: MultiDict) -> dict[str, Any]:
    """Collect the raw answers of ``fields`` from a posted form. Files are not read here:
    file fields are filled by the caller from the stored uploads."""
    raw: dict[str, Any] = {}
    for f in fields:
        if f.type == "multichoice":
            raw[f.id] = [_text(v) for v in form.getlist(f.id)]
        elif f.type == "group":
            raw[f.id] = group_items(f, form)
        elif f.type == "file":
            continue
        else:
            values = form.getlist(f.id)
            raw[f.id] = _text(values[0]) if values else ""
    return raw


def group_items(g: FieldDef, form: MultiDict) -> list[dict[str, str]]:
    """Items of a repeatable group from inputs named ``group.index.field``."""
    pattern = re.compile(rf"^{re.escape(g.id)}\.(\d{{1,2}})\.([a-z][a-z0-9_]*)$")
    items: dict[int, dict[str, str]] = {}
    sub_ids = {sub.id for sub in g.fields}
    for key in form.keys():
        m = pattern.match(key)
        if m and m[2] in sub_ids:
            values = form.getlist(key)
            items.setdefault(int(m[1]), {})[m[2]] = _text(values[0]) if values else ""
    return [items[i] for i in sorted(items)][: g.max_items + 1]


def _input_value(f: FieldDef, value: Any, lang: str) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if f.type == "date" and value:
        y, m, d = value.split("-")
        return f"{d}.{m}.{y}"
    if f.type == "iban":
        return group(value)
    if f.type == "chip":
        return format_chip(value)
    if f.type == "money" and value:
        amount = Decimal(value)
        text = f"{amount:,.2f}"
        return (
            text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
            if lang == "de"
            else text
        )
    if f.type in ("multichoice", "file"):
        return list(value)
    if f.type == "group":
        return [
            {
                sub.id: _input_value(sub, item.get(sub.id, ""), lang)
                for sub in f.fields
                if sub.id in item
            }
            for item in value
        ]
    return "" if value is None else str(value)


def input_values(
    definition: FormDefinition, answers: dict[str, Any], lang: str = "de"
) -> dict[str, Any]:
    """Stored answers as the values the form inputs show (dates 24.11.2026, grouped IBAN)."""
    values: dict[str, Any] = {}
    for field_id, value in answers.items():
        try:
            f = definition.field(field_id)
        except KeyError:
            continue
        values[field_id] = _input_value(f, value, lang)
    return values
