"""Every request has an id: taken from a sane X-Request-ID or made up, answered in the
X-Request-ID header and written on every log record made while serving it (also in the
thread pool), as JSON lines with one access line per request. Secret link tokens never
reach the log."""

from __future__ import annotations

import io
import json
import logging
import re

from fastapi.testclient import TestClient

from services.config import Settings
from services.logs import configure_logging


def json_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]  # each line is JSON


def logged_app(make_app):
    app = make_app(log_format="json")
    buffer = io.StringIO()
    configure_logging(app.state.settings, stream=buffer)

    @app.get("/_log")
    def log_something() -> dict:  # runs in the thread pool
        logging.getLogger("amtsweg.test").warning("inside the route")
        return {}

    @app.get("/_fail")
    def fail() -> dict:
        raise RuntimeError("broken on purpose")

    return app, buffer


def test_request_id_is_echoed_and_on_every_log_line_of_the_request(make_app, restore_logging):
    app, buffer = logged_app(make_app)
    with TestClient(app) as client:
        r = client.get("/_log", headers={"X-Request-ID": "proxy-4f2a9c"})
        other = client.get("/_log")
    assert r.headers["X-Request-ID"] == "proxy-4f2a9c"
    assert re.fullmatch(r"[0-9a-f]{32}", other.headers["X-Request-ID"])
    lines = [x for x in json_lines(buffer) if x["request_id"] == "proxy-4f2a9c"]
    inside = next(x for x in lines if x["message"] == "inside the route")
    assert inside["level"] == "WARNING" and inside["logger"] == "amtsweg.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", inside["time"])
    access = next(x for x in lines if x["logger"] == "amtsweg.access")
    assert access["method"] == "GET" and access["path"] == "/_log" and access["route"] == "/_log"
    assert access["status"] == 200 and access["level"] == "INFO"
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    # Exactly one access line per request.
    assert [x["request_id"] for x in json_lines(buffer) if x["logger"] == "amtsweg.access"] == [
        "proxy-4f2a9c",
        other.headers["X-Request-ID"],
    ]


def test_an_unusable_request_id_is_replaced(make_app, restore_logging):
    app, buffer = logged_app(make_app)
    client = TestClient(app)
    for bad in ("x" * 65, "two words", 'quote"d', "{json}", ""):
        r = client.get("/_log", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])
    ids = {x["request_id"] for x in json_lines(buffer)}
    assert not ids & {"x" * 65, "two words", 'quote"d', "{json}", ""}


def test_a_500_names_its_request_and_logs_the_traceback_with_the_id(make_app, restore_logging):
    app, buffer = logged_app(make_app)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/_fail", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500 and r.headers["X-Request-ID"] == "trace-500"
    lines = [x for x in json_lines(buffer) if x["request_id"] == "trace-500"]
    error = next(x for x in lines if x["message"].startswith("unexpected error"))
    assert error["level"] == "ERROR" and "broken on purpose" in error["exception"]
    access = next(x for x in lines if x["logger"] == "amtsweg.access")
    assert access["status"] == 500 and access["route"] == "/_fail"


def test_status_link_tokens_never_reach_the_log(make_app, restore_logging):
    app, buffer = logged_app(make_app)
    client = TestClient(app)
    secret = "Zt4-secret-status-token_0123456789"
    client.get(f"/status/{secret}")
    client.get(f"/herzberg-elster/hund-anmelden/resume/{secret}")
    ours = [x for x in json_lines(buffer) if x["logger"] != "httpx"]  # the test client's own
    assert ours and secret not in json.dumps(ours)
    paths = [x["path"] for x in json_lines(buffer) if x["logger"] == "amtsweg.access"]
    assert paths == ["/status/***", "/herzberg-elster/hund-anmelden/resume/***"]


def test_json_in_production_text_otherwise(restore_logging):
    assert not Settings(_env_file=None).logs_as_json
    assert Settings(_env_file=None, log_format="json").logs_as_json
    production = Settings(
        _env_file=None,
        env="production",
        secret_key="k" * 40,
        base_url="https://amt.example",
        smtp_host="smtp.example",
        mail_from="Amt <amt@amt.example>",
    )
    assert production.logs_as_json
    assert not production.model_copy(update={"log_format": "text"}).logs_as_json
    buffer = io.StringIO()
    configure_logging(Settings(_env_file=None, log_format="text"), stream=buffer)
    configure_logging(Settings(_env_file=None, log_format="text"), stream=buffer)  # no doubles
    logging.getLogger("amtsweg.test").info("plain line")
    assert buffer.getvalue().count("plain line") == 1
    assert re.search(r"INFO +amtsweg\.test \[-\] plain line", buffer.getvalue())
    logging.getLogger("weasyprint.progress").info("Step 1 - chatter")  # libraries: WARNING up
    assert "chatter" not in buffer.getvalue()
