"""Database engine, sessions and the SQLite write lock.

SQLite runs in WAL mode with a busy timeout; additionally every write transaction in this
process takes one lock, so concurrent submits queue instead of failing with
"database is locked". PostgreSQL is selected by ``AMTSWEG_DATABASE_URL``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from services.config import ROOT

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

# A plain Lock (not RLock): FastAPI may enter and exit a dependency in different threads.
_write_lock = threading.Lock()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if is_sqlite(url) and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def acquire_write_lock(engine: Engine) -> bool:
    """Take the process-wide SQLite write lock; returns whether it must be released."""
    if engine.dialect.name == "sqlite":
        _write_lock.acquire()
        return True
    return False


def release_write_lock(held: bool) -> None:
    if held:
        _write_lock.release()


@contextmanager
def unit_of_work(engine: Engine, lock: bool = True) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. ``lock`` takes the SQLite
    write lock for the whole unit (a plain Lock, so enter and exit may run in different
    threads, as FastAPI does with dependencies)."""
    held = acquire_write_lock(engine) if lock else False
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
