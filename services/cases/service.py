"""Citizens' side of a case: drafts between steps, filing, the status page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms import FieldError, prune, validate, validate_steps, visible_steps
from forms.model import StepDef, Text
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases.models import Case, Document, Draft, RegisteredDog
from services.cases.sequences import next_value
from services.errors import DomainError, StatusNotFound
from services.municipalities.models import Municipality
from services.procedures.registry import Procedure, get
from services.timeutil import aware, today_local, utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def status_token_for(secret_key: str, draft_token: str) -> str:
    """The status link token, derived from the draft token: a repeated submit of the same
    draft (double click, reload) yields the same link without storing the token itself."""
    mac = hmac.new(secret_key.encode(), b"status:" + draft_token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


# --- drafts -----------------------------------------------------------------------------------


def start_draft(
    db: Session, municipality: Municipality, proc: Procedure, retention_days: int
) -> tuple[Draft, str]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    draft = Draft(
        token_hash=token_hash(token),
        municipality_id=municipality.id,
        procedure_id=proc.id,
        procedure_version=proc.version,
        answers={},
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=retention_days),
    )
    db.add(draft)
    db.flush()
    return draft, token


def find_draft(
    db: Session, token: str | None, municipality_id: int, lock: bool = False
) -> Draft | None:
    if not token:
        return None
    query = select(Draft).where(
        Draft.token_hash == token_hash(token), Draft.municipality_id == municipality_id
    )
    if lock:
        query = query.with_for_update()
    draft = db.exec(query).first()
    if draft is None or aware(draft.expires_at) < utcnow():
        return None
    return draft


def _chip_errors(
    db: Session, municipality_id: int, proc: Procedure, clean: dict[str, Any]
) -> list[FieldError]:
    errors = []
    for f in (f for s in proc.form.steps for f in s.fields if f.unique and f.id in clean):
        taken = db.exec(
            select(RegisteredDog.id).where(
                RegisteredDog.municipality_id == municipality_id,
                RegisteredDog.chip_number == clean[f.id],
                RegisteredDog.liable_until == None,  # noqa: E711
            )
        ).first()
        if taken is not None:
            errors.append(FieldError(f.id, "chip_taken", {}))
    return errors


def save_step(
    db: Session, draft: Draft, proc: Procedure, step: StepDef, raw: dict[str, Any], lang: str = "de"
) -> list[FieldError]:
    """Validate one step's answers; store them in the draft only if they are valid."""
    clean, errors = validate_steps(
        proc.form, [step], raw, context=draft.answers, today=today_local(), lang=lang
    )
    errors += _chip_errors(db, draft.municipality_id, proc, clean)
    if errors:
        return errors
    answers = {k: v for k, v in draft.answers.items() if k not in {f.id for f in step.fields}}
    answers.update(clean)
    draft.answers = prune(proc.form, answers)
    draft.updated_at = utcnow()
    db.add(draft)
    db.flush()
    return []


def step_after(proc: Procedure, answers: dict[str, Any], step_id: str | None) -> StepDef | None:
    """The next visible step after ``step_id`` (the first if None); None when at the end."""
    steps = visible_steps(proc.form, answers)
    if step_id is None:
        return steps[0]
    ids = [s.id for s in steps]
    if step_id not in ids:
        return steps[0]
    i = ids.index(step_id)
    return steps[i + 1] if i + 1 < len(steps) else None


def step_before(proc: Procedure, answers: dict[str, Any], step_id: str) -> StepDef | None:
    steps = visible_steps(proc.form, answers)
    ids = [s.id for s in steps]
    if step_id in ids and ids.index(step_id) > 0:
        return steps[ids.index(step_id) - 1]
    return None


