"""Outgoing e-mail: written to the outbox in the same transaction as the change it reports,
delivered afterwards by a worker, so a mail failure never loses the case or the message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text as SAText
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_messages"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str = Field(max_length=40)  # filed, resume_link, information_request, ...
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=SAText)
    status: str = Field(default="pending", max_length=20, index=True)  # pending, sent, failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=TZ(), default_factory=utcnow, index=True)
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, sa_type=TZ())
