"""Form definitions as data: steps, fields, code lists, conditions (JsonLogic)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FIELD_TYPES = (
    "text",
    "textarea",
    "integer",
    "date",
    "yesno",
    "choice",
    "email",
    "phone",
    "postal_code",
    "iban",
    "bic",
    "chip",
    "confirm",
    "info",
    "money",
    "decimal",
    "multichoice",
    "file",
    "group",
)
# Media types an upload slot may accept (sniffed from the content, never from the name).
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/png")
LANGS = ("de", "en")


class Text(BaseModel):
    """A user-facing text in German (required) and English."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    de: str
    en: str | None = None

    def get(self, lang: str) -> str:
        return (self.en if lang == "en" else None) or self.de


def _text(value: Any) -> Any:
    return {"de": value} if isinstance(value, str) else value


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str
    label: Text

    _t = field_validator("label", mode="before")(_text)


class MinAge(BaseModel):
    """Minimum age at filing, of this date field or of an earlier date field (``of``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    years: int = Field(ge=1, le=120)
    of: str | None = None  # id of an earlier date-of-birth field; default: this field
    when: Any = None  # JsonLogic, evaluated with this field's answer included
    message: Text | None = None

    _t = field_validator("message", mode="before")(_text)


# The marker of an optional field's label (FieldDef.shown_label); labels that end with one of
# these markers already say it.
OPTIONAL = Text(de="freiwillig", en="optional")
OPTIONAL_MARKERS = ("(freiwillig)", "(empfohlen)", "(optional)", "(recommended)")


class FieldDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: str
    label: Text
    hint: Text | None = None
    required: bool | dict = False  # true/false or a JsonLogic condition
    show_if: Any = None  # JsonLogic; field is asked (and kept) only when it holds
    options: str | None = None  # name of a code list (choice fields)
    widget: Literal["radio", "select"] = "radio"
    autocomplete: str | None = None
    max_length: int | None = Field(default=None, ge=1)
    min: int | None = None
    max: int | None = None
    width: Literal["full", "half", "short", "code"] = "full"
    not_future: bool = True  # dates: refuse dates after today
    not_before: str | None = None  # dates: id of a date field this one may not precede
    # dates: refuse dates more than this many years before today (a date of birth: 130)
    max_years_ago: int | None = Field(default=None, ge=1, le=200)
    min_age: MinAge | None = None  # dates of birth: minimum age at filing
    unique: bool = False  # e.g. chip number among active registrations (checked by services)
    derive_from: str | None = None  # bic: derive from this IBAN field when left empty
    # file: accepted media types, size limit per file, number of files
    accept: tuple[str, ...] = UPLOAD_TYPES
    max_size_mb: int = Field(default=10, ge=1, le=50)
    max_files: int = Field(default=5, ge=1, le=20)
    # group: repeatable sub-form (list of items), e.g. joint keepers
    fields: list[FieldDef] = []
    min_items: int = Field(default=0, ge=0)
    max_items: int = Field(default=5, ge=1, le=20)
    item_label: Text | None = None  # "Weitere Halterin oder weiterer Halter"

    _t = field_validator("label", "hint", "item_label", mode="before")(_text)

    def shown_label(self, lang: str) -> str:
        """The label as the form asks it: every optional field says so, "(freiwillig)" /
        "(optional)", added here rather than written into each label (one that already
        carries a marker, like "(empfohlen)", keeps its own)."""
        text = self.label.get(lang)
        optional = self.required is False and self.type not in ("info", "group")
        if optional and not text.endswith(OPTIONAL_MARKERS):
            return f"{text} ({OPTIONAL.get(lang)})"
        return text


class StepDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    intro: Text | None = None
    show_if: Any = None
    fields: list[FieldDef]

    _t = field_validator("title", "intro", mode="before")(_text)


# Placeholder in a form's texts for the name of the municipality asking (for_municipality).
MUNICIPALITY = "{municipality}"


class FormDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: int = Field(ge=1)
    title: Text
    code_lists: dict[str, list[Option]] = {}
    steps: list[StepDef]

    _t = field_validator("title", mode="before")(_text)

    def step(self, step_id: str) -> StepDef:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def field(self, field_id: str) -> FieldDef:
        for step in self.steps:
            for f in step.fields:
                if f.id == field_id:
                    return f
        raise KeyError(field_id)

    def options(self, f: FieldDef) -> list[Option]:
        return self.code_lists.get(f.options or "", [])

    def field_ids(self) -> list[str]:
        return [f.id for s in self.steps for f in s.fields]

    def for_municipality(self, name: str) -> FormDefinition:
        """This form as one municipality asks it: ``{municipality}`` in any of its texts
        becomes the municipality's name ("Sind Sie neu nach {municipality} gezogen?"), so a
        built-in form serves every municipality."""
        raw = self.model_dump_json()
        if MUNICIPALITY not in raw:
            return self
        return type(self).model_validate_json(raw.replace(MUNICIPALITY, json.dumps(name)[1:-1]))
