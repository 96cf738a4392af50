"""A database that goes away mid-request (restart, failover) gives 503 with Retry-After,
never a 500: nothing was acknowledged, and the client may try again."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from services.cases import routes


def test_database_restart_answers_503_with_retry_after(client, municipality, monkeypatch):
    def gone(*args, **kwargs):
        raise OperationalError(
            "SELECT 1", {}, Exception("terminating connection due to administrator command")
        )

    monkeypatch.setattr(routes.municipalities, "by_slug", gone)
    r = client.get("/herzberg-elster/hund-anmelden")
    assert r.status_code == 503
    assert r.headers["Retry-After"]
    assert "Technischer Fehler" not in r.text
