"""Form definitions as data: steps, fields, code lists, conditions (JsonLogic)."""

from __future__ import annotations

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


class StepDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    intro: Text | None = None
    show_if: Any = None
    fields: list[FieldDef]

    _t = field_validator("title", "intro", mode="before")(_text)


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
