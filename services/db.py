"""Database engine, sessions and the SQLite write lock.

SQLite runs in WAL mode with a busy timeout; additionally every write transaction in this
process takes one lock, so concurrent submits queue instead of failing with
"database is locked". PostgreSQL is selected by ``AMTSWEG_DATABASE_URL``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from annotated_types import Interval
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from services.config import ROOT

log = logging.getLogger("amtsweg.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

# The range of PostgreSQL's ``integer``, the type of every id and number column (SQLite's are
# wider). A number outside it names no row and must never reach a query: PostgreSQL refuses
# it beyond 2**31, SQLite beyond 2**63, both as a server error.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
DbInt = Annotated[int, Interval(ge=INT_MIN, le=INT_MAX)]
"""An integer path or query parameter that is looked up in the database (an id, a version
number): beyond the column's range it is refused like any malformed parameter."""


def parse_int(text: str) -> int | None:
    """``text`` (ASCII digits, blanks around allowed) as a non-negative integer a column holds,
    else None. Not ``str.isdigit()``: "²" and "٣" pass it, but ``int()`` refuses the first and
    the second is no number a person typed here."""
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) > INT_MAX:
        return None
    return int(text)


# A plain Lock (not RLock): FastAPI may enter and exit a dependency in different threads.
_write_lock = threading.Lock()


def insert_for(db: Session):
    """The dialect's ``insert`` (with ``on_conflict_do_*``, upserts) for ``db``'s database."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if is_sqlite(url) and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


# Connections beyond one per request in flight: procedure-version lookups that open their own
# short session inside a request, and the background threads (mail, housekeeping, jobs).
POOL_OVERFLOW = 8


def make_engine(url: str, pool_size: int = 16, pool_timeout: float = 5.0) -> Engine:
    """An engine whose pool holds ``pool_size`` connections (the web app passes
    AMTSWEG_THREADS: one per request in flight) plus a few spare; a request that still finds
    none free fails after ``pool_timeout`` seconds with sqlalchemy's TimeoutError, which the
    app answers with 503 instead of waiting on."""
    pool = {"pool_size": pool_size, "max_overflow": POOL_OVERFLOW, "pool_timeout": pool_timeout}
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        in_memory = url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if in_memory else pool),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def acquire_write_lock(engine: Engine) -> bool:
    """Take the process-wide SQLite write lock; returns whether it must be released."""
    if engine.dialect.name == "sqlite":
        _write_lock.acquire()
        return True
    return False


def release_write_lock(held: bool) -> None:
    if held:
        _write_lock.release()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction has committed and the unit of
    work has released its lock (e.g. hand a queued job to the workers). Dropped on rollback."""
    session.info.setdefault(_PENDING, []).append(callback)


_PENDING, _READY = "amtsweg_after_commit_pending", "amtsweg_after_commit_ready"


@event.listens_for(Session, "after_commit")
def _commit_done(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outer transaction, not a savepoint
        session.info.pop(_PENDING, None)


def run_after_commit(session: Session) -> None:
    """Run the callbacks of committed transactions (never raises: the work is committed, and
    what a callback would have done is recovered by the job sweeper)."""
    for callback in session.info.pop(_READY, []):
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.exception("after-commit callback failed; the job sweeper will recover")


@contextmanager
def unit_of_work(engine: Engine, lock: bool = True) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. ``lock`` takes the SQLite
    write lock for the whole unit (a plain Lock, so enter and exit may run in different
    threads, as FastAPI does with dependencies). After-commit callbacks run at the end,
    outside the lock."""
    held = acquire_write_lock(engine) if lock else False
    session = None
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        release_write_lock(held)
        if session is not None:
            run_after_commit(session)


def migrate(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations to the database at ``url``."""
    from alembic import command
    from alembic.config import Config

    _ensure_sqlite_dir(url)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)
