"""``amtsweg serve``: more than one worker needs PostgreSQL; uvicorn's own access log is off
(the app writes one line per request) and logging is set up by ``configure_logging``."""

from __future__ import annotations

import pytest
import uvicorn
from typer.testing import CliRunner

from services.cli import SQLITE_ONE_WORKER
from services.cli import app as cli
from services.config import get_settings
from services.procedures import registry


@pytest.fixture
def serve(monkeypatch, restore_logging):
    """Run ``amtsweg serve`` with a database URL; uvicorn is not really started."""
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    # The command binds these globals to its database: give them back afterwards.
    monkeypatch.setattr(registry, "_engine", registry._engine)
    monkeypatch.setattr("services.jobs.queue.configure", lambda *a, **k: None, raising=False)

    def run(url: str, *args: str):
        monkeypatch.setenv("AMTSWEG_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, ["serve", *args]), calls
        finally:
            get_settings.cache_clear()

    return run


def test_sqlite_refuses_more_than_one_worker(serve, tmp_path):
    result, calls = serve(f"sqlite:///{tmp_path / 'a.db'}", "--workers", "2")
    assert result.exit_code == 2
    assert result.stderr.strip() == SQLITE_ONE_WORKER
    assert "use PostgreSQL (AMTSWEG_DATABASE_URL=postgresql+psycopg://…)" in result.stderr
    assert calls == []


def test_one_worker_on_sqlite_without_uvicorns_access_log(serve, tmp_path):
    result, calls = serve(f"sqlite:///{tmp_path / 'a.db'}")
    assert result.exit_code == 0, result.output
    [(app, kw)] = calls
    assert app == "services.asgi:app" and kw["workers"] == 1
    assert kw["access_log"] is False and kw["log_config"] is None


def test_postgresql_serves_several_workers_and_clears_old_metrics(serve, tmp_path, monkeypatch):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_4711.db").write_bytes(b"old run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    result, calls = serve("postgresql+psycopg://amtsweg@127.0.0.1:9/amtsweg", "--workers", "2")
    assert result.exit_code == 0, result.output
    [(_, kw)] = calls
    assert kw["workers"] == 2 and kw["access_log"] is False
    assert list(metrics_dir.iterdir()) == []
