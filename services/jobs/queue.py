"""The transport between the job table and the workers: huey (ADR 0008).

* Embedded default (SQLite): a huey ``SqliteHuey`` queue file next to the database
  (``var/queue.db``); ``amtsweg serve`` starts one ``amtsweg worker`` process beside itself.
* PostgreSQL: huey's ``PostgresHuey`` in the same database (tables ``huey_*``, LISTEN/NOTIFY
  wake-ups, ``FOR UPDATE SKIP LOCKED``): any number of ``amtsweg worker`` processes on any
  number of machines, no extra server.

The transport carries only job ids. The job table is the record: a job is written in the
transaction of its cause, handed over after commit, claimed by one conditional UPDATE, and a
sweeper (every minute in every worker) re-hands jobs whose hand-over or worker was lost.
Periodic jobs are enqueued by every worker's scheduler with a key per time slot, so the
database's unique key lets exactly one of them through: once per installation.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Any

from huey import PostgresHuey, SqliteHuey, crontab
from huey.api import Huey
from sqlalchemy.engine import Engine, make_url

from services.db import is_sqlite
from services.jobs import service

log = logging.getLogger("amtsweg.jobs")

QUEUE_NAME = "amtsweg"


def queue_location(database_url: str) -> str:
    """Where the transport lives: the queue file beside the SQLite database, or the
    PostgreSQL database itself (as a libpq connection string)."""
    if is_sqlite(database_url):
        db_path = Path(database_url.split("///", 1)[-1])
        return str(db_path.with_name(db_path.stem + "-queue.db"))
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def make_huey(database_url: str) -> Huey:
    where = queue_location(database_url)
    if is_sqlite(database_url):
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=where, results=False, utc=True, timeout=30)
    return PostgresHuey(QUEUE_NAME, dsn=where, results=False, utc=True, read_timeout=5)


class Transport:
    """One huey instance with Amtsweg's two tasks: run a job by id, and the minute tick
    (sweep, then enqueue the periodic jobs that are due)."""

    def __init__(self, engine: Engine, settings: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.huey = make_huey(str(engine.url.render_as_string(hide_password=False)))

        @self.huey.task(name="amtsweg.run_job")
        def run_job(job_id: int) -> None:
            service.execute(self.engine, self.settings, job_id)

        @self.huey.periodic_task(crontab(minute="*"), name="amtsweg.tick")
        def tick() -> None:
            self.tick()

        self.run_job = run_job

    def push(self, ids: list[int]) -> None:
        for job_id in ids:
            self.run_job(job_id)

    def tick(self) -> None:
        from services.jobs.schedule import enqueue_due

        enqueue_due(self.engine)
        self.push(service.sweep(self.engine))

    def check(self) -> None:
        """Readiness: the transport answers (raises otherwise)."""
        self.huey.storage.queue_size()

    def pending(self) -> int:
        return self.huey.storage.queue_size()


_transports: weakref.WeakKeyDictionary[Engine, Transport] = weakref.WeakKeyDictionary()


def configure(engine: Engine, settings: Any) -> Transport | None:
    """Bind how committed jobs of this database are started, by ``AMTSWEG_JOBS``:
    ``worker`` (hand to the workers), ``immediate`` (run in this process right after the
    commit: tests and one-off commands), ``manual`` (stay queued until someone runs them)."""
    mode = getattr(settings, "jobs", "worker")
    if mode == "immediate":
        service.set_dispatcher(
            engine, lambda ids: [service.execute(engine, settings, i) for i in ids]
        )
        return None
    if mode == "manual":
        service.set_dispatcher(engine, None)
        return None
    transport = _transports.get(engine)
    if transport is None:
        transport = Transport(engine, settings)
    register(engine, transport)
    return transport


def register(engine: Engine, transport: Transport) -> None:
    """Jobs committed through ``engine`` are pushed to ``transport``."""
    _transports[engine] = transport
    service.set_dispatcher(engine, transport.push)
