"""The office's side: queue, case view, workflow transitions with audit and effects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms.model import Text
from services.accounts.models import StaffUser
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases.models import Case, Document
from services.errors import CaseNotFound, Conflict, DomainError, NotFound
from services.procedures import dog_registration
from services.procedures.registry import Procedure, get
from services.timeutil import utcnow
from workflow import Actor, GuardContext, PastTransition, TransitionDef, available, check

PAGE_SIZE = 50


def staff_cases(staff: StaffUser):
    """Every staff query starts here: only the actor's municipality."""
    return select(Case).where(Case.municipality_id == staff.municipality_id)


@dataclass(frozen=True)
class QueuePage:
    cases: list[Case]
    total: int
    page: int
    pages: int
    counts: dict[str, int]


def queue(db: Session, staff: StaffUser, state: str | None = None, page: int = 1) -> QueuePage:
    base = staff_cases(staff)
    if state:
        base = base.where(Case.state == state)
    total = db.exec(select(func.count()).select_from(base.subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = db.exec(
        base.options(defer(Case.answers))
        .order_by(Case.submitted_at, Case.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    counts = dict(
        db.exec(
            select(Case.state, func.count())
            .where(Case.municipality_id == staff.municipality_id)
            .group_by(Case.state)
        ).all()
    )
    return QueuePage(list(rows), total, page, pages, counts)


def case_for_staff(db: Session, staff: StaffUser, reference: str) -> Case:
    case = db.exec(staff_cases(staff).where(Case.reference == reference)).first()
    if case is None:
        raise CaseNotFound()
    return case


def actor(staff: StaffUser) -> Actor:
    return Actor(staff.id, frozenset(staff.roles))


def guard_context(db: Session, case: Case, staff: StaffUser | None) -> GuardContext:
    events = audit.history(db, case.id)
    past = tuple(PastTransition(e.action, e.actor_id) for e in events if e.to_state)
    return GuardContext(
        actor_id=staff.id if staff else None,
        facts=dog_registration.facts(case.answers),
        history=past,
    )


@dataclass(frozen=True)
class CaseView:
    case: Case
    procedure: Procedure
    events: list[CaseEvent]
    documents: list[Document]
    transitions: list[TransitionDef]
    assignee: StaffUser | None


def view_case(db: Session, staff: StaffUser, reference: str) -> CaseView:
    case = case_for_staff(db, staff, reference)
    proc = get(case.procedure_id, case.procedure_version)
    docs = db.exec(
        select(Document)
        .options(defer(Document.content))
        .where(Document.case_id == case.id)
        .order_by(Document.created_at)
    )
    return CaseView(
        case=case,
        procedure=proc,
        events=audit.history(db, case.id),
        documents=list(docs),
        transitions=available(
            proc.workflow, case.state, actor(staff), guard_context(db, case, staff)
        ),
        assignee=db.get(StaffUser, case.assignee_id) if case.assignee_id else None,
    )


def document_for_staff(db: Session, staff: StaffUser, reference: str, document_id: int) -> Document:
    case = case_for_staff(db, staff, reference)
    doc = db.exec(
        select(Document).where(Document.id == document_id, Document.case_id == case.id)
    ).first()
    if doc is None:
        raise NotFound(Text(de="Dieses Dokument gibt es nicht.", en="No such document."))
    return doc


class CommentRequired(DomainError):
    status = 422


def _move(db: Session, case: Case, to: str, expected_version: int, who: str) -> None:
    """Change the state only if nobody else changed the case since ``expected_version``."""
    result = db.execute(
        update(Case)
        .where(Case.id == case.id, Case.version == expected_version)
        .values(state=to, version=expected_version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        db.refresh(case)
        raise Conflict(
            Text(
                de=f"Dieser Vorgang wurde inzwischen von {who} geändert. Bitte prüfen Sie den "
                "aktuellen Stand und wiederholen Sie Ihren Schritt, falls er noch nötig ist.",
                en=f"This case was changed by {who} meanwhile. Check its current state and "
                "repeat your step if it is still needed.",
            )
        )
    db.refresh(case)


def _last_actor(db: Session, case: Case) -> str:
    events = audit.history(db, case.id)
    return events[-1].actor_name if events else "jemand anderem"


def transition(
    db: Session, staff: StaffUser, reference: str, name: str, comment: str, expected_version: int
) -> Case:
    """Perform one workflow transition for a staff member, with audit event and effects."""
    case = case_for_staff(db, staff, reference)
    if case.version != expected_version:
        raise Conflict(
            Text(
                de=f"Dieser Vorgang wurde inzwischen von {_last_actor(db, case)} geändert. "
                "Bitte prüfen Sie den aktuellen Stand.",
                en=f"This case was changed by {_last_actor(db, case)} meanwhile. Check its "
                "current state.",
            )
        )
    proc = get(case.procedure_id, case.procedure_version)
    t = check(proc.workflow, case.state, name, actor(staff), guard_context(db, case, staff))
    comment = comment.strip()
    if t.comment_required and not comment:
        raise CommentRequired(
            Text(
                de=f"Für „{t.label.de}“ ist eine Begründung nötig. Bitte tragen Sie sie ein.",
                en=f"'{t.label.get('en')}' needs a reason. Please enter it.",
            )
        )
    from_state = case.state
    _move(db, case, t.to, expected_version, _last_actor(db, case))
    public = proc.workflow.states[t.to].public_label is not None and (
        proc.workflow.states[t.to].public_label != proc.workflow.states[from_state].public_label
    )
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="staff",
        actor_id=staff.id,
        actor_name=staff.display_name,
        action=t.name,
        from_state=from_state,
        to_state=t.to,
        comment=comment,
        public=public or t.name == "reject",
    )
    for effect in t.effects:
        EFFECTS[effect](db, case, proc, staff)
    return case


def _issue_notice(db: Session, case: Case, proc: Procedure, staff: StaffUser) -> None:
    """Effect: compute the tax, render and store the notice, register the dog, then move the
    case on (system transition). Runs in the approving transaction, so it is all or nothing."""
    doc = dog_registration.issue_notice(db, case, staff)
    t = proc.workflow.transition("notice_issued")
    from_state = case.state
    _move(db, case, t.to, case.version, "System")
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="system",
        actor_id=None,
        actor_name="System",
        action=t.name,
        from_state=from_state,
        to_state=t.to,
        public=True,
        data={
            "document_id": doc.id,
            "sha256": doc.sha256,
            "tag_number": doc.meta.get("tag_number"),
        },
    )


EFFECTS = {"issue_notice": _issue_notice}
