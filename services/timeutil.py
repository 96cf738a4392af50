"""Time helpers: timezone-aware UTC for storage, Europe/Berlin for people."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime

BERLIN = ZoneInfo("Europe/Berlin")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """Normalise to aware UTC (SQLite returns naive datetimes, which are stored as UTC)."""
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def local(dt: datetime) -> datetime:
    return aware(dt).astimezone(BERLIN)


def today_local() -> date:
    return utcnow().astimezone(BERLIN).date()


def TZ() -> DateTime:  # noqa: N802 - reads like a type in model declarations
    """Column type for timestamps: timezone-aware on PostgreSQL, UTC text on SQLite."""
    return DateTime(timezone=True)
