"""Files citizens upload as evidence, stored in the database with their case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class Upload(SQLModel, table=True):
    """One uploaded file in a slot (a form field of type ``file``). It belongs to a draft
    while the citizen fills in the form and to the case once filed (or to a reply)."""

    __tablename__ = "uploads"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    draft_id: int | None = Field(default=None, foreign_key="drafts.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    slot: str = Field(max_length=60)  # field id, e.g. "dangerous_permit_file"
    filename: str = Field(max_length=200)  # sanitised original name, for display only
    media_type: str = Field(max_length=100)  # sniffed from the content
    size: int
    sha256: str = Field(max_length=64)
    scan_status: str = Field(max_length=20)  # "clean" (scanned) or "not_scanned"
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
