"""Procedures (FIM Leistungen): a form, a workflow, notice templates and a small module, in
numbered versions.

The built-in procedures are described in ``services/procedures/definitions/*.yaml``; their
forms and workflows live in ``forms/definitions`` and ``workflow/definitions``; the
procedure-specific code (tax computation, notices) in ``services/procedures/<module>.py``.
Every case pins ``(procedure_id, version)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from forms import FormDefinition, load_definition
from forms.model import Text, _text
from services.config import ROOT
from workflow import WorkflowDefinition, load_workflow

EFFECTS = frozenset({"issue_notice", "issue_rejection_notice", "notify_information_request"})
DEFINITIONS = ROOT / "services" / "procedures" / "definitions"


class NoticeTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    template: str
    version: int = Field(ge=1)


class ProcedureMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    leika: str = Field(pattern=r"^\d{14}$")
    summary: Text
    form: str
    workflow: str
    module: str
    notices: dict[str, NoticeTemplate]
    # Marks this procedure's case numbers when several procedures share the municipality's
    # prefix (HST-AB-2026-000001); the first procedure of a prefix has none (HST-2026-000001).
    reference_code: str | None = Field(default=None, pattern=r"^[A-Z]{1,4}$")

    _t = field_validator("summary", mode="before")(_text)


@dataclass(frozen=True)
class Procedure:
    id: str
    version: int
    slug: str  # URL segment for citizens
    leika: str  # FIM LeiKa key
    title: Text
    summary: Text
    form: FormDefinition
    workflow: WorkflowDefinition
    notices: dict[str, NoticeTemplate]
    module: ModuleType  # procedure-specific rules: facts(), issue_notice(), ...
    reference_code: str | None = None  # case numbers: HST-<code>-2026-000001

    def notice(self, kind: str) -> NoticeTemplate:
        return self.notices[kind]


class UnknownProcedure(KeyError):
    pass


class ProcedureDefinitionError(ValueError):
    pass


def _load(path) -> Procedure:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        meta = ProcedureMeta.model_validate(raw)
    except Exception as exc:  # pydantic ValidationError: name the file
        raise ProcedureDefinitionError(f"{path}: {exc}") from None
    form = load_definition(ROOT / "forms" / "definitions" / f"{meta.form}.yaml")
    workflow = load_workflow(
        ROOT / "workflow" / "definitions" / f"{meta.workflow}.yaml", known_effects=EFFECTS
    )
    for kind, notice in meta.notices.items():
        if not (ROOT / "templates" / "notices" / notice.template).is_file():
            raise ProcedureDefinitionError(
                f'{path}: notice "{kind}": template "{notice.template}" does not exist'
            )
    module = importlib.import_module(f"services.procedures.{meta.module}")
    return Procedure(
        id=meta.id,
        version=form.version,
        slug=meta.slug,
        leika=meta.leika,
        title=form.title,
        summary=meta.summary,
        form=form,
        workflow=workflow,
        notices=dict(meta.notices),
        module=module,
        reference_code=meta.reference_code,
    )


@cache
def _builtin() -> dict[str, Procedure]:
    procedures = [_load(path) for path in sorted(DEFINITIONS.glob("*.yaml"))]
    codes = [p.reference_code for p in procedures]
    if len(set(codes)) != len(codes):  # case numbers are unique per municipality
        raise ProcedureDefinitionError(f"procedures share a reference_code: {codes}")
    return {p.id: p for p in procedures}


def get(procedure_id: str, version: int | None = None) -> Procedure:
    proc = _builtin().get(procedure_id)
    if proc is None or (version is not None and version != proc.version):
        raise UnknownProcedure(f"{procedure_id} v{version}")
    return proc


def by_slug(slug: str) -> Procedure:
    for proc in _builtin().values():
        if proc.slug == slug:
            return proc
    raise UnknownProcedure(slug)


def all_procedures() -> list[Procedure]:
    return list(_builtin().values())
