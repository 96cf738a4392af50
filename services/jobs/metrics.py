"""Prometheus figures of the job queue, read from the job table at scrape time:
``amtsweg_jobs{state}`` (queued, running, done, failed) and the age of the oldest due job."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from services.db import unit_of_work
from services.jobs import service


class JobsCollector:
    def __init__(self) -> None:
        self.engine: Engine | None = None

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("amtsweg_jobs", "Jobs in the job table by state", labels=["state"]),
            GaugeMetricFamily(
                "amtsweg_jobs_oldest_due_seconds",
                "Seconds the oldest due queued job has been waiting",
            ),
        )

    def describe(self):
        return list(self._families())

    def collect(self):
        by_state, oldest = self._families()
        if self.engine is not None:
            with unit_of_work(self.engine, lock=False) as db:
                counts = service.counts(db)
                age = service.age_of_oldest_queued(db)
            for state, count in counts.items():
                by_state.add_metric([state], count)
            oldest.add_metric([], age)
        yield by_state
        yield oldest


COLLECTOR = JobsCollector()
