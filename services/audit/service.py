"""Write and verify the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlmodel import Session, select

from services.audit.models import CaseEvent
from services.timeutil import aware, utcnow

GENESIS = "0" * 64


def _content_hash(prev_hash: str, e: CaseEvent) -> str:
    body = {
        "case_id": e.case_id,
        "seq": e.seq,
        "at": aware(e.at).isoformat(timespec="microseconds"),
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "action": e.action,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "comment": e.comment,
        "public": e.public,
        "data": e.data,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def record(
    db: Session,
    *,
    case_id: int,
    municipality_id: int,
    actor_kind: str,
    actor_id: int | None,
    actor_name: str,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str = "",
    public: bool = False,
    data: dict | None = None,
) -> CaseEvent:
    """Append one event to the case's chain (call inside the transaction that made the change)."""
    last = db.exec(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq.desc())
    ).first()
    event = CaseEvent(
        case_id=case_id,
        municipality_id=municipality_id,
        seq=(last.seq + 1) if last else 1,
        at=utcnow(),
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        public=public,
        data=data or {},
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    event.hash = _content_hash(event.prev_hash, event)
    db.add(event)
    db.flush()
    return event


def history(db: Session, case_id: int, public_only: bool = False) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id)
    if public_only:
        query = query.where(CaseEvent.public == True)  # noqa: E712
    return list(db.exec(query.order_by(CaseEvent.seq)))


@dataclass(frozen=True)
class BrokenChain:
    case_id: int
    seq: int
    reason: str


def verify(db: Session) -> tuple[int, list[BrokenChain]]:
    """Check every case's chain; returns (events checked, first broken event per case)."""
    broken: list[BrokenChain] = []
    checked = 0
    prev_case, prev_hash, expected_seq, skip = None, GENESIS, 1, False
    for e in db.exec(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)):
        if e.case_id != prev_case:
            prev_case, prev_hash, expected_seq, skip = e.case_id, GENESIS, 1, False
        checked += 1
        if skip:
            continue
        reason = None
        if e.seq != expected_seq:
            reason = f"event {expected_seq} is missing"
        elif e.prev_hash != prev_hash:
            reason = "does not point to the previous event's hash"
        elif e.hash != _content_hash(e.prev_hash, e):
            reason = "content does not match its hash (changed after writing)"
        if reason:
            broken.append(BrokenChain(e.case_id, e.seq, reason))
            skip = True
        prev_hash, expected_seq = e.hash, e.seq + 1
    return checked, broken
