"""/livez answers without the database; /readyz checks the database and every check other
features register, on a side thread with a short timeout, and names what fails."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from services.web import health
from services.web.health import database_check


def test_livez_and_readyz(client):
    assert client.get("/livez").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert client.get("/api/v1/health").json() == {"status": "ok"}  # the older one stays


def test_readyz_names_a_failing_check(make_app):
    app = make_app()

    def queue() -> None:
        raise RuntimeError("no worker seen for 5 minutes")

    app.state.readiness_checks["queue"] = queue
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503
    assert r.json() == {
        "status": "fail",
        "checks": {"database": "ok", "queue": "failed: RuntimeError"},
    }
    assert TestClient(app).get("/livez").status_code == 200


def test_readyz_fails_when_the_database_is_unreachable(make_app):
    app = make_app()
    nowhere = create_engine(
        "postgresql+psycopg://amtsweg@127.0.0.1:9/amtsweg", connect_args={"connect_timeout": 1}
    )
    app.state.readiness_checks["database"] = database_check(nowhere)
    try:
        r = TestClient(app).get("/readyz")
    finally:
        nowhere.dispose()
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "failed: OperationalError"}


def test_readyz_gives_up_on_a_hanging_check(make_app, monkeypatch):
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.2)
    app = make_app()
    release = threading.Event()
    app.state.readiness_checks["slow"] = lambda: release.wait(10)
    try:
        started = time.perf_counter()
        r = TestClient(app).get("/readyz")
        assert time.perf_counter() - started < 2
    finally:
        release.set()
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "slow": "timeout"}
