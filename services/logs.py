"""Logging: one handler on the root logger, readable text or JSON lines, and the id of the
request being served on every record written while serving it.

``configure_logging(settings)`` is called by ``amtsweg serve`` and by ``create_app`` outside
tests (uvicorn's worker processes import the app afresh). JSON lines carry ``time``,
``level``, ``logger``, ``message``, ``request_id`` and, for the access log
(``amtsweg.access``, one line per request, written by ``RequestContextMiddleware``),
``method``, ``path``, ``route``, ``status`` and ``duration_ms``."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from services.config import Settings

request_id_var: ContextVar[str | None] = ContextVar("amtsweg_request_id", default=None)

# Fields of a log record that are passed on as JSON when a call sets them with ``extra=``.
EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")

OWN_LOGGERS = ("amtsweg", "uvicorn")

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID if it is a short plain token (a proxy's id), else a new one.
    Anything else (long, spaces, control characters, quotes) is never echoed or logged."""
    if header and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(rid)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.rid = getattr(record, "request_id", None) or "-"
        return super().format(record)


def make_handler(as_json: bool, stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install (or replace) Amtsweg's handler on the root logger. Other handlers (pytest's,
    a debugger's) are left alone; calling it again does not duplicate lines."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "amtsweg", False)]:
        root.removeHandler(old)
    handler = make_handler(settings.logs_as_json, stream)
    handler.amtsweg = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # AMTSWEG_LOG_LEVEL is for our loggers and uvicorn's; libraries (WeasyPrint reports every
    # layout step at INFO) only speak up from WARNING.
    level = logging.getLevelName(settings.log_level.upper())
    root.setLevel(max(level, logging.WARNING))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    # uvicorn's records go through this handler too; its access log is replaced by ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    return handler
