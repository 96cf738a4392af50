"""The job table: the durable record of every job (what, for whom, state, attempts, errors).

A row is written in the same transaction as the change that causes it, so a job exists
exactly when its cause was committed. The queue transport (huey) only carries row ids.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow

STATES = ("queued", "running", "done", "failed")


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_at", "state", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)  # registered job name, e.g. "cases.receipt"
    # Idempotency key: a second enqueue with the same key is ignored ("receipt:case:17",
    # "periodic:drafts.purge:2026-12-02T14").
    key: str = Field(max_length=200, unique=True)
    args: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    municipality_id: int | None = Field(default=None, foreign_key="municipalities.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    state: str = Field(default="queued", max_length=20)  # queued, running, done, failed
    attempts: int = Field(default=0)  # attempts started so far
    max_attempts: int = Field(default=8)
    run_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)  # not before
    pushed_at: datetime | None = Field(default=None, sa_type=TZ())  # handed to the transport
    lease_until: datetime | None = Field(default=None, sa_type=TZ())  # while running
    worker: str = Field(default="", max_length=120)  # host:pid of the last runner
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    started_at: datetime | None = Field(default=None, sa_type=TZ())
    finished_at: datetime | None = Field(default=None, sa_type=TZ())
