"""One summary renderer for a filing: the check page, the confirmation, the clerk view and
documents all show answers through this, so they never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency

from forms.model import FieldDef, FormDefinition
from forms.validate import prune

LOCALES = {"de": "de_DE", "en": "en_GB"}
YES_NO = {"de": ("Ja", "Nein"), "en": ("Yes", "No")}
CONFIRMED = {"de": "Bestätigt", "en": "Confirmed"}


@dataclass(frozen=True)
class Row:
    field: str
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    step: str
    title: str
    rows: list[Row]


def group(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def format_chip(digits: str) -> str:
    """Show a 15-digit chip as '276 0981 0000 1234' (code, then the ID in groups)."""
    return f"{digits[:3]} {group(digits[3:])}" if len(digits) == 15 else digits


def mask_iban(iban: str) -> str:
    """Keep country, check digits and the last four characters; mask the rest."""
    compact = iban.replace(" ", "")
    if len(compact) < 8:
        return compact
    return group(compact[:4] + "*" * (len(compact) - 8) + compact[-4:])


def display(
    definition: FormDefinition, f: FieldDef, value: Any, lang: str = "de", mask: bool = False
) -> str:
    if value is None or value == "":
        return ""
    match f.type:
        case "money":
            return format_currency(Decimal(value), "EUR", locale=LOCALES.get(lang, "de_DE"))
        case "multichoice":
            labels = {o.value: o.label.get(lang) for o in definition.options(f)}
            return "; ".join(labels.get(v, v) for v in value)
        case "file":
            return "; ".join(x["filename"] for x in value)
        case "group":
            return " | ".join(
                ", ".join(
                    display(definition, sub, item[sub.id], lang, mask)
                    for sub in f.fields
                    if item.get(sub.id) not in (None, "")
                )
                for item in value
            )
        case "date":
            return date.fromisoformat(value).strftime("%d/%m/%Y" if lang == "en" else "%d.%m.%Y")
        case "yesno":
            yes, no = YES_NO.get(lang, YES_NO["de"])
            return yes if value else no
        case "confirm":
            return CONFIRMED.get(lang, CONFIRMED["de"]) if value else ""
        case "choice":
            for option in definition.options(f):
                if option.value == value:
                    return option.label.get(lang)
            return str(value)
        case "chip":
            return format_chip(value)
        case "iban":
            return mask_iban(value) if mask else group(value)
    return str(value)


def summarize(
    definition: FormDefinition, answers: Mapping[str, Any], lang: str = "de", mask: bool = False
) -> list[Section]:
    """Answered, visible fields per visible step, labelled and formatted for people."""
    shown = prune(definition, answers)  # answers of hidden fields or steps are never shown
    sections: list[Section] = []
    for step in definition.steps:
        rows = []
        for f in step.fields:
            value = shown.get(f.id)
            if f.type == "info" or value in (None, "", []):
                continue
            if f.type == "group":  # one row per item: "Weitere Halterin oder Halter 1"
                title = (f.item_label or f.label).get(lang)
                rows += [
                    Row(f.id, f"{title} {i}", display(definition, f, [item], lang, mask))
                    for i, item in enumerate(value, start=1)
                ]
            else:
                rows.append(Row(f.id, f.label.get(lang), display(definition, f, value, lang, mask)))
        if rows:
            sections.append(Section(step.id, step.title.get(lang), rows))
    return sections
