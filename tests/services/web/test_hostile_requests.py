"""Hostile addresses and forms get a clear 4xx page, never a server error: ids beyond what the
database's integer columns hold (PostgreSQL from 2**31, SQLite from 2**63), digits that are
no ASCII digits ("²"), NUL characters in paths and queries (PostgreSQL cannot store them), and
forms with more fields than the parser takes."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import URL, csrf_of, login, make_staff, start

BEYOND = ["2147483648", "9223372036854775808", "-2147483649", "-9223372036854775809"]
VERSION = "/admin/procedures/dog_registration/versions/{n}"

# (method, address with {ref} for the case reference and {n} for the number, status)
ROUTES = [
    ("GET", "/office/cases/{ref}/documents/{n}", 404),
    ("GET", "/office/cases/{ref}/files/{n}", 404),
    ("POST", "/office/cases/{ref}/assign", 400),  # assignee_id={n} in the form
    ("GET", "/admin/users/{n}", 404),
    ("POST", "/admin/users/{n}", 404),
    ("POST", "/admin/users/{n}/active", 404),
    ("POST", "/admin/users/{n}/reset-password", 404),
    ("POST", "/admin/jobs/{n}/retry", 404),
    ("GET", VERSION, 404),
    ("POST", VERSION, 404),
    ("GET", VERSION + "/bundle", 404),
    ("GET", VERSION + "/preview/keeper", 404),
    ("POST", VERSION + "/preview/keeper", 404),
    ("GET", VERSION + "/notices/registration.pdf", 404),
    ("POST", VERSION + "/draft", 404),
    ("GET", "/admin/procedures/dog_registration/diff?a=1&b={n}", 400),
    ("GET", "/admin/procedures/dog_registration/diff?a={n}&b=1", 400),
]


@pytest.fixture
def staff_client(client, db, municipality, case_factory):
    """Logged in as a clerk who is also an administrator; ``client.reference`` is a case."""
    make_staff(db, municipality, "admin", "Anna Admin", ["clerk", "admin"])
    assert login(client, "admin").status_code == 200
    client.reference = case_factory().reference
    client.csrf = csrf_of(client.get("/office/").text)
    return client


@pytest.mark.parametrize(("method", "address", "status"), ROUTES)
def test_ids_beyond_the_database_range_are_not_found(staff_client, method, address, status):
    for n in BEYOND:
        url = address.format(ref=staff_client.reference, n=n)
        if method == "GET":
            r = staff_client.get(url)
        else:
            data = {"csrf_token": staff_client.csrf, "assignee_id": n}
            r = staff_client.post(url, data=data)
        assert r.status_code == status, (url, r.status_code)
        assert ("Seite nicht gefunden" if status == 404 else "Ungültige Anfrage") in r.text


@pytest.mark.parametrize("assignee", ["²", "٣", "99999999999", "-1"])
def test_odd_assignee_filter_shows_the_queue(staff_client, assignee):
    r = staff_client.get("/office/", params={"assignee": assignee})
    assert r.status_code == 200 and "Vorgänge" in r.text


def test_tampered_page_cursor_starts_from_the_top(staff_client):
    for value, case_id in [("HST", 2**40), ("HST\x00", 1), ("HST", "²")]:
        raw = json.dumps([value, case_id]).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        r = staff_client.get("/office/", params={"sort": "reference", "after": cursor})
        assert r.status_code == 200 and staff_client.reference in r.text


@pytest.mark.parametrize(
    "address",
    [
        "/office/?q=a%00b",
        "/office/?state=in_review%00",
        "/office/?procedure=%00",
        "/api/v1/cases?q=a%00b",
    ],
)
def test_nul_in_a_query_is_a_bad_request(staff_client, address):
    r = staff_client.get(address)
    assert r.status_code == 400
    assert "unzulässiges Zeichen" in (r.json()["detail"] if "/api/" in address else r.text)


def test_nul_in_a_staff_path_is_not_found(staff_client):
    for address in ["/api/v1/cases/{ref}%00", "/office/cases/{ref}%00"]:
        r = staff_client.get(address.format(ref=staff_client.reference))
        assert r.status_code == 404, address


@pytest.mark.parametrize(
    "address",
    [
        "/herzberg%00/hund-anmelden",
        "/herzberg-elster%00/hund-anmelden",
        "/herzberg-elster/hund-anmelden%00",
        "/x%00/datenschutz",
        "/status/abc%00",
    ],
)
def test_nul_in_a_public_path_is_not_found(client, municipality, address):
    r = client.get(address)
    assert r.status_code == 404 and "Seite nicht gefunden" in r.text


def test_too_many_form_fields_are_named_as_such(client, municipality):
    token = start(client)
    fields = [("csrf_token", token)] + [(f"x{i}", "1") for i in range(400)]
    for files in (None, {"upload": ("a.pdf", b"%PDF-1.4", "application/pdf")}):
        r = client.post(f"{URL}/steps/keeper", data=dict(fields), files=files)
        assert r.status_code == 413
        assert "zu viele Felder (höchstens 400)" in r.text
        assert "10 MB" not in r.text and "Dateien" not in r.text


def test_too_many_files_are_named_as_such(client, municipality):
    token = start(client)
    files = [("upload", (f"{i}.pdf", b"%PDF-1.4", "application/pdf")) for i in range(21)]
    r = client.post(f"{URL}/steps/keeper", data={"csrf_token": token}, files=files)
    assert r.status_code == 413
    assert "zu viele Dateien auf einmal gesendet (höchstens 20)" in r.text
