"""Write and verify the hash-chained audit logs: one chain per case (CaseEvent) and one per
municipality for administrative changes (AdminEvent).

Appending is race-free: before the last event of a chain is read, the writer takes the lock
that guards the chain, so "read the last event, insert seq + 1" happens for one writer at a
time and concurrent writers queue instead of failing on the unique (parent, seq) constraint:

- PostgreSQL: a row lock on the parent (the case, or the municipality for admin events),
  ``SELECT … FOR NO KEY UPDATE``, held until the transaction ends. It is the same lock an
  ``UPDATE`` of the row takes (``lifecycle.move``, ``claim``), so it also queues behind a
  concurrent transition of the case. It is deliberately not ``FOR UPDATE``: inserting a row
  that references the case (an upload, a document, the event itself) takes ``FOR KEY
  SHARE`` on it, which ``FOR UPDATE`` would conflict with: two transactions that each
  inserted such a row and then both wanted ``FOR UPDATE`` would deadlock. Under READ
  COMMITTED (the default) the statements after the lock see what the previous holder
  committed.
- SQLite has no row locks; its one write lock covers the whole database. A transaction that
  has not written yet (a GET request recording a "viewed" event: only POST requests take the
  process write lock, services/web/deps.py) is opened with ``BEGIN IMMEDIATE``, which takes
  the write lock at once (waiting up to the busy timeout) so the read of the last event
  already happens under it. A transaction that has written already holds it: the sqlite3
  driver opens transactions only right before the first INSERT/UPDATE/DELETE.

Lock order: the lock is the first statement of each append (pending ORM changes are flushed
only after it). Writers of a case take its row before its events: ``lifecycle.move``'s and
``claim``'s UPDATE come before their events, and a bare append (a "viewed" event) starts with
this lock. Rows that reference the case and are inserted earlier (the citizen's answer stores
its files before the state change) take only ``FOR KEY SHARE``, which neither waits for this
lock nor blocks it. So appends cannot wait for each other in a cycle
(tests/services/audit/test_audit_races.py runs these races with real threads).

Not chosen: retrying on IntegrityError inside a SAVEPOINT. With the sqlite3 driver a
SAVEPOINT opened before the transaction's first write becomes the outer transaction, whose
RELEASE commits everything so far; and on PostgreSQL each retry first waits for the other
writer's commit anyway.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlmodel import Session, select

from forms.model import Text
from services.audit.models import AdminEvent, CaseEvent
from services.cases.models import Case
from services.municipalities.models import Municipality
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


def lock_parent(db: Session, parent, parent_id: int) -> None:
    """Take the lock that serialises appends to the chain of ``parent`` row ``parent_id``
    (see the module docstring); held until the transaction ends."""
    with db.no_autoflush:  # lock first: pending changes are flushed after, under the lock
        conn = db.connection()
        if conn.dialect.name == "sqlite":
            if not conn.connection.dbapi_connection.in_transaction:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        db.execute(select(parent.id).where(parent.id == parent_id).with_for_update(key_share=True))


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
    """Append one event to the case's chain (call inside the transaction that made the change).
    Locks the case first (row lock on PostgreSQL, the write lock on SQLite; see the module
    docstring), so concurrent appends to one case queue and the chain stays gapless."""
    lock_parent(db, Case, case_id)
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


# Keys never written to an admin event's before/after, whatever a caller passes.
SECRET_KEYS = frozenset({"password", "password_hash", "new_password", "initial_password"})


def _admin_hash(prev_hash: str, e: AdminEvent) -> str:
    body = {
        "municipality_id": e.municipality_id,
        "seq": e.seq,
        "at": aware(e.at).isoformat(timespec="microseconds"),
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "action": e.action,
        "target": e.target,
        "before": e.before,
        "after": e.after,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _scrub(values: dict | None) -> dict:
    """JSON-safe copy without secrets (passwords and their hashes are never logged)."""
    clean = json.loads(json.dumps(values or {}, default=str))
    return {k: v for k, v in clean.items() if k not in SECRET_KEYS}


# Every kind of administrative change the code writes, with its label for the change log
# (record_admin refuses any other action, so no raw identifier ever reaches the page).
ADMIN_ACTIONS: dict[str, Text] = {
    "municipality_updated": Text(de="Gemeindedaten geändert", en="Municipality settings changed"),
    "rate_table_created": Text(de="Steuersätze angelegt", en="Rate table created"),
    "rate_table_saved": Text(de="Steuersätze geändert", en="Rate table changed"),
    "user_created": Text(de="Benutzerkonto angelegt", en="Staff account created"),
    "user_updated": Text(de="Benutzerkonto geändert", en="Staff account changed"),
    "user_enabled": Text(de="Benutzerkonto freigeschaltet", en="Staff account enabled"),
    "user_disabled": Text(de="Benutzerkonto gesperrt", en="Staff account disabled"),
    "user_password_reset": Text(de="Passwort zurückgesetzt", en="Password reset"),
    "retention_run": Text(de="Aufbewahrungsfristen angewendet", en="Retention periods applied"),
    "procedure_form_edited": Text(
        de="Formular eines Verfahrensentwurfs geändert", en="Form of a procedure draft edited"
    ),
}


def admin_action_label(action: str, lang: str = "de") -> str:
    """The change log's label of an administrative action."""
    label = ADMIN_ACTIONS.get(action)
    return label.get(lang) if label else action


