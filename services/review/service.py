"""The office's side: queue, case view, workflow transitions with audit and effects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms import check_text
from forms.model import Text
from services.accounts.models import StaffUser
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases import lifecycle
from services.cases.models import Case, Document, RegisteredDog
from services.cases.service import status_url
from services.documents.fonts import printable
from services.errors import (
    CaseNotFound,
    Conflict,
    DocumentPending,
    DomainError,
    Forbidden,
    NotFound,
)
from services.mail import service as mail
from services.municipalities.models import Municipality
from services.procedures.registry import Procedure, of
from services.timeutil import today_local, utcnow
from services.uploads import service as uploads
from services.uploads.models import Upload
from workflow import Actor, GuardContext, PastTransition, TransitionDef, available, check


def staff_cases(staff: StaffUser):
    """Every staff query starts here: only the actor's municipality."""
    return select(Case).where(Case.municipality_id == staff.municipality_id)


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
        facts=of(case).module.facts(case.answers),
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
    colleagues: list[StaffUser]
    remaining_days: int | None
    register: RegisteredDog | None  # the dog register entry once a notice was issued


def view_case(db: Session, staff: StaffUser, reference: str, record: bool = True) -> CaseView:
    """The case page's data; ``record`` writes a "viewed" audit event (staff access to
    personal data is logged, not shown to the citizen)."""
    case = case_for_staff(db, staff, reference)
    if record:
        audit.record(
            db,
            case_id=case.id,
            municipality_id=case.municipality_id,
            actor_kind="staff",
            actor_id=staff.id,
            actor_name=staff.display_name,
            action="viewed",
        )
    proc = of(case)
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
        colleagues=colleagues(db, staff),
        remaining_days=lifecycle.remaining_days(case),
        register=db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).first(),
    )


def replace_tag(db: Session, staff: StaffUser, reference: str, reason: str) -> RegisteredDog:
    """A replacement for a lost tag (clerks), recorded in the register and the audit log."""
    case = case_for_staff(db, staff, reference)
    if "clerk" not in staff.roles:
        raise Forbidden(
            Text(
                de="Nur Sachbearbeitung kann Ersatzmarken ausgeben.",
                en="Only clerks can issue replacement tags.",
            )
        )
    if not reason.strip():
        raise CommentRequired(
            Text(
                de="Bitte geben Sie den Grund an (z. B. Verlust gemeldet am …).",
                en="Give the reason (e.g. loss reported on …).",
            )
        )
    _refuse_characters("replace-reason", Text(de="Grund", en="Reason"), reason.strip())
    module = of(case).module
    return module.replace_tag(db, case, staff, reason.strip()[:500])


def colleagues(db: Session, staff: StaffUser) -> list[StaffUser]:
    """Active clerks of the actor's municipality (to assign cases to)."""
    users = db.exec(
        select(StaffUser)
        .where(
            StaffUser.municipality_id == staff.municipality_id,
            StaffUser.active == True,  # noqa: E712
        )
        .order_by(StaffUser.display_name)
    )
    return [u for u in users if "clerk" in u.roles]


def _assignment_event(
    db: Session, staff: StaffUser, case: Case, action: str, to: StaffUser | None
) -> None:
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="staff",
        actor_id=staff.id,
        actor_name=staff.display_name,
        action=action,
        data={"assignee_id": to.id if to else None, "assignee": to.display_name if to else None},
    )


def claim(db: Session, staff: StaffUser, reference: str) -> Case:
    """Take an unassigned case; refused if a colleague took it meanwhile."""
    case = case_for_staff(db, staff, reference)
    if "clerk" not in staff.roles:
        raise Forbidden(
            Text(
                de="Nur Sachbearbeitung kann Vorgänge übernehmen.", en="Only clerks can take cases."
            )
        )
    result = db.execute(
        update(Case)
        .where(
            Case.id == case.id,
            or_(Case.assignee_id == None, Case.assignee_id == staff.id),  # noqa: E711
        )
        .values(assignee_id=staff.id)
    )
    db.refresh(case)
    if result.rowcount != 1:
        holder = db.get(StaffUser, case.assignee_id)
        raise Conflict(
            Text(
                de=f"Diesen Vorgang hat inzwischen {holder.display_name} übernommen.",
                en=f"{holder.display_name} took this case meanwhile.",
            )
        )
    _assignment_event(db, staff, case, "claim", staff)
    return case


def assign(db: Session, staff: StaffUser, reference: str, assignee_id: int) -> Case:
    """Give a case to a colleague of the same municipality."""
    case = case_for_staff(db, staff, reference)
    target = next((u for u in colleagues(db, staff) if u.id == assignee_id), None)
    if target is None:
        raise NotFound(
            Text(
                de="Diese Kollegin oder diesen Kollegen gibt es hier nicht.",
                en="No such colleague here.",
            )
        )
    case.assignee_id = target.id
    db.add(case)
    db.flush()
    _assignment_event(db, staff, case, "assign", target)
    return case


def release(db: Session, staff: StaffUser, reference: str) -> Case:
    """Give a case back to the unassigned queue (the holder, or an approver)."""
    case = case_for_staff(db, staff, reference)
    if case.assignee_id not in (staff.id, None) and "approver" not in staff.roles:
        raise Forbidden(
            Text(
                de="Nur die zuständige Person oder die Sachgebietsleitung kann den Vorgang "
                "abgeben.",
                en="Only the assignee or an approver can release this case.",
            )
        )
    case.assignee_id = None
    db.add(case)
    db.flush()
    _assignment_event(db, staff, case, "release", None)
    return case


