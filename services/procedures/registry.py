"""Procedures (FIM Leistungen): a form, a workflow and notice templates, in numbered versions.

The built-in definitions live as YAML in the repository (``forms/definitions``,
``workflow/definitions``). Every case pins ``(procedure_id, version)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from forms import FormDefinition, load_definition
from forms.model import Text
from services.config import ROOT
from workflow import WorkflowDefinition, load_workflow

EFFECTS = frozenset({"issue_notice", "notify_information_request"})


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
    notice_template: str
    notice_template_version: int


class UnknownProcedure(KeyError):
    pass


@cache
def _builtin() -> dict[str, Procedure]:
    form = load_definition(ROOT / "forms" / "definitions" / "dog_registration.yaml")
    workflow = load_workflow(
        ROOT / "workflow" / "definitions" / "dog_registration.yaml", known_effects=EFFECTS
    )
    dog = Procedure(
        id="dog_registration",
        version=form.version,
        slug="hund-anmelden",
        leika="99102013104000",
        title=form.title,
        summary=Text(
            de="Melden Sie Ihren Hund online zur Hundesteuer an. Sie erhalten den "
            "Hundesteuerbescheid digital.",
            en="Register your dog for the dog tax online. You receive the dog tax notice "
            "digitally.",
        ),
        form=form,
        workflow=workflow,
        notice_template="dog_registration_notice.html",
        notice_template_version=1,
    )
    return {dog.id: dog}


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
