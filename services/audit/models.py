"""Append-only, hash-chained audit events per case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    seq: int  # 1, 2, 3 ... per case
    at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    actor_kind: str = Field(max_length=20)  # citizen, staff, system
    actor_id: int | None = None
    actor_name: str = Field(max_length=120)
    action: str = Field(max_length=60)  # transition name, "filed", "viewed", "document"
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str | None = Field(default=None, max_length=40)
    comment: str = Field(default="", max_length=4000)
    public: bool = False  # shown on the citizen's status page
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AdminEvent(SQLModel, table=True):
    """One administrative change (municipality settings, rate tables, staff accounts, retention
    runs), append-only and hash-chained per municipality like the case history."""

    __tablename__ = "admin_events"
    __table_args__ = (UniqueConstraint("municipality_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    seq: int  # 1, 2, 3 ... per municipality
    at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    actor_id: int | None = None
    actor_name: str = Field(max_length=120)
    action: str = Field(max_length=60)  # municipality_updated, rate_table_saved, user_created ...
    target: str = Field(max_length=120)  # "municipality", "rate_table:2027", "user:petra"
    before: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
