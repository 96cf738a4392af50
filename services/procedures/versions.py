"""Procedure versions: administrators make a draft from a version, edit its form, workflow and
notice templates, check and publish it. A published version never changes; running cases and
drafts keep their version; new filings use the newest published one."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

import yaml
from jinja2 import TemplateSyntaxError, nodes
from sqlmodel import Session, func, select

from forms import DefinitionError, check_text
from forms.model import Text
from services.accounts.models import StaffUser
from services.config import ROOT
from services.documents.render import ENV
from services.errors import DomainError, NotFound
from services.procedures import registry
from services.procedures.models import ProcedureVersion
from services.timeutil import utcnow
from workflow import WorkflowDefinitionError

BUNDLE_FORMAT = "amtsweg-procedure-bundle/1"
PARTS = {"form": "Formular", "workflow": "Ablauf"}


@dataclass(frozen=True)
class Problem:
    part: str  # "form", "workflow" or "notice:<kind>"
    line: int | None
    message: str

    @property
    def where(self) -> str:
        part = PARTS.get(self.part) or f"Bescheidvorlage „{self.part.split(':', 1)[-1]}“"
        return f"{part}, Zeile {self.line}" if self.line else part


class PublishRefused(DomainError):
    status = 422

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            Text(
                de="Die Version wurde nicht veröffentlicht: "
                + "; ".join(f"{p.where}: {p.message}" for p in problems),
                en="The version was not published; see the problems listed.",
            )
        )
        self.problems = problems


def template_source(notice: dict) -> str:
    """The text of a version's notice template (its own edit, or the repository file)."""
    if notice.get("source"):
        return notice["source"]
    return (ROOT / "templates" / "notices" / notice["template"]).read_text(encoding="utf-8")


def seed_builtin(db: Session, municipality_id: int, created_by: str = "System") -> int:
    """Load the repository's definitions as published version 1 where a municipality has
    no version of a procedure yet (first start); returns how many were created."""
    created = 0
    for proc in registry.all_procedures():
        exists = db.exec(
            select(ProcedureVersion.id).where(
                ProcedureVersion.municipality_id == municipality_id,
                ProcedureVersion.procedure_id == proc.id,
            )
        ).first()
        if exists is not None:
            continue
        form, workflow, notices = registry.builtin_sources(proc.id)
        db.add(
            ProcedureVersion(
                municipality_id=municipality_id,
                procedure_id=proc.id,
                version=proc.version,
                status="published",
                form_yaml=form,
                workflow_yaml=workflow,
                notices=notices,
                note="Mitgelieferte Fassung",
                created_by=created_by,
                published_by=created_by,
                published_at=utcnow(),
            )
        )
        created += 1
    db.flush()
    return created


def versions(db: Session, admin: StaffUser, procedure_id: str) -> list[ProcedureVersion]:
    return list(
        db.exec(
            select(ProcedureVersion)
            .where(
                ProcedureVersion.municipality_id == admin.municipality_id,
                ProcedureVersion.procedure_id == procedure_id,
            )
            .order_by(ProcedureVersion.version.desc())
        )
    )


def version(db: Session, admin: StaffUser, procedure_id: str, number: int) -> ProcedureVersion:
    row = db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == admin.municipality_id,
            ProcedureVersion.procedure_id == procedure_id,
            ProcedureVersion.version == number,
        )
    ).first()
    if row is None:
        raise NotFound(Text(de="Diese Version gibt es nicht.", en="No such version."))
    return row


def new_draft(
    db: Session, admin: StaffUser, procedure_id: str, from_version: int
) -> ProcedureVersion:
    """A new draft with the texts of ``from_version`` (at most one draft at a time)."""
    source = version(db, admin, procedure_id, from_version)
    open_draft = db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == admin.municipality_id,
            ProcedureVersion.procedure_id == procedure_id,
            ProcedureVersion.status == "draft",
        )
    ).first()
    if open_draft is not None:
        raise DraftExists(open_draft.version)
    highest = db.exec(
        select(func.max(ProcedureVersion.version)).where(
            ProcedureVersion.municipality_id == admin.municipality_id,
            ProcedureVersion.procedure_id == procedure_id,
        )
    ).one()
    draft = ProcedureVersion(
        municipality_id=admin.municipality_id,
        procedure_id=procedure_id,
        version=(highest or 0) + 1,
        status="draft",
        form_yaml=_renumber(source.form_yaml, (highest or 0) + 1),
        workflow_yaml=_renumber(source.workflow_yaml, (highest or 0) + 1),
        notices={k: {**n, "source": template_source(n)} for k, n in source.notices.items()},
        based_on=source.version,
        created_by=admin.display_name,
    )
    db.add(draft)
    db.flush()
    return draft


def _renumber(text: str, number: int) -> str:
    """The draft's texts carry its own version number."""
    return re.sub(r"(?m)^version:\s*\d+\s*$", f"version: {number}", text, count=1)


