"""Running the yearly notices across processes.

The coordinator (the ``amtsweg notices annual`` command, or the benchmark) plans the run in
one short transaction, then hands batches of dog ids to a ``ProcessPoolExecutor`` (spawn
context: a clean interpreter per worker, no inherited engine or locks). Each worker creates
its own engine, warms WeasyPrint's shared ``FontConfiguration`` once and calls
``service.issue_one`` per dog: render outside any transaction, then one short write
transaction. Workers ignore Ctrl+C; the coordinator sets a stop event instead, so a worker
finishes the notice it is rendering and stops before the next one. Nothing is half-issued,
and starting the run again continues it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.annual import service
from services.annual.models import NoticeRun
from services.db import make_engine, unit_of_work
from services.errors import ConfigurationMissing
from services.municipalities.models import Municipality
from services.procedures import registry
from services.timeutil import today_local

# --------------------------------------------------------------------------- worker process

_engine: Engine | None = None
_stop = None
_ticks = None


def _init_worker(database_url: str, stop_event, ticks) -> None:
    global _engine, _stop, _ticks
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when to stop
    from services.documents.render import warm_up

    _engine = make_engine(database_url)
    registry.bind(_engine)  # cases may pin procedure versions from this database
    _stop, _ticks = stop_event, ticks
    warm_up()  # fonts and hyphenation once per process, with the shared FontConfiguration


def _issue_batch(
    run_id: int, dog_ids: list[int], notice_date: date
) -> tuple[list[service.Result], int]:
    """Issue a batch in this worker; returns the results and the worker's RSS after it."""
    results = []
    for dog_id in dog_ids:
        if _stop.is_set():
            break
        results.append(service.issue_one(_engine, run_id, dog_id, notice_date))
        _ticks.put(1)
    return results, worker_rss()


def _ready() -> int:
    time.sleep(0.3)  # long enough that every worker takes one of these
    return os.getpid()


