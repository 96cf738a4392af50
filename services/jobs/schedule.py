"""Periodic jobs, once per installation: every worker's minute tick offers each due job with
a key per time slot ("periodic:drafts.purge:2026-12-02T14"); the job table's unique key lets
the first offer through and ignores the others, however many workers tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from services.db import unit_of_work
from services.jobs import service
from services.timeutil import BERLIN, utcnow


@dataclass(frozen=True)
class Periodic:
    kind: str
    every: str  # "minute", "hour", "day"
    at_hour: int = 0  # for "day": not before this local hour


PERIODIC = (
    Periodic("mail.deliver_due", "minute"),  # retries of mails whose delivery failed
    Periodic("cases.purge_drafts", "hour"),
    Periodic("cases.remind", "hour"),
    Periodic("retention.run", "day", at_hour=2),
    Periodic("jobs.cleanup", "day", at_hour=3),
)


def slot(p: Periodic, now: datetime) -> str | None:
    """The time slot ``now`` (local time) falls in, or None if the job is not due yet today."""
    local = now.astimezone(BERLIN)
    if p.every == "minute":
        return local.strftime("%Y-%m-%dT%H:%M")
    if p.every == "hour":
        return local.strftime("%Y-%m-%dT%H")
    if local.hour < p.at_hour:
        return None
    return local.strftime("%Y-%m-%d")


def enqueue_due(engine: Engine, now: datetime | None = None) -> list[int]:
    """Offer every periodic job of the current slot; returns the ids this call queued."""
    now = now or utcnow()
    queued = []
    with unit_of_work(engine) as db:
        for p in PERIODIC:
            s = slot(p, now)
            if s is None:
                continue
            job_id = service.enqueue(db, p.kind, key=f"periodic:{p.kind}:{s}")
            if job_id is not None:
                queued.append(job_id)
    return queued
