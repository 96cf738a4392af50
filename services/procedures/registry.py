"""Procedures (FIM Leistungen): a form, a workflow, notice templates and a small module, in
numbered versions.

The built-in procedures are described in ``services/procedures/definitions/*.yaml``; their
forms and workflows live in ``forms/definitions`` and ``workflow/definitions``; the
procedure-specific code (tax computation, notices) in ``services/procedures/<module>.py``.
Every case pins ``(procedure_id, version)``.
"""

from __future__ import annotations

import importlib
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import cache
from types import ModuleType

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from forms import FormDefinition, load_definition, parse_definition
from forms.model import MUNICIPALITY, Text, _text
from services.config import ROOT
from workflow import WorkflowDefinition, load_workflow, parse_workflow

EFFECTS = frozenset({"issue_notice", "issue_rejection_notice", "notify_information_request"})
DEFINITIONS = ROOT / "services" / "procedures" / "definitions"


class NoticeTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    template: str
    version: int = Field(ge=1)
    # An administrator's edited template text (procedure versions in the database);
    # None: the file templates/notices/<template>.
    source: str | None = None


class Retention(BaseModel):
    """How long closed cases of this procedure are kept (domain.md §7: tax records for the
    liability plus 4 + 5 years, §§ 169, 228 AO; configurable per procedure version)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Closed cases: personal data is anonymised this many days after closing.
    anonymise_after_days: int = Field(default=3650, ge=1)
    # Uploaded evidence of closed cases is deleted this many days after closing.
    delete_files_after_days: int = Field(default=3650, ge=1)


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
    retention: Retention = Retention()
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
    retention: Retention = Retention()
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
        retention=meta.retention,
    )


@cache
def _builtin() -> dict[str, Procedure]:
    procedures = [_load(path) for path in sorted(DEFINITIONS.glob("*.yaml"))]
    codes = [p.reference_code for p in procedures]
    if len(set(codes)) != len(codes):  # case numbers are unique per municipality
        raise ProcedureDefinitionError(f"procedures share a reference_code: {codes}")
    return {p.id: p for p in procedures}


def builtin_sources(procedure_id: str) -> tuple[str, str, dict]:
    """The repository's form and workflow YAML and notice templates of a built-in procedure
    (loaded as version 1 for every municipality)."""
    path = DEFINITIONS / f"{procedure_id}.yaml"
    meta = ProcedureMeta.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    form = (ROOT / "forms" / "definitions" / f"{meta.form}.yaml").read_text(encoding="utf-8")
    workflow = (ROOT / "workflow" / "definitions" / f"{meta.workflow}.yaml").read_text(
        encoding="utf-8"
    )
    notices = {
        k: {"template": n.template, "version": n.version, "source": None}
        for k, n in meta.notices.items()
    }
    return form, workflow, notices


def build(
    procedure_id: str, version: int, form_yaml: str, workflow_yaml: str, notices: dict
) -> Procedure:
    """A procedure from edited texts (a version in the database). Raises DefinitionError /
    WorkflowDefinitionError naming the problem; the procedure's code module stays the
    built-in one."""
    base = _builtin()[procedure_id]
    form = parse_definition(yaml.safe_load(form_yaml), f"Formular, Version {version}")
    workflow = parse_workflow(
        yaml.safe_load(workflow_yaml), f"Ablauf, Version {version}", known_effects=EFFECTS
    )
    return replace(
        base,
        version=version,
        title=form.title,
        form=form,
        workflow=workflow,
        notices={k: NoticeTemplate(**n) for k, n in notices.items()},
    )


# Published and retired versions never change, so once loaded they are kept for good
# (per database: tests run several in one process).
_versions: dict[tuple[int, int, str, int], Procedure] = {}
_engine = None
_request_engine: ContextVar = ContextVar("amtsweg_engine", default=None)


def bind(engine) -> None:
    """Read procedure versions from this database (create_app and the CLI call it)."""
    global _engine
    _engine = engine


def use_engine(engine):
    """For the current request or job only (the app's middleware sets it)."""
    return _request_engine.set(engine)


def _current_engine():
    return _request_engine.get() or _engine


def _row(municipality_id: int, procedure_id: str, version: int | None, published: bool):
    from sqlmodel import Session, select

    from services.procedures.models import ProcedureVersion

    engine = _current_engine()
    if engine is None:
        return None
    with Session(engine) as db:
        query = select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == municipality_id,
            ProcedureVersion.procedure_id == procedure_id,
        )
        if version is not None:
            query = query.where(ProcedureVersion.version == version)
        if published:
            query = query.where(ProcedureVersion.status == "published")
        return db.exec(query.order_by(ProcedureVersion.version.desc())).first()