def send_reply_reminders(db: Session, links: Links, today: date | None = None) -> int:
    """Cases whose reply deadline passed without an answer: remind the citizen (mail when an
    address is known, always on the status page) once, and record it."""
    today = today or today_local()
    due = db.exec(
        select(Case)
        .where(
            Case.state == lifecycle.WAITING,
            Case.reply_by < today,
            Case.reminded_at == None,  # noqa: E711
        )
        # Another run at the same moment skips the cases this one is reminding (PostgreSQL;
        # SQLite serialises write transactions anyway).
        .with_for_update(skip_locked=True)
    ).all()
    for case in due:
        m = db.get(Municipality, case.municipality_id)
        proc = of(case)
        if case.answers.get("email"):
            subject, body = mail.render_mail(
                "reply_reminder",
                "de",
                municipality=m,
                procedure_title=proc.title.de,
                reference=case.reference,
                reply_by=case.reply_by,
                status_url=status_url(links.base_url, links.secret_key, case),
            )
            mail.enqueue(
                db,
                municipality_id=m.id,
                to=case.answers["email"],
                kind="reply_reminder",
                subject=subject,
                body=body,
                case_id=case.id,
            )
        audit.record(
            db,
            case_id=case.id,
            municipality_id=case.municipality_id,
            actor_kind="system",
            actor_id=None,
            actor_name="System",
            action="reply_reminder",
            public=True,
            data={"reply_by": case.reply_by.isoformat()},
        )
        case.reminded_at = utcnow()
        db.add(case)
    db.flush()
    return len(due)


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
    if doc.pending:
        raise DocumentPending()
    return doc


class CommentRequired(DomainError):
    status = 422


def _refuse_characters(path: str, label: Text, text: str) -> None:
    """A staff text that may not be stored as typed (forms.check_text) is refused, naming the
    character: comments and reasons reach the status page and the notices."""
    refused = check_text(path, label, text, multiline=True, printable=printable)
    if refused:
        raise CommentRequired(Text(de=refused.message("de"), en=refused.message("en")))


# Transitions that decide the application and so must decide a requested reduction too.
DECIDING = ("approve", "propose_approval")


def _reduction_decision(choice: str, reason: str) -> dict:
    if choice not in ("grant", "refuse"):
        raise CommentRequired(
            Text(
                de="Bitte entscheiden Sie über die beantragte Ermäßigung oder Befreiung "
                "(gewähren oder ablehnen).",
                en="Decide on the requested reduction or exemption (grant or refuse).",
            )
        )
    reason = reason.strip()
    _refuse_characters(
        "reduction_reason", Text(de="Begründung einer Ablehnung", en="Reason for refusal"), reason
    )
    if choice == "refuse" and not reason:
        raise CommentRequired(
            Text(
                de="Bitte begründen Sie, warum die Ermäßigung abgelehnt wird; die Begründung "
                "steht im Bescheid.",
                en="Give the reason for refusing the reduction; it appears in the notice.",
            )
        )
    return {"granted": choice == "grant", "reason": reason[:2000]}


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
    reduction: str = "",
    reduction_reason: str = "",
) -> Case:
    """Perform one workflow transition for a staff member, with audit event and effects, in
    the caller's transaction (ADR 0003)."""
    case = case_for_staff(db, staff, reference)
    if case.version != expected_version:
        raise lifecycle.conflict(db, case)
    proc = of(case)
    t = check(proc.workflow, case.state, name, actor(staff), guard_context(db, case, staff))
    comment = comment.strip()
    if t.comment_required and not comment:
        raise CommentRequired(
            Text(
                de=f"Für „{t.label.de}“ ist eine Begründung nötig. Bitte tragen Sie sie ein.",
                en=f"'{t.label.get('en')}' needs a reason. Please enter it.",
            )
        )
    label = (
        Text(de="Begründung", en="Reason") if t.comment_required else Text(de="Vermerk", en="Note")
    )
    _refuse_characters("comment", label, comment)
    data: dict = {}
    if t.name in DECIDING and proc.module.facts(case.answers).get("decides_reduction"):
        data["reduction"] = _reduction_decision(reduction, reduction_reason)
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
    lifecycle.move(db, case, proc.workflow, t.to, expected_version, reply_by=reply_by)
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
    """Effect: compute the tax, compose and store the notice, register the dog, then move the
    case on (system transition). Runs in the approving transaction, so it is all or nothing;
    the notice's PDF is rendered by a job after the commit (services/cases/documents.py)."""
    doc = proc.module.issue_notice(db, case, staff)
    t = proc.workflow.transition("notice_issued")
    from_state = case.state
    lifecycle.move(db, case, proc.workflow, t.to, case.version)
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
            "document_id": doc.id,  # its PDF's hash follows in "document_stored"
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


def _issue_rejection_notice(
    db: Session, case: Case, proc: Procedure, staff: StaffUser, ctx: EffectContext
) -> None:
    """Effect: the rejection notice with the clerk's reasons, for the status page."""
    proc.module.issue_rejection_notice(db, case, staff, ctx.event.comment)


EFFECTS = {
    "issue_rejection_notice": _issue_rejection_notice,
    "issue_notice": _issue_notice,
    "notify_information_request": _notify_information_request,
}