class DraftExists(DomainError):
    status = 409

    def __init__(self, number: int) -> None:
        super().__init__(
            Text(
                de=f"Es gibt bereits einen Entwurf (Version {number}). Bitte bearbeiten oder "
                "veröffentlichen Sie diesen zuerst.",
                en=f"There is already a draft (version {number}).",
            )
        )


def _line_of(text: str, message: str) -> int | None:
    """The line a definition error is about: the YAML mark, or the quoted field/step id."""
    for name in re.findall(r'(?:field|step|transition) "([a-z0-9_]+)"', message)[::-1]:
        m = re.search(
            rf"(?m)^\s*(?:-\s*)?(?:\{{\s*)?id:\s*{re.escape(name)}\b|name:\s*{re.escape(name)}\b",
            text,
        )
        if m:
            return text.count("\n", 0, m.start()) + 1
    return None


def check(
    procedure_id: str, number: int, form_yaml: str, workflow_yaml: str, notices: dict
) -> list[Problem]:
    """Every problem of a version's texts, with the line where it is known. Checked together:
    the form, the workflow (states reachable, guards and effects known) and the templates."""
    problems: list[Problem] = []
    for part, text in (("form", form_yaml), ("workflow", workflow_yaml)):
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(
                Problem(
                    part,
                    mark.line + 1 if mark else None,
                    f"kein gültiges YAML: {getattr(exc, 'problem', exc)}",
                )
            )
    built = None
    if not problems:
        try:
            built = registry.build(
                procedure_id,
                number,
                form_yaml,
                workflow_yaml,
                {
                    k: {"template": n["template"], "version": n["version"]}
                    for k, n in notices.items()
                },
            )
        except DefinitionError as exc:
            problems.append(Problem("form", _line_of(form_yaml, str(exc)), str(exc)))
        except WorkflowDefinitionError as exc:
            problems.append(Problem("workflow", _line_of(workflow_yaml, str(exc)), str(exc)))
        except (TypeError, ValueError) as exc:  # e.g. a list where a mapping belongs
            problems.append(Problem("form", None, str(exc)))
    if built is not None:
        problems += missing_answers(built)
    required = set(registry.get(procedure_id).notices)
    for kind in sorted(required - set(notices)):
        problems.append(Problem(f"notice:{kind}", None, "Vorlage fehlt"))
    for kind, notice in sorted(notices.items()):
        try:
            tree = ENV.parse(template_source(notice))
        except TemplateSyntaxError as exc:
            problems.append(Problem(f"notice:{kind}", exc.lineno, exc.message or str(exc)))
            continue
        if not list(tree.find_all(nodes.Extends)):
            problems.append(
                Problem(
                    f"notice:{kind}",
                    None,
                    "Die Vorlage muss eine Briefvorlage erweitern, z. B. "
                    '{% extends "letter_base.html" %} (Briefkopf, Anschrift, Fußzeile).',
                )
            )
    return problems


def missing_answers(proc: registry.Procedure) -> list[Problem]:
    """A procedure kind with code declares the answers its rules read (``ANSWERS`` of its
    module); a form without one of them would break the office's decision later."""
    fields = set(proc.form.field_ids())
    return [
        Problem(
            "form",
            None,
            f"Feld „{name}“ fehlt: Die Regeln dieses Verfahrens lesen es (Berechnung, "
            "Bescheid, Register). Bitte nehmen Sie das Feld mit dieser Kennung in das "
            "Formular auf.",
        )
        for name in sorted(getattr(proc.module, "ANSWERS", frozenset()) - fields)
    ]


class TextsRefused(DomainError):
    """Edited texts hold characters that may not be stored (``forms.check_text``): nothing
    is saved; ``edited`` is the version as typed (not in the session), to show it again."""

    status = 422

    def __init__(self, problems: list[Problem], edited: ProcedureVersion) -> None:
        super().__init__(
            Text(
                de="Nicht gespeichert: " + "; ".join(f"{p.where}: {p.message}" for p in problems),
                en="Not saved: the texts contain characters that are not allowed.",
            )
        )
        self.problems = problems
        self.edited = edited


def refused_characters(form_yaml: str, workflow_yaml: str, notices: dict) -> list[Problem]:
    """The first refused character of each text (control or bidirectional, as in every text
    answer; tabs and line breaks are kept), with its line."""
    texts = [("form", form_yaml), ("workflow", workflow_yaml)]
    texts += [(f"notice:{kind}", template_source(n)) for kind, n in sorted(notices.items())]
    problems = []
    for part, text in texts:
        where = Problem(part, None, "").where
        for number, line in enumerate(text.split("\n"), start=1):
            refused = check_text(part, Text(de=where), line, multiline=True)
            if refused:
                problems.append(Problem(part, number, refused.message("de")))
                break
    return problems


