"""One place for every state change of a case: optimistic locking, the open flag for the
queues and the statutory clock (it pauses while the case waits for the citizen)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from forms.model import Text
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases.models import Case
from services.errors import Conflict
from services.timeutil import local, today_local, utcnow
from workflow import WorkflowDefinition

WAITING = "information_requested"


def due_date(submitted: date, processing_days: int, paused_days: int) -> date:
    return submitted + timedelta(days=processing_days + paused_days)


def last_actor(db: Session, case: Case) -> str:
    """Who changed the case last (views do not count)."""
    event = db.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.action != "viewed")
        .order_by(CaseEvent.seq.desc())
    ).first()
    return event.actor_name if event else "jemand anderem"


def conflict(db: Session, case: Case) -> Conflict:
    who = last_actor(db, case)
    return Conflict(
        Text(
            de=f"Dieser Vorgang wurde inzwischen von {who} geändert. Bitte prüfen Sie den "
            "aktuellen Stand und wiederholen Sie Ihren Schritt, falls er noch nötig ist.",
            en=f"This case was changed by {who} meanwhile. Check its current state and repeat "
            "your step if it is still needed.",
        )
    )


def lock(db: Session, case_id: int) -> None:
    """Lock the case until the transaction ends: the same lock as its audit chain's
    (``FOR NO KEY UPDATE`` on PostgreSQL, the write lock on SQLite; see services/audit)."""
    audit.lock_parent(db, Case, case_id)


def move(
    db: Session,
    case: Case,
    wf: WorkflowDefinition,
    to: str,
    expected_version: int,
    *,
    reply_by: date | None = None,
) -> None:
    """Change the state only if nobody else changed the case since ``expected_version``."""
    values: dict = {
        "state": to,
        "version": expected_version + 1,
        "updated_at": utcnow(),
        "is_open": not wf.states[to].terminal,
    }
    if (wf.states[to].decided or wf.states[to].terminal) and case.decided_at is None:
        values["decided_at"] = utcnow()
    if to == WAITING and case.state != WAITING:
        values.update(paused_since=utcnow(), reply_by=reply_by, reminded_at=None)
    elif case.state == WAITING and to != WAITING:
        paused = (today_local() - local(case.paused_since).date()).days if case.paused_since else 0
        paused_days = case.paused_days + max(paused, 0)
        values.update(
            paused_since=None,
            paused_days=paused_days,
            reply_by=None,
            due_date=due_date(local(case.submitted_at).date(), wf.processing_days, paused_days),
        )
    result = db.execute(
        update(Case).where(Case.id == case.id, Case.version == expected_version).values(**values)
    )
    if result.rowcount != 1:
        db.refresh(case)
        raise conflict(db, case)
    db.refresh(case)


def remaining_days(case: Case, today: date | None = None) -> int | None:
    """Days left until the statutory deadline; None while the clock is paused or after the
    decision."""
    if not case.is_open or case.state == WAITING or case.decided_at is not None:
        return None
    return (case.due_date - (today or today_local())).days
