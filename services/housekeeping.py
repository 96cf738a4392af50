"""Periodic housekeeping in the web process: delete expired citizen drafts (and their
uploads) and remind citizens of overdue replies. From cron: ``amtsweg drafts purge`` and
``amtsweg cases remind``."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from services.cases.service import purge_expired_drafts
from services.db import unit_of_work
from services.review.service import Links, send_reply_reminders

log = logging.getLogger("amtsweg.housekeeping")


def purge_once(engine: Engine) -> int:
    with unit_of_work(engine) as db:
        count = purge_expired_drafts(db)
    if count:
        log.info("deleted %d expired draft(s)", count)
    return count


def remind_once(engine: Engine, links: Links) -> int:
    with unit_of_work(engine) as db:
        count = send_reply_reminders(db, links)
    if count:
        log.info("sent %d reply reminder(s)", count)
    return count


class Housekeeper:
    """Hourly: delete expired drafts, remind citizens whose reply deadline has passed."""

    def __init__(self, engine: Engine, links: Links, interval_seconds: float = 3600.0) -> None:
        self.engine = engine
        self.links = links
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="amtsweg-housekeeping", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                purge_once(self.engine)
                remind_once(self.engine, self.links)
            except Exception:  # noqa: BLE001 - keep going; the next round retries
                log.exception("housekeeping round failed")
            self._stop.wait(self.interval_seconds)
