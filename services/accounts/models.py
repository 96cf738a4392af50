"""Staff accounts with roles per municipality."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_users"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    username: str = Field(max_length=60, unique=True, index=True)
    display_name: str = Field(max_length=120)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=60)
    password_hash: str = Field(max_length=200)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    # A staff session is valid only while it carries this number (stored at login); raising
    # it ends every session of the account at once (services.accounts.service.end_sessions).
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)


class LoginThrottle(SQLModel, table=True):
    """Failed logins counted per user name and client address, and per client address alone
    (``username`` empty), whether the name exists or not; see
    ``services.accounts.service.authenticate``. A row has done its work once ``window_ends``
    has passed (which also covers a lock)."""

    __tablename__ = "login_throttles"

    username: str = Field(primary_key=True, max_length=254)
    address: str = Field(primary_key=True, max_length=64)
    failures: int = Field(default=0)
    window_ends: datetime = Field(sa_type=TZ(), index=True)
    locked_until: datetime | None = Field(default=None, sa_type=TZ())
