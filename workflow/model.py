"""Workflow definitions as data: states and a transition table (FIM Prozesse)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from forms.model import Text, _text

ROLES = ("clerk", "approver", "admin", "system", "citizen")


class StateDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Text  # for staff
    public_label: Text | None = None  # what the citizen sees; None: not shown to citizens
    public_text: Text | None = None  # what happens next, for the status page
    terminal: bool = False
    # The application is decided in this state: the statutory processing clock has stopped.
    decided: bool = False

    _t = field_validator("label", "public_label", "public_text", mode="before")(_text)


class TransitionDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Text
    from_: list[str] = Field(alias="from")
    to: str
    role: str
    guards: list[str] = []
    effects: list[str] = []
    comment_required: bool = False
    style: str = "primary"  # how the office shows the button: primary, secondary, warning

    _t = field_validator("label", mode="before")(_text)

    @field_validator("from_", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v


class WorkflowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: int = Field(ge=1)
    initial: str
    # Statutory processing time in days (the clock pauses while waiting for the citizen).
    processing_days: int = Field(default=14, ge=1, le=365)
    states: dict[str, StateDef]
    transitions: list[TransitionDef]

    def transition(self, name: str) -> TransitionDef | None:
        return next((t for t in self.transitions if t.name == name), None)
