"""Yearly notice runs and their items (one per registered dog)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow

RUN_STATUSES = ("running", "interrupted", "finished", "failed")
ITEM_STATUSES = ("issued", "failed")


class NoticeRun(SQLModel, table=True):
    """The annual notices of one municipality for one tax year.

    There is one run per municipality and year (unique): starting the run again continues
    it (after an interruption, or to retry failed items and pick up newly registered dogs),
    so no dog can receive two annual notices for the same year."""

    __tablename__ = "notice_runs"
    __table_args__ = (UniqueConstraint("municipality_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    year: int
    status: str = Field(default="running", max_length=20)  # RUN_STATUSES
    started_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    finished_at: datetime | None = Field(default=None, sa_type=TZ())
    started_by: str = Field(default="", max_length=120)
    attempts: int = Field(default=1)  # how often the run was started (resumed)
    planned: int = Field(default=0)  # registered dogs liable in the year
    issued: int = Field(default=0)  # items issued (all attempts)
    skipped: int = Field(default=0)  # already issued when the last attempt reached them
    failed: int = Field(default=0)  # items failed and not (yet) issued
    error: str = Field(default="", max_length=2000)  # why the run failed as a whole


class NoticeRunItem(SQLModel, table=True):
    """One dog of a run: issued (with its document) or failed (with the reason).

    Unique per run and dog: two processes racing for the same dog cannot both issue."""

    __tablename__ = "notice_run_items"
    __table_args__ = (
        UniqueConstraint("run_id", "registered_dog_id"),
        Index("ix_notice_run_items_run_status", "run_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="notice_runs.id")
    municipality_id: int = Field(foreign_key="municipalities.id")
    registered_dog_id: int = Field(foreign_key="registered_dogs.id")
    status: str = Field(max_length=20)  # ITEM_STATUSES
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    error: str = Field(default="", max_length=2000)
    processed_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
