"""The office's side: queue, case view, workflow transitions with audit and effects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms.model import Text
from services.accounts.models import StaffUser
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases.models import Case, Document
from services.cases.service import status_url
from services.errors import CaseNotFound, Conflict, DomainError, NotFound
from services.mail import service as mail
from services.municipalities.models import Municipality
from services.procedures import dog_registration
from services.procedures.registry import Procedure, get
from services.timeutil import today_local, utcnow
from services.uploads import service as uploads
from services.uploads.models import Upload
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
    uploads: list[Upload]


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
        uploads=uploads.for_case(db, case.id),
    )


def upload_for_staff(db: Session, staff: StaffUser, reference: str, upload_id: int) -> Upload:
    case = case_for_staff(db, staff, reference)
    return uploads.get_for_case(db, case.id, upload_id)


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


@dataclass(frozen=True)
class Links:
    """What effects need to write links into mails."""

    base_url: str
    secret_key: str


@dataclass(frozen=True)
class EffectContext:
    event: CaseEvent
    links: Links | None


def transition(
    db: Session,
    staff: StaffUser,
    reference: str,
    name: str,
    comment: str,
    expected_version: int,
    *,
    reply_by: date | None = None,
    links: Links | None = None,
    reply_days: int = 14,
) -> Case:
    """Perform one workflow transition for a staff member, with audit event and effects, in
    the caller's transaction (ADR 0003)."""
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
    data = {}
    if t.name == "request_information":
        reply_by = reply_by or today_local() + timedelta(days=reply_days)
        if reply_by <= today_local():
            raise CommentRequired(
                Text(
                    de="Die Antwortfrist muss in der Zukunft liegen.",
                    en="The reply deadline must be in the future.",
                )
            )
        data["reply_by"] = reply_by.isoformat()
    from_state = case.state
    _move(db, case, t.to, expected_version, _last_actor(db, case))
    public = proc.workflow.states[t.to].public_label is not None and (
        proc.workflow.states[t.to].public_label != proc.workflow.states[from_state].public_label
    )
    event = audit.record(
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
        data=data,
    )
    for effect in t.effects:
        EFFECTS[effect](db, case, proc, staff, EffectContext(event, links))
    return case


def _issue_notice(
    db: Session, case: Case, proc: Procedure, staff: StaffUser, ctx: EffectContext
) -> None:
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


def _notify_information_request(
    db: Session, case: Case, proc: Procedure, staff: StaffUser, ctx: EffectContext
) -> None:
    """Effect: tell the citizen by mail (outbox, same transaction) that the office asks for
    more; the status page shows the request in any case."""
    email = case.answers.get("email")
    if not email or ctx.links is None:
        return
    m = db.get(Municipality, case.municipality_id)
    subject, body = mail.render_mail(
        "information_request",
        "de",
        municipality=m,
        procedure_title=proc.title.de,
        reference=case.reference,
        request_text=ctx.event.comment,
        reply_by=date.fromisoformat(ctx.event.data["reply_by"]),
        status_url=status_url(ctx.links.base_url, ctx.links.secret_key, case),
    )
    mail.enqueue(
        db,
        municipality_id=case.municipality_id,
        to=email,
        kind="information_request",
        subject=subject,
        body=body,
        case_id=case.id,
    )


EFFECTS = {"issue_notice": _issue_notice, "notify_information_request": _notify_information_request}
