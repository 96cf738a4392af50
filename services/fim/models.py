"""One FIM import: the uploaded files, the job's progress and its result (the draft form
definition and report). Kept a few days for the administrator to come back to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow

STATES = ("queued", "running", "done", "failed")


class FimImport(SQLModel, table=True):
    __tablename__ = "fim_imports"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    staff_id: int = Field(foreign_key="staff_users.id")
    filenames: str = Field(max_length=1000)  # as uploaded, for the page
    # The uploaded files, packed by the service into one zip archive (read by the job).
    files: bytes = Field(sa_column=Column(LargeBinary, nullable=False), exclude=True)
    state: str = Field(default="queued", max_length=20)  # queued, running, done, failed
    stage: int = Field(default=0)  # index into forms.fim_bundle.STAGES
    result: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=TZ())
