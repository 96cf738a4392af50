"""Procedure versions in the database: what administrators edit, publish and retire."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy import Text as SAText
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class ProcedureVersion(SQLModel, table=True):
    """One version of a procedure for one municipality: draft → published → retired.
    A published version is never changed again; editing means a new draft from it."""

    __tablename__ = "procedure_versions"
    __table_args__ = (UniqueConstraint("municipality_id", "procedure_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    procedure_id: str = Field(max_length=60)
    version: int
    status: str = Field(default="draft", max_length=20)  # draft, published, retired
    form_yaml: str = Field(sa_type=SAText)
    workflow_yaml: str = Field(sa_type=SAText)
    # {kind: {"template": file name, "version": n, "source": text or null (the file)}}
    notices: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    based_on: int | None = None  # the version this draft was made from
    note: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=120)
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    published_by: str = Field(default="", max_length=120)
    published_at: datetime | None = Field(default=None, sa_type=TZ())