def record_admin(
    db: Session,
    *,
    municipality_id: int,
    actor_id: int | None,
    actor_name: str,
    action: str,
    target: str,
    before: dict | None = None,
    after: dict | None = None,
) -> AdminEvent:
    """Append one administrative change to the municipality's chain (call inside the
    transaction that made the change). ``before``/``after`` hold the changed fields only.
    Locks the municipality row first (like ``record`` locks the case)."""
    if action not in ADMIN_ACTIONS:
        raise ValueError(f"unknown admin action {action!r}: add it to ADMIN_ACTIONS")
    lock_parent(db, Municipality, municipality_id)
    last = db.exec(
        select(AdminEvent)
        .where(AdminEvent.municipality_id == municipality_id)
        .order_by(AdminEvent.seq.desc())
    ).first()
    event = AdminEvent(
        municipality_id=municipality_id,
        seq=(last.seq + 1) if last else 1,
        at=utcnow(),
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        target=target,
        before=_scrub(before),
        after=_scrub(after),
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    event.hash = _admin_hash(event.prev_hash, event)
    db.add(event)
    db.flush()
    return event


def admin_history(db: Session, municipality_id: int, limit: int = 50) -> list[AdminEvent]:
    """The municipality's latest administrative changes, newest first."""
    return list(
        db.exec(
            select(AdminEvent)
            .where(AdminEvent.municipality_id == municipality_id)
            .order_by(AdminEvent.seq.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class BrokenChain:
    case_id: int | None  # None for a municipality's admin chain
    seq: int
    reason: str
    municipality_id: int | None = None  # set for admin chains

    @property
    def label(self) -> str:
        if self.case_id is None:
            return f"admin log of municipality {self.municipality_id}, event {self.seq}"
        return f"case {self.case_id}, event {self.seq}"


def _check_chain(events, key, hasher, make_broken) -> tuple[int, list[BrokenChain]]:
    broken: list[BrokenChain] = []
    checked = 0
    prev_key, prev_hash, expected_seq, skip = object(), GENESIS, 1, False
    for e in events:
        if key(e) != prev_key:
            prev_key, prev_hash, expected_seq, skip = key(e), GENESIS, 1, False
        checked += 1
        if skip:
            continue
        reason = None
        if e.seq != expected_seq:
            reason = f"event {expected_seq} is missing"
        elif e.prev_hash != prev_hash:
            reason = "does not point to the previous event's hash"
        elif e.hash != hasher(e.prev_hash, e):
            reason = "content does not match its hash (changed after writing)"
        if reason:
            broken.append(make_broken(e, reason))
            skip = True
        prev_hash, expected_seq = e.hash, e.seq + 1
    return checked, broken


def verify(db: Session) -> tuple[int, list[BrokenChain]]:
    """Check every case's chain and every municipality's admin chain; returns (events
    checked, the first broken event per chain)."""
    checked_cases, broken_cases = _check_chain(
        db.exec(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)),
        lambda e: e.case_id,
        _content_hash,
        lambda e, reason: BrokenChain(e.case_id, e.seq, reason),
    )
    checked_admin, broken_admin = _check_chain(
        db.exec(select(AdminEvent).order_by(AdminEvent.municipality_id, AdminEvent.seq)),
        lambda e: e.municipality_id,
        _admin_hash,
        lambda e, reason: BrokenChain(None, e.seq, reason, municipality_id=e.municipality_id),
    )
    return checked_cases + checked_admin, broken_cases + broken_admin
