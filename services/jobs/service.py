"""The job lifecycle on the job table: enqueue (in the caller's transaction), claim, run,
retry with backoff, recover from crashed workers, and what administrators see and retry.

States: ``queued`` → ``running`` → ``done``; a failed attempt goes back to ``queued`` with a
later ``run_at`` (backoff) until ``max_attempts``, then ``failed`` (kept, retryable by an
administrator). Claiming is one conditional UPDATE, so of two deliveries of the same job only
one runs; ``attempts`` is the fencing token for finishing it.
"""

from __future__ import annotations

import logging
import os
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from services.db import after_commit, insert_for, unit_of_work
from services.jobs import registry
from services.jobs.models import Job
from services.timeutil import aware, utcnow

log = logging.getLogger("amtsweg.jobs")

# Waiting time before attempt n+1 after n failed attempts.
BACKOFF_SECONDS = (10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600)
# A queued job not picked up this long after it was handed to the transport is handed again.
REPUSH_AFTER = timedelta(seconds=60)
MAX_ERROR = 2000

# Per engine: called after commit with the ids of newly queued jobs (services.jobs.queue).
_dispatchers: weakref.WeakKeyDictionary[Engine, Callable[[list[int]], None] | None] = (
    weakref.WeakKeyDictionary()
)


def set_dispatcher(engine: Engine, dispatch: Callable[[list[int]], None] | None) -> None:
    _dispatchers[engine] = dispatch


def _engine_of(db: Session) -> Engine:
    bind = db.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_SECONDS[min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1])


def enqueue(
    db: Session,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    municipality_id: int | None = None,
    case_id: int | None = None,
    run_at: datetime | None = None,
) -> int | None:
    """Queue a job in the caller's transaction (flush only). With ``key``, a job with the
    same key is not queued twice (returns None then). After the transaction commits, the job
    is handed to the workers at once; if that hand-over is lost, the sweeper does it."""
    spec = registry.spec(kind)
    now = utcnow()
    values = {
        "kind": kind,
        "key": key or f"{kind}:{now.isoformat()}:{os.urandom(6).hex()}",
        "args": args or {},
        "municipality_id": municipality_id,
        "case_id": case_id,
        "state": "queued",
        "attempts": 0,
        "max_attempts": spec.max_attempts,
        "run_at": run_at or now,
        "pushed_at": now if run_at is None or run_at <= now else None,
        "worker": "",
        "last_error": "",
        "created_at": now,
    }
    stmt = (
        insert_for(db)(Job)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Job.id)
    )
    job_id = db.execute(stmt).scalar_one_or_none()
    if job_id is not None and values["pushed_at"] is not None:
        engine = _engine_of(db)
        after_commit(db, lambda: _dispatch(engine, [job_id]))
    return job_id


def _dispatch(engine: Engine, ids: list[int]) -> None:
    dispatch = _dispatchers.get(engine)
    if dispatch is not None and ids:
        dispatch(ids)


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    args: dict
    attempts: int
    max_attempts: int


def claim(engine: Engine, job_id: int, worker: str, now: datetime | None = None) -> Claimed | None:
    """Take a due, queued job for running; None if it is not (any more) queued and due."""
    now = now or utcnow()
    kind = None
    with unit_of_work(engine) as db:
        kind = db.execute(select(Job.kind).where(Job.id == job_id)).scalar_one_or_none()
        if kind is None:
            return None
        try:
            lease = registry.spec(kind).lease_seconds
        except registry.UnknownJob:
            lease = 300
        row = db.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "queued", Job.run_at <= now)
            .values(
                state="running",
                attempts=Job.attempts + 1,
                lease_until=now + timedelta(seconds=lease),
                started_at=now,
                worker=worker[:120],
            )
            .returning(Job.id, Job.kind, Job.args, Job.attempts, Job.max_attempts)
        ).first()
    return Claimed(*row) if row else None


def _finish(engine: Engine, job: Claimed, **values: Any) -> bool:
    with unit_of_work(engine) as db:
        result = db.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == "running", Job.attempts == job.attempts)
            .values(lease_until=None, **values)
        )
        return result.rowcount == 1


