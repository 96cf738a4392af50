"""The REST API keeps the contract its description (/api/openapi.json) makes: schemathesis
sends generated requests to every operation, anonymous and logged in as a clerk, and runs
all its checks (status codes, content types, headers, response schemas, 405 with Allow,
negative data rejected, authentication not ignored)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS

from tests.conftest import login

EXAMPLES = 15  # per operation and caller: the whole file stays well under a minute


def api_operations(app):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("caller", ["anonymous", "clerk"])
def test_api_keeps_its_described_contract(client, app, clerk, case_factory, caller):
    case_factory(state="in_review")  # something to list and to look up
    if caller == "clerk":
        assert login(client, "clerk").status_code == 200
    cookies = dict(client.cookies)
    operations = api_operations(app)
    assert {op.path for op in operations} == {
        "/api/v1/health",
        "/api/v1/cases",
        "/api/v1/cases/{reference}",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            case.call_and_validate(cookies=cookies, checks=CHECKS.get_all())

        run()


def test_datetimes_in_answers_carry_their_offset(client, clerk, case_factory):
    reference = case_factory(state="in_review").reference
    login(client, "clerk")
    listed = client.get("/api/v1/cases").json()["items"][0]["submitted_at"]
    one = client.get(f"/api/v1/cases/{reference}").json()["submitted_at"]
    for value in (listed, one):
        # RFC 3339 date-time: a zone is required ("Z" or "+01:00").
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
        assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() is not None


def test_a_wrong_method_names_the_methods_the_address_takes(client):
    r = client.post("/api/v1/cases")
    assert r.status_code == 405 and r.headers["allow"] == "GET"
    assert "detail" in r.json()
    r = client.delete("/office/login")  # pages too; a GET page and its POST form
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    r = client.post("/static/amtsweg.css")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_pages_are_not_described_as_api_operations(client):
    described = client.get("/api/openapi.json").json()
    assert sorted(described["paths"]) == [
        "/api/v1/cases",
        "/api/v1/cases/{reference}",
        "/api/v1/health",
    ]
    responses = described["paths"]["/api/v1/cases/{reference}"]["get"]["responses"]
    assert sorted(responses) == ["200", "400", "401", "404"]  # the answers it really gives


# --- the API description's viewer ---------------------------------------------------------


def test_api_docs_use_only_the_applications_own_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assets = re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"', page.text)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/static/swagger-ui/swagger-ui.css" in assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin, no CDN
        assert client.get(url).status_code == 200, url
    # No inline script: every <script> loads a file (the page's CSP forbids inline code).
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    init = client.get("/static/api-docs.js")
    assert "SwaggerUIBundle" in init.text and "openapiUrl" in init.text
    assert 'data-openapi-url="/api/openapi.json"' in page.text