def worker_rss() -> int:
    """Resident set size of the calling worker in bytes (Linux; the benchmark asks)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- coordinator


@dataclass
class RunSummary:
    municipality: str
    year: int
    run_id: int
    planned: int = 0
    issued: int = 0  # in this attempt
    skipped: int = 0  # already issued before (or by a racing process)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (dog id, reason)
    max_worker_rss: int = 0  # bytes, the largest RSS a worker reported after a batch
    status: str = "running"  # finished, interrupted or failed
    error: str = ""  # why the attempt failed as a whole
    seconds: float = 0.0
    resumed: bool = False

    @property
    def per_second(self) -> float:
        return self.issued / self.seconds if self.seconds else 0.0


# WeasyPrint keeps a few kilobytes per render even with the shared FontConfiguration (about
# 0.3 MB per 100 notices, also with bare HTML.write_pdf), so the workers are replaced after
# about this many notices each; new ones warm up again (about 1 s). The pool is replaced as a
# whole between batches: ProcessPoolExecutor's own max_tasks_per_child can hang on Python
# 3.11 when workers exit while every task is already queued.
RECYCLE_AFTER = 1000


class Pool:
    """A spawn-context process pool of ``workers`` warmed-up notice workers, replaced by a
    fresh one after ``recycle_after`` notices per worker (see ``RECYCLE_AFTER``)."""

    def __init__(
        self, database_url: str, workers: int, batch: int = 50, recycle_after: int = RECYCLE_AFTER
    ) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.database_url = database_url
        self.stop = self.ctx.Event()
        self.ticks = self.ctx.Queue()
        self.workers = workers
        self.batch = batch
        self.recycle_after = max(1, recycle_after)
        self.recycled = 0  # how often the workers were replaced
        self.handed_out = 0  # notices given to the current workers
        self.executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self.ctx,
            initializer=_init_worker,
            initargs=(self.database_url, self.stop, self.ticks),
        )

    @property
    def generation_size(self) -> int:
        """Notices the current workers issue before they are replaced."""
        return self.workers * self.recycle_after

    def recycle(self) -> None:
        """Replace every worker by a fresh, warmed-up one (no batch may be outstanding)."""
        self.executor.shutdown(wait=True)
        self.executor = self._new_executor()
        self.recycled += 1
        self.handed_out = 0

    def warm(self) -> None:
        """Start every worker (spawn, imports, warm-up) before the clock starts."""
        futures = [self.executor.submit(_ready) for _ in range(self.workers)]
        for f in futures:
            f.result()

    def close(self, cancel: bool = False) -> None:
        self.executor.shutdown(wait=True, cancel_futures=cancel)


@contextmanager
def pool(
    database_url: str, workers: int, batch: int = 50, recycle_after: int = RECYCLE_AFTER
) -> Iterator[Pool]:
    p = Pool(database_url, workers, batch, recycle_after)
    try:
        yield p
    finally:
        p.close(cancel=True)


def municipalities(engine: Engine, slug: str | None) -> list[Municipality]:
    with unit_of_work(engine, lock=False) as db:
        query = select(Municipality).order_by(Municipality.name)
        if slug:
            query = query.where(Municipality.slug == slug)
        return list(db.exec(query))


def check_all(engine: Engine, ms: Sequence[Municipality], year: int) -> list[ConfigurationMissing]:
    """Every refusal for these municipalities, before anything is issued."""
    refusals = []
    with unit_of_work(engine, lock=False) as db:
        for m in ms:
            try:
                service.check_configuration(db, m, year)
            except ConfigurationMissing as exc:
                refusals.append(exc)
    return refusals


def _plan(engine: Engine, m: Municipality, year: int, started_by: str) -> service.Plan:
    try:
        with unit_of_work(engine) as db:
            return service.plan(db, m, year, started_by)
    except IntegrityError:  # the run was started by another process a moment ago
        with unit_of_work(engine) as db:
            return service.plan(db, m, year, started_by)


def batches(ids: Sequence[int], batch: int, workers: int) -> list[list[int]]:
    """Batches of at most ``batch`` ids, small enough that every worker gets work."""
    size = max(1, min(batch, math.ceil(len(ids) / max(workers, 1))))
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def run_year(
    engine: Engine,
    workers_pool: Pool,
    m: Municipality,
    year: int,
    *,
    started_by: str = "",
    on_start: Callable[[RunSummary, int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    notice_date: date | None = None,
) -> RunSummary:
    """Plan (or continue) the run of ``m`` for ``year`` and issue its pending notices.
    Raises ``ConfigurationMissing`` before issuing anything. Ctrl+C (``KeyboardInterrupt``)
    stops the workers after their current notice; the summary then says ``interrupted``."""
    notice_date = notice_date or today_local()
    p = _plan(engine, m, year, started_by)
    summary = RunSummary(
        municipality=m.name,
        year=year,
        run_id=p.run.id,
        planned=p.run.planned,
        skipped=p.already_issued,
        resumed=p.resumed,
    )
    if on_start:
        on_start(summary, len(p.pending))
    started = time.perf_counter()
    chunks = deque(batches(p.pending, workers_pool.batch, workers_pool.workers))
    futures: set[Future] = set()
    last_count = time.monotonic()

    def dispatch() -> None:
        """Keep two batches per worker queued, within the current workers' share."""
        while (
            chunks
            and len(futures) < 2 * workers_pool.workers
            and workers_pool.handed_out < workers_pool.generation_size
        ):
            chunk = chunks.popleft()
            futures.add(workers_pool.executor.submit(_issue_batch, p.run.id, chunk, notice_date))
            workers_pool.handed_out += len(chunk)

    def collect(done: set[Future]) -> None:
        for f in done:
            results, rss = f.result()
            summary.max_worker_rss = max(summary.max_worker_rss, rss)
            for r in results:
                if r.outcome == "issued":
                    summary.issued += 1
                elif r.outcome == "skipped":
                    summary.skipped += 1
                else:
                    summary.failed.append((r.dog_id, r.error))

    def drain_ticks(report: bool = True) -> None:
        while True:
            try:
                n = workers_pool.ticks.get_nowait()
            except queue.Empty:
                return
            if on_progress and report:
                on_progress(n)

    status, error = "finished", ""
    try:
        dispatch()
        while futures:
            done, pending = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
            futures.clear()
            futures.update(pending)
            collect(done)
            drain_ticks()
            if not futures and chunks:  # the current workers had their share: replace them
                workers_pool.recycle()
            dispatch()
            if done and time.monotonic() - last_count > 2:  # the office sees the progress
                with unit_of_work(engine) as db:
                    service.refresh_counts(db, db.get(NoticeRun, p.run.id))
                last_count = time.monotonic()
    except KeyboardInterrupt:
        status = "interrupted"
        workers_pool.stop.set()
        for f in futures:
            f.cancel()
        done, _ = wait(futures)  # running batches stop after their current notice
        collect({f for f in done if not f.cancelled()})
        drain_ticks(report=False)
        workers_pool.stop.clear()
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        for f in futures:
            f.cancel()
    finally:
        summary.seconds = time.perf_counter() - started
        summary.status, summary.error = status, error
        with unit_of_work(engine) as db:
            run: NoticeRun = service.finish(
                db, p.run.id, status, skipped=summary.skipped, error=error
            )
            summary.planned = run.planned
    return summary
