"""Admin FIM import page: upload an XDatenfelder file, see the mapped fields, the report and the
YAML; broken files get an error summary; only administrators may use it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import yaml

from forms.fim import MAX_BYTES
from forms.loader import parse_definition
from tests.conftest import csrf_of, login, make_staff

FIXTURES = Path(__file__).parent.parent / "forms" / "fixtures" / "fim"
URL = "/admin/fim-import"


def _admin(client, db, municipality):
    make_staff(db, municipality, "admin", "Anja Vogel", ["admin"])
    login(client, "admin")


def _upload(client, name: str, data: bytes | None = None, token: str | None = None):
    token = token or csrf_of(client.get(URL).text)
    data = (FIXTURES / name).read_bytes() if data is None else data
    return client.post(
        URL,
        data={"csrf_token": token},
        files={"schema_file": (name, data, "application/xml")},
    )


def test_form_is_accessible(client, db, municipality):
    _admin(client, db, municipality)
    r = client.get(URL)
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text
    assert '<label class="label" for="schema_file">XDatenfelder-Datei</label>' in r.text
    assert 'aria-describedby="schema_file-hint"' in r.text
    assert "aria-current=page" in r.text and "FIM-Import" in r.text


def test_v2_upload_shows_fields_report_and_yaml(client, db, municipality):
    _admin(client, db, municipality)
    r = _upload(client, "hundehaltung_v2.xml")
    assert r.status_code == 200, r.text
    page = html.unescape(r.text)
    assert "Hundehaltung anmelden (S99000001, Version 1.0)" in page
    assert "XDatenfelder 2.0" in page
    # fields table
    assert "<code>weitere_halter.vorname</code>" in page
    assert "Wiederholbare Gruppe" in page and "Geldbetrag" in page
    # report: the code-list reference and the rule
    assert "C99000001" in page and "Bitte prüfen" in page
    assert "R99000001" in page
    # the YAML is a loadable definition
    m = re.search(r'<pre class="code-output"[^>]*><code>(.*?)</code></pre>', r.text, re.S)
    assert m
    definition = yaml.safe_load(html.unescape(m.group(1)))
    parse_definition(definition, "page")
    assert definition["id"] == "hundehaltung_anmelden"


def test_v3_upload(client, db, municipality):
    _admin(client, db, municipality)
    r = _upload(client, "hundehaltung_v3.xml")
    assert r.status_code == 200
    page = html.unescape(r.text)
    assert "XDatenfelder 3.0" in page
    assert "Codeliste geschlecht (2 Werte)" in page
    assert "Nicht übernommen" not in page  # nothing was dropped in this fixture


def test_hostile_and_broken_files_show_an_error_summary(client, db, municipality):
    _admin(client, db, municipality)
    for name, expected in [
        ("xxe.xml", "DOCTYPE"),
        ("billion_laughs.xml", "DOCTYPE"),
        ("wrong_namespace.xml", "urn:xoev-de:fim:standard:xdatenfelder_1"),
        ("not_xml.xml", "kein gültiges XML"),
        ("duplicate_conflict.xml", "F99000051"),
        ("unknown_datentyp.xml", "F990000000061"),
    ]:
        r = _upload(client, name)
        assert r.status_code == 422, name
        page = html.unescape(r.text)
        assert 'class="error-summary"' in page and '<a href="#schema_file">' in page
        assert expected in page, name
        assert "code-output" not in page
        assert "root:" not in page  # no file contents leaked


def test_missing_and_oversized_files(client, db, municipality):
    _admin(client, db, municipality)
    token = csrf_of(client.get(URL).text)
    r = client.post(URL, data={"csrf_token": token})
    assert r.status_code == 422 and "Bitte wählen Sie" in r.text
    r = _upload(client, "gross.xml", b" " * (MAX_BYTES + 10), token)
    assert r.status_code == 422 and "zu groß" in html.unescape(r.text)


def test_csrf_is_required(client, db, municipality):
    _admin(client, db, municipality)
    client.get(URL)
    r = client.post(
        URL,
        data={"csrf_token": "falsch"},
        files={"schema_file": ("a.xml", b"<a/>", "application/xml")},
    )
    assert r.status_code == 400


def test_clerk_is_refused(client, db, municipality, clerk):
    login(client, "clerk")
    assert client.get(URL).status_code == 403
    token = csrf_of(client.get("/office/").text)
    r = client.post(
        URL,
        data={"csrf_token": token},
        files={"schema_file": ("a.xml", b"<a/>", "application/xml")},
    )
    assert r.status_code == 403


def test_anonymous_is_sent_to_login(client, db):
    r = client.get(URL, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/office/login")