def _short(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def execute(engine: Engine, settings: Any, job_id: int, worker: str | None = None) -> str:
    """Run one job if it is due and queued. Returns "done", "retry", "failed" or "skipped"."""
    job = claim(engine, job_id, worker or worker_name())
    if job is None:
        return "skipped"
    from services.procedures import registry as procedures

    procedures.use_engine(engine)  # procedure versions come from the job's database
    try:
        spec = registry.spec(job.kind)
        spec.fn(registry.JobContext(engine, settings, job.id, job.attempts), **job.args)
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded, never lost
        now = utcnow()
        if job.attempts >= job.max_attempts:
            _finish(engine, job, state="failed", finished_at=now, last_error=_short(exc))
            log.error(
                "job %s (%s) failed for good after %d attempts",
                job.id,
                job.kind,
                job.attempts,
                exc_info=exc,
            )
            return "failed"
        _finish(
            engine,
            job,
            state="queued",
            run_at=now + backoff(job.attempts),
            pushed_at=None,
            last_error=_short(exc),
        )
        log.warning(
            "job %s (%s) attempt %d failed: %s; will retry",
            job.id,
            job.kind,
            job.attempts,
            _short(exc),
        )
        return "retry"
    if not _finish(engine, job, state="done", finished_at=utcnow(), last_error=""):
        log.warning("job %s (%s) finished after its lease was taken over", job.id, job.kind)
    return "done"


def sweep(engine: Engine, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Recover and hand over: running jobs whose lease passed (their worker died) are queued
    again (or failed when out of attempts); due queued jobs not handed over recently are
    returned for handing to the transport (and marked as handed)."""
    now = now or utcnow()
    with unit_of_work(engine) as db:
        db.execute(
            update(Job)
            .where(Job.state == "running", Job.lease_until < now, Job.attempts >= Job.max_attempts)
            .values(
                state="failed",
                finished_at=now,
                lease_until=None,
                last_error="Der Arbeitsprozess wurde während der Ausführung beendet "
                "(worker stopped while running).",
            )
        )
        db.execute(
            update(Job)
            .where(Job.state == "running", Job.lease_until < now)
            .values(
                state="queued",
                lease_until=None,
                pushed_at=None,
                last_error="Der Arbeitsprozess wurde während der Ausführung beendet "
                "(worker stopped while running).",
            )
        )
        due = list(
            db.execute(
                select(Job.id)
                .where(
                    Job.state == "queued",
                    Job.run_at <= now,
                    or_(Job.pushed_at == None, Job.pushed_at < now - REPUSH_AFTER),  # noqa: E711
                )
                .order_by(Job.run_at, Job.id)
                .limit(limit)
            ).scalars()
        )
        if due:
            db.execute(update(Job).where(Job.id.in_(due)).values(pushed_at=now))
    return due


def run_due(engine: Engine, settings: Any, limit: int = 1000) -> dict[str, int]:
    """Run every due queued job in this process, oldest first (CLI one-offs and tests)."""
    outcome: dict[str, int] = {}
    for _ in range(limit):
        with unit_of_work(engine, lock=False) as db:
            job_id = db.execute(
                select(Job.id)
                .where(Job.state == "queued", Job.run_at <= utcnow())
                .order_by(Job.run_at, Job.id)
                .limit(1)
            ).scalar_one_or_none()
        if job_id is None:
            break
        result = execute(engine, settings, job_id)
        outcome[result] = outcome.get(result, 0) + 1
    return outcome


def is_pending(db: Session, key: str) -> bool:
    """Whether the job with this key is still to be done (queued or running)."""
    state = db.execute(select(Job.state).where(Job.key == key)).scalar_one_or_none()
    return state in ("queued", "running")


# --- what administrators see ------------------------------------------------------------------


def counts(db: Session, municipality_id: int | None = None) -> dict[str, int]:
    query = select(Job.state, func.count()).group_by(Job.state)
    if municipality_id is not None:
        query = query.where(
            or_(Job.municipality_id == municipality_id, Job.municipality_id == None)  # noqa: E711
        )  # noqa: E711
    found = dict(db.execute(query).all())
    return {state: int(found.get(state, 0)) for state in ("queued", "running", "done", "failed")}


def listing(
    db: Session, municipality_id: int, state: str | None = None, limit: int = 100
) -> list[Job]:
    """Jobs of the municipality and of the installation (periodic ones), newest first."""
    query = select(Job).where(
        or_(Job.municipality_id == municipality_id, Job.municipality_id == None)  # noqa: E711
    )
    if state:
        query = query.where(Job.state == state)
    return list(db.exec(query.order_by(Job.id.desc()).limit(limit)))


class JobNotRetryable(LookupError):
    pass


def retry(db: Session, job_id: int, municipality_id: int | None = None) -> Job:
    """An administrator sends a failed job round again (with a fresh set of attempts)."""
    job = db.get(Job, job_id)
    if job is None or (
        municipality_id is not None and job.municipality_id not in (None, municipality_id)
    ):
        raise JobNotRetryable(job_id)
    if job.state != "failed":
        raise JobNotRetryable(job_id)
    now = utcnow()
    job.state = "queued"
    job.max_attempts = job.attempts + registry.spec(job.kind).max_attempts
    job.run_at = now
    job.pushed_at = now
    job.finished_at = None
    db.add(job)
    db.flush()
    engine = _engine_of(db)
    after_commit(db, lambda: _dispatch(engine, [job_id]))
    return job


def purge_finished(db: Session, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete done jobs older than ``older_than`` (failed ones stay until retried)."""
    cutoff = (now or utcnow()) - older_than
    result = db.execute(Job.__table__.delete().where(Job.state == "done", Job.finished_at < cutoff))
    return result.rowcount or 0


def age_of_oldest_queued(db: Session, now: datetime | None = None) -> float:
    first = db.execute(
        select(func.min(Job.run_at)).where(Job.state == "queued", Job.run_at <= (now or utcnow()))
    ).scalar_one_or_none()
    return (aware(now or utcnow()) - aware(first)).total_seconds() if first else 0.0