def save_draft(
    db: Session, row: ProcedureVersion, form_yaml: str, workflow_yaml: str, sources: dict[str, str]
) -> list[Problem]:
    """Store the edited texts of a draft and return its problems; texts with a refused
    character are not stored at all (TextsRefused)."""
    if row.status != "draft":
        raise PublishRefused([Problem("form", None, "Nur Entwürfe können bearbeitet werden.")])
    notices = {}
    for kind, notice in row.notices.items():
        text = sources.get(kind, template_source(notice)).replace("\r\n", "\n")
        changed = text != template_source(notice)
        notices[kind] = {
            **notice,
            "source": text,
            "version": notice["version"] + (1 if changed else 0),
        }
    form_yaml = form_yaml.replace("\r\n", "\n")
    workflow_yaml = workflow_yaml.replace("\r\n", "\n")
    refused = refused_characters(form_yaml, workflow_yaml, notices)
    if refused:
        edited = ProcedureVersion(
            **{
                **row.model_dump(),
                "form_yaml": form_yaml,
                "workflow_yaml": workflow_yaml,
                "notices": notices,
            }
        )
        raise TextsRefused(refused, edited)
    row.form_yaml = form_yaml
    row.workflow_yaml = workflow_yaml
    row.notices = notices
    db.add(row)
    db.flush()
    return check(row.procedure_id, row.version, row.form_yaml, row.workflow_yaml, row.notices)


def publish(db: Session, admin: StaffUser, row: ProcedureVersion) -> ProcedureVersion:
    """Publish a draft after checking everything; the previously published version is
    retired (cases filed under it keep it). Refused with every problem listed."""
    if row.status != "draft":
        raise PublishRefused([Problem("form", None, "Diese Version ist kein Entwurf.")])
    problems = check(row.procedure_id, row.version, row.form_yaml, row.workflow_yaml, row.notices)
    if problems:
        raise PublishRefused(problems)
    for old in db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == row.municipality_id,
            ProcedureVersion.procedure_id == row.procedure_id,
            ProcedureVersion.status == "published",
        )
    ):
        old.status = "retired"
        db.add(old)
    row.status = "published"
    row.published_at = utcnow()
    row.published_by = admin.display_name
    db.add(row)
    db.flush()
    return row


def diff(a: ProcedureVersion, b: ProcedureVersion) -> list[tuple[str, list[str]]]:
    """Unified diffs of every part between two versions (only parts that differ)."""
    parts = [("Formular", a.form_yaml, b.form_yaml), ("Ablauf", a.workflow_yaml, b.workflow_yaml)]
    for kind in sorted(set(a.notices) | set(b.notices)):
        parts.append(
            (
                f"Bescheidvorlage „{kind}“",
                template_source(a.notices[kind]) if kind in a.notices else "",
                template_source(b.notices[kind]) if kind in b.notices else "",
            )
        )
    result = []
    for title, left, right in parts:
        lines = list(
            difflib.unified_diff(
                left.splitlines(),
                right.splitlines(),
                f"Version {a.version}",
                f"Version {b.version}",
                lineterm="",
                n=2,
            )
        )
        if lines:
            result.append((title, lines))
    return result


def export_bundle(row: ProcedureVersion) -> bytes:
    """One file with the version's form, workflow and templates (to move it elsewhere)."""
    return json.dumps(
        {
            "format": BUNDLE_FORMAT,
            "procedure_id": row.procedure_id,
            "version": row.version,
            "form_yaml": row.form_yaml,
            "workflow_yaml": row.workflow_yaml,
            "notices": {k: {**n, "source": template_source(n)} for k, n in row.notices.items()},
        },
        ensure_ascii=False,
        indent=2,
    ).encode()


class BundleRefused(DomainError):
    status = 422


def import_bundle(db: Session, admin: StaffUser, data: bytes) -> ProcedureVersion:
    """A bundle becomes a new draft of the same procedure in this municipality."""
    try:
        bundle = json.loads(data.decode("utf-8"))
        assert bundle["format"] == BUNDLE_FORMAT
        procedure_id = str(bundle["procedure_id"])
        registry.get(procedure_id)
        texts = (str(bundle["form_yaml"]), str(bundle["workflow_yaml"]))
        notices = {
            str(k): {
                "template": str(n["template"]),
                "version": int(n["version"]),
                "source": str(n["source"]),
            }
            for k, n in bundle["notices"].items()
        }
    except (
        ValueError,
        KeyError,
        TypeError,
        AssertionError,
        AttributeError,
        registry.UnknownProcedure,
    ):
        raise BundleRefused(
            Text(
                de="Die Datei ist kein gültiges Amtsweg-Verfahrenspaket.",
                en="The file is not a valid Amtsweg procedure bundle.",
            )
        ) from None
    current = versions(db, admin, procedure_id)
    if not current:
        seed_builtin(db, admin.municipality_id, admin.display_name)
        current = versions(db, admin, procedure_id)
    draft = new_draft(db, admin, procedure_id, current[0].version)
    draft.note = f"Importiert aus Version {bundle.get('version')}"
    save_draft(db, draft, texts[0], texts[1], {k: n["source"] for k, n in notices.items()})
    return draft
