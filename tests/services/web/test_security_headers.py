"""Headers that protect what people see: no answer with personal data is kept by a browser or
proxy (``Cache-Control: no-store`` on everything but static assets), production tells
browsers to use https only (HSTS), and a form sent from another website is refused even
before its CSRF token is looked at."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import (
    PASSWORD,
    STEP_FILES,
    URL,
    answers,
    csrf_of,
    login,
    make_staff,
    reference_of,
    start,
    status_path,
)


def walk_to_check(client: TestClient) -> tuple[str, dict[str, object]]:
    """Fill in every step as a citizen; the CSRF token and the pages seen on the way."""
    token = start(client)
    pages = {"step": client.get(f"{URL}/steps/keeper")}
    r, steps = pages["step"], answers()
    while (step_id := r.url.path.rsplit("/", 1)[-1]) != "check":
        r = client.post(
            f"{URL}/steps/{step_id}",
            data={"csrf_token": token, **steps[step_id]},
            files=STEP_FILES.get(step_id),
        )
        assert r.status_code == 200, step_id
    pages["check"] = r
    return token, pages


def test_pages_and_api_answers_with_personal_data_are_not_stored(client, db, clerk, municipality):
    token, pages = walk_to_check(client)
    confirmation = client.post(f"{URL}/submit", data={"csrf_token": token})
    reference = reference_of(confirmation.text)
    pages["confirmation"] = confirmation
    pages["status"] = client.get(status_path(confirmation.text))
    make_staff(db, municipality, "admin", "Anna Admin", ["clerk", "admin"])
    login(client, "admin")
    pages["office queue"] = client.get("/office/")
    pages["case page"] = client.get(f"/office/cases/{reference}")
    pages["admin users"] = client.get("/admin/users")
    pages["api list"] = client.get("/api/v1/cases")
    pages["api case"] = client.get(f"/api/v1/cases/{reference}")
    pages["api unknown case"] = client.get("/api/v1/cases/HST-1900-000001")
    pages["start page"] = client.get(URL)
    pages["login redirect"] = TestClient(client.app).get("/office/", follow_redirects=False)
    assert reference in pages["api case"].text and "Mustermann" in pages["case page"].text
    for name, r in pages.items():
        assert r.status_code in (200, 303, 404), name
        assert "no-store" in r.headers.get("cache-control", ""), name
    # Static assets may be kept: they are the same for everyone.
    css = client.get("/static/amtsweg.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")


def test_production_tells_browsers_to_use_https_only(make_app, restore_logging, municipality):
    production = TestClient(make_app(env="production", base_url="https://amt.example"))
    for path in (URL, "/office/login", "/static/amtsweg.css"):
        r = production.get(path)
        assert r.status_code == 200, path
        assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_development_sends_no_hsts(client, municipality):
    # Over plain http on a developer's machine, HSTS would lock the browser out of the host.
    assert "strict-transport-security" not in client.get(URL).headers


def login_with(client: TestClient, **headers: str):
    page = client.get("/office/login")
    return client.post(
        "/office/login",
        data={"csrf_token": csrf_of(page.text), "username": "clerk", "password": PASSWORD},
        headers=headers,
        follow_redirects=False,
    )


def test_a_form_sent_from_another_website_is_refused(client, clerk):
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # sandboxed frames, data: pages
        {"Origin": "http://testserver.evil.example"},
        {"Referer": "https://evil.example/phish.html"},  # no Origin: the Referer decides
    ):
        r = login_with(client, **headers)
        assert r.status_code == 403, headers
        assert "von einer anderen Website aus gesendet" in r.text
        assert client.get("/office/", follow_redirects=False).status_code == 303  # not logged in
    r = login_with(client, Origin="http://testserver")
    assert r.status_code == 303 and r.headers["location"] == "/office/"


def test_own_origins_are_accepted(make_app, clerk):
    # Behind a proxy the app may be reached under its public address (AMTSWEG_BASE_URL) or
    # directly; both are its own. Requests that name no origin are left to the CSRF token.
    app = make_app(base_url="https://amt.example")
    for headers in (
        {"Origin": "https://amt.example"},
        {"Origin": "https://AMT.example:443"},
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/office/login"},
        {},
    ):
        r = login_with(TestClient(app), **headers)
        assert r.status_code == 303, (headers, re.sub(r"\s+", " ", r.text)[:300])


def test_in_production_only_staff_see_the_api_description(make_app, restore_logging, clerk):
    app = make_app(env="production", base_url="https://amt.example")
    anonymous = TestClient(app, base_url="https://amt.example")
    for path in ("/api/docs", "/api/openapi.json"):
        assert anonymous.get(path).status_code == 404, path
    staff = TestClient(app, base_url="https://amt.example")
    assert login(staff, "clerk").status_code == 200
    assert staff.get("/api/docs").status_code == 200
    assert "/api/v1/cases" in staff.get("/api/openapi.json").json()["paths"]
