"""Prometheus metrics, served at ``GET /metrics``.

- ``amtsweg_http_request_duration_seconds`` (histogram): by ``method``, ``route`` (the
  matched route's template such as ``/{mun}/{proc_slug}/steps/{step_id}``, never the raw
  path; ``unmatched`` for 404s) and ``status`` class (``2xx`` …).
- ``amtsweg_http_requests_in_progress`` (gauge): requests being served or waiting for a slot.
- ``amtsweg_http_requests_queued`` (gauge): requests waiting for a slot.
- ``amtsweg_http_requests_rejected_total`` (counter): 503 answers, by ``reason``
  (``queue_timeout``: no slot in time; ``db_pool_timeout``: no database connection).
- ``amtsweg_filings_total`` (counter): cases filed (the first submit only), by ``procedure``.

Several uvicorn worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
writable by the workers (``amtsweg serve`` empties it at start); every process then writes
its values there and whichever process answers ``/metrics`` reports the sum of all.

Other features add their own figures with ``register_collector(collector)`` (an object
with ``collect()`` yielding metric families, evaluated at scrape time, e.g. job-queue
gauges read from the database), or define counters/histograms on ``REGISTRY``."""

from __future__ import annotations

import atexit
import hmac
import os
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import Collector

from services.web.threads import side_thread

__all__ = ["REGISTRY", "register_collector", "router", "unregister_collector"]

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

REQUEST_DURATION = Histogram(
    "amtsweg_http_request_duration_seconds",
    "Time from receiving a request to the end of its answer.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
IN_PROGRESS = Gauge(
    "amtsweg_http_requests_in_progress",
    "Requests being served or waiting for a slot.",
    multiprocess_mode="livesum",
)
QUEUED = Gauge(
    "amtsweg_http_requests_queued",
    "Requests waiting for a free slot (AMTSWEG_THREADS per process).",
    multiprocess_mode="livesum",
)
REJECTED = Counter(
    "amtsweg_http_requests_rejected_total",
    "Requests answered 503: the process was saturated or the database unavailable.",
    ("reason",),
)
FILINGS = Counter(
    "amtsweg_filings_total",
    "Cases filed by citizens (a repeated submit of the same draft is not counted).",
    ("procedure",),
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_collectors: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Add figures computed at scrape time (e.g. queued/running/failed jobs). Registering
    the same collector again does nothing."""
    if any(c is collector for c in _collectors):
        return
    _collectors.append(collector)
    if MULTIPROCESS_DIR is None:
        REGISTRY.register(collector)


def unregister_collector(collector: Collector) -> None:
    if any(c is collector for c in _collectors):
        _collectors[:] = [c for c in _collectors if c is not collector]
        if MULTIPROCESS_DIR is None:
            REGISTRY.unregister(collector)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(
        method if method in METHODS else "other", route, f"{status // 100}xx"
    ).observe(seconds)


def count_filing(procedure: str) -> None:
    FILINGS.labels(procedure).inc()


def _registry() -> CollectorRegistry:
    if MULTIPROCESS_DIR is None:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    for collector in _collectors:
        registry.register(collector)
    return registry


def exposition() -> bytes:
    return generate_latest(_registry())


if MULTIPROCESS_DIR is not None:

    @atexit.register
    def _process_gone() -> None:  # pragma: no cover - runs at interpreter exit
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIR)


def clear_multiprocess_dir(path: str | None = MULTIPROCESS_DIR) -> Iterable[str]:
    """Remove the value files of earlier runs (``amtsweg serve`` calls it before starting
    the workers); returns the names removed."""
    if not path or not os.path.isdir(path):
        return []
    removed = []
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
            removed.append(name)
    return removed


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format. Never expose it publicly: the reverse proxy must not forward
    /metrics, or set AMTSWEG_METRICS_TOKEN (then a bearer token is required)."""
    token = request.app.state.settings.metrics_token.get_secret_value()
    if token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return Response(
                "metrics need a bearer token\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body = await side_thread(exposition)  # collectors may read files or the database
    return Response(body, media_type=CONTENT_TYPE_LATEST)
