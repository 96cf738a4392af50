"""Saturation: one setting sizes the thread pool, the requests let in and the database pool;
a request that finds no free slot (or no free database connection) is answered 503 with
Retry-After within moments, while probes and static files are never held back."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from services import db as db_module
from services.db import make_engine
from services.web.i18n import COOKIE as LANG_COOKIE
from services.web.threads import SPARE_THREADS
from tests.conftest import URL


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def app_with_slow_route(make_app, **overrides):
    """An app whose ``GET /_slow`` holds its slot (and thread) until ``release`` is set."""
    app = make_app(**{"threads": 1, "queue_timeout_seconds": 0.2, **overrides})
    entered, release = threading.Event(), threading.Event()

    @app.get("/_slow")
    def slow() -> dict:
        entered.set()
        assert release.wait(10)
        return {"done": True}

    return app, entered, release


def test_a_request_without_a_free_slot_gets_503_with_retry_after_at_once(make_app, municipality):
    app, entered, release = app_with_slow_route(make_app)
    rejected = sample("amtsweg_http_requests_rejected_total", reason="queue_timeout")
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        held = pool.submit(client.get, "/_slow")
        assert entered.wait(5)
        try:
            started = time.perf_counter()
            r = client.get(URL)
            waited = time.perf_counter() - started
            assert r.status_code == 503
            assert r.headers["Retry-After"] == "5"
            assert 0.15 < waited < 2  # waited for the queue timeout (0.2 s), not 30 s
            assert "Gerade stark ausgelastet" in r.text and "noch einmal" in r.text
            assert r.headers["X-Content-Type-Options"] == "nosniff"  # a page like any other
            client.cookies.set(LANG_COOKIE, "en")
            english = client.get(URL)
            client.cookies.delete(LANG_COOKIE)
            assert english.status_code == 503 and "Very busy right now" in english.text
            api = client.get("/api/v1/cases")
            assert api.status_code == 503 and api.headers["Retry-After"] == "5"
            assert "noch einmal" in api.json()["detail"]
            # Probes and static files do not wait for a slot.
            assert client.get("/livez").status_code == 200
            assert client.get("/readyz").json()["status"] == "ok"
            assert client.get("/api/v1/health").status_code == 200
            assert client.get("/static/amtsweg.css").status_code == 200
            assert client.get("/metrics").status_code == 200
        finally:
            release.set()
        assert held.result(10).json() == {"done": True}
        assert client.get(URL).status_code == 200  # the slot is free again
    assert sample("amtsweg_http_requests_rejected_total", reason="queue_timeout") == rejected + 3
    # The rejected request is counted under its route, not as "unmatched".
    assert (
        sample(
            "amtsweg_http_request_duration_seconds_count",
            method="GET",
            route="/{mun}/{proc_slug}",
            status="5xx",
        )
        >= 2
    )


def test_a_waiting_request_is_served_when_a_slot_frees_in_time(make_app, municipality):
    app, entered, release = app_with_slow_route(make_app, queue_timeout_seconds=10)
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        held = pool.submit(client.get, "/_slow")
        assert entered.wait(5)
        waiting = pool.submit(client.get, URL)
        deadline = time.monotonic() + 5
        while sample("amtsweg_http_requests_queued") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sample("amtsweg_http_requests_queued") == 1
        assert not waiting.done()
        release.set()
        assert waiting.result(10).status_code == 200
        assert held.result(10).status_code == 200
    assert sample("amtsweg_http_requests_queued") == 0


def test_no_free_database_connection_answers_503_instead_of_500(
    make_app, settings, municipality, monkeypatch
):
    app = make_app()
    monkeypatch.setattr(db_module, "POOL_OVERFLOW", 0)
    # Two connections: a request may use a second one briefly (procedure versions).
    app.state.engine = make_engine(settings.database_url, pool_size=2, pool_timeout=0.2)
    rejected = sample("amtsweg_http_requests_rejected_total", reason="db_pool_timeout")
    try:
        with TestClient(app) as client:
            taken = [app.state.engine.connect() for _ in range(2)]  # every connection
            try:
                started = time.perf_counter()
                r = client.get(URL)
                assert r.status_code == 503
                assert r.headers["Retry-After"] == "5"
                assert "Gerade stark ausgelastet" in r.text
                assert time.perf_counter() - started < 3
            finally:
                for conn in taken:
                    conn.close()
            assert client.get(URL).status_code == 200
    finally:
        app.state.engine.dispose()
    assert sample("amtsweg_http_requests_rejected_total", reason="db_pool_timeout") == rejected + 1


def test_one_setting_sizes_threads_slots_and_database_pool(make_app):
    app = make_app(threads=3)

    @app.get("/_threads")
    async def threads() -> dict:  # reads the running loop's limiter; blocks nothing
        return {"tokens": anyio.to_thread.current_default_thread_limiter().total_tokens}

    assert app.state.engine.pool.size() == 3
    assert app.state.engine.pool._max_overflow == db_module.POOL_OVERFLOW
    # With a lifespan (uvicorn, TestClient as context) and without (each call its own loop).
    with TestClient(app) as client:
        assert client.get("/_threads").json() == {"tokens": 3 + SPARE_THREADS}
    assert TestClient(app).get("/_threads").json() == {"tokens": 3 + SPARE_THREADS}