def first_incomplete_step(
    proc: Procedure, answers: dict[str, Any]
) -> tuple[StepDef | None, list[FieldError]]:
    """The first step with missing or invalid answers (None if the filing is complete)."""
    _, errors = validate(proc.form, answers, today=today_local())
    if not errors:
        return None, []
    failing = {e.field for e in errors}
    for step in visible_steps(proc.form, answers):
        if failing & {f.id for f in step.fields}:
            return step, [e for e in errors if e.field in {f.id for f in step.fields}]
    return None, errors


# --- filing -----------------------------------------------------------------------------------


class IncompleteFiling(DomainError):
    status = 422

    def __init__(self, step: StepDef | None) -> None:
        super().__init__(
            Text(de="Bitte vervollständigen Sie Ihre Angaben.", en="Please complete your answers.")
        )
        self.step = step


@dataclass(frozen=True)
class Filed:
    case: Case
    status_token: str
    first_time: bool


def submit(db: Session, municipality: Municipality, draft_token: str, secret_key: str) -> Filed:
    """File the draft as a case, exactly once per draft (a second submit returns the case)."""
    draft = find_draft(db, draft_token, municipality.id, lock=True)
    if draft is None:
        raise StatusNotFound()
    status_token = status_token_for(secret_key, draft_token)
    if draft.case_id is not None:
        return Filed(db.get(Case, draft.case_id), status_token, False)
    proc = get(draft.procedure_id, draft.procedure_version)
    clean, errors = validate(proc.form, draft.answers, today=today_local())
    errors += _chip_errors(db, municipality.id, proc, clean)
    if errors:
        step, _ = first_incomplete_step(proc, draft.answers)
        raise IncompleteFiling(step)
    now = utcnow()
    year = now.year
    seq = next_value(db, municipality.id, f"case:{proc.id}", year)
    case = Case(
        municipality_id=municipality.id,
        procedure_id=proc.id,
        procedure_version=proc.version,
        reference=f"{municipality.case_prefix}-{year}-{seq:06d}",
        file_number=municipality.file_number_pattern.format(seq=seq, year=year),
        state=proc.workflow.initial,
        answers=clean,
        status_token_hash=token_hash(status_token),
        submission_key=draft.token_hash,
        owner_name=f"{clean.get('family_name', '')}, {clean.get('given_names', '')}".strip(", "),
        chip_number=clean.get("chip_number"),
        submitted_at=now,
        updated_at=now,
    )
    db.add(case)
    db.flush()
    audit.record(
        db,
        case_id=case.id,
        municipality_id=municipality.id,
        actor_kind="citizen",
        actor_id=None,
        actor_name="Antragsteller/in",
        action="filed",
        to_state=case.state,
        public=True,
    )
    draft.case_id = case.id
    draft.answers = {}  # the case holds the answers now; the draft only links to it
    db.add(draft)
    db.flush()
    return Filed(case, status_token, True)


def filed_case(
    db: Session, municipality: Municipality, draft_token: str | None, secret_key: str
) -> Filed | None:
    draft = find_draft(db, draft_token, municipality.id)
    if draft is None or draft.case_id is None:
        return None
    return Filed(db.get(Case, draft.case_id), status_token_for(secret_key, draft_token), False)


# --- status page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusView:
    case: Case
    municipality: Municipality
    events: list[CaseEvent]
    documents: list[Document]


def status(db: Session, token: str) -> StatusView:
    case = db.exec(select(Case).where(Case.status_token_hash == token_hash(token))).first()
    if case is None:
        raise StatusNotFound()
    docs = db.exec(
        select(Document)
        .options(defer(Document.content))
        .where(Document.case_id == case.id, Document.public == True)  # noqa: E712
        .order_by(Document.created_at)
    )
    return StatusView(
        case,
        db.get(Municipality, case.municipality_id),
        audit.history(db, case.id, public_only=True),
        list(docs),
    )


def status_document(db: Session, token: str, document_id: int) -> Document:
    view = status(db, token)
    for doc in view.documents:
        if doc.id == document_id:
            return doc
    raise StatusNotFound()