def get(
    procedure_id: str, version: int | None = None, municipality_id: int | None = None
) -> Procedure:
    """The procedure in ``version`` for ``municipality_id`` (its database versions), else
    the built-in definition (version 1)."""
    base = _builtin().get(procedure_id)
    if base is None:
        raise UnknownProcedure(procedure_id)
    if municipality_id is not None and version is not None:
        key = (id(_current_engine()), municipality_id, procedure_id, version)
        if key in _versions:
            return _versions[key]
        row = _row(municipality_id, procedure_id, version, published=False)
        if row is not None and row.status != "draft":
            proc = build(procedure_id, row.version, row.form_yaml, row.workflow_yaml, row.notices)
            _versions[key] = proc
            return proc
    if version is not None and version != base.version:
        raise UnknownProcedure(f"{procedure_id} v{version}")
    return base


def of(item) -> Procedure:
    """The procedure version a case or draft pins, as its municipality asks it."""
    from sqlalchemy.orm import object_session

    proc = get(item.procedure_id, item.procedure_version, item.municipality_id)
    return for_municipality(proc, item.municipality_id, object_session(item))


def current(municipality_id: int, procedure_id: str) -> Procedure:
    """The newest published version for new filings (the built-in one if none)."""
    row = _row(municipality_id, procedure_id, None, published=True)
    if row is None:
        proc = get(procedure_id)
    else:
        proc = get(procedure_id, row.version, municipality_id)
    return for_municipality(proc, municipality_id)


# (form, municipality name) -> the form with the name filled in; forms without the placeholder
# are their own (no lookup of the name).
_localised: dict[tuple[int, str], tuple[FormDefinition, FormDefinition]] = {}
_placeholder: dict[int, tuple[FormDefinition, bool]] = {}


def for_municipality(proc: Procedure, municipality_id: int, db=None) -> Procedure:
    """The procedure as this municipality asks it: its place name (the town) for
    ``{municipality}`` in the form's texts (FormDefinition.for_municipality)."""
    from sqlmodel import Session

    from services.municipalities.models import Municipality

    form = proc.form
    known = _placeholder.get(id(form))
    if known is None or known[0] is not form:
        known = _placeholder[id(form)] = (form, MUNICIPALITY in form.model_dump_json())
    if not known[1]:
        return proc
    if db is not None:
        m = db.get(Municipality, municipality_id)
    elif (engine := _current_engine()) is not None:
        with Session(engine) as own:
            m = own.get(Municipality, municipality_id)
    else:
        m = None
    if m is None:
        return proc
    place = m.town or m.name  # "Herzberg (Elster)", not "Stadt Herzberg (Elster)"
    done = _localised.get((id(form), place))
    if done is None or done[0] is not form:
        done = _localised[(id(form), place)] = (form, form.for_municipality(place))
    return replace(proc, form=done[1], title=done[1].title)


def by_slug(slug: str) -> Procedure:
    for proc in _builtin().values():
        if proc.slug == slug:
            return proc
    raise UnknownProcedure(slug)


def all_procedures() -> list[Procedure]:
    return list(_builtin().values())
