"""Admin FIM import page: upload an XDatenfelder file (with its genericode code lists, or all in
one zip), which a job reads (run at once in tests); its page shows the progress, then the mapped
fields, the report and the YAML; broken files get an error summary; only administrators of the
import's municipality may see it."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import yaml
from sqlmodel import select

from forms.fim import MAX_BYTES
from forms.loader import parse_definition
from services.fim.models import FimImport
from services.jobs.models import Job
from tests.conftest import csrf_of, login, make_staff

FIXTURES = Path(__file__).parent.parent / "forms" / "fixtures" / "fim"
URL = "/admin/fim-import"


def _admin(client, db, municipality):
    admin = make_staff(db, municipality, "admin", "Anja Vogel", ["admin"])
    login(client, "admin")
    return admin


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
    assert 'for="schema_file">XDatenfelder-Datei und Codelisten</label>' in r.text
    assert 'aria-describedby="schema_file-hint"' in r.text
    assert " multiple " in r.text and ".zip" in r.text
    assert "aria-current=page" in r.text and "FIM-Import" in r.text


def test_v2_upload_shows_fields_report_and_yaml(client, db, municipality):
    _admin(client, db, municipality)
    r = _upload(client, "hundehaltung_v2.xml")
    assert r.status_code == 200, r.text
    assert re.search(r"/admin/fim-import/\d+$", str(r.url))  # the import's own page
    [job] = db.exec(select(Job).where(Job.kind == "fim.import")).all()
    assert job.state == "done" and job.municipality_id == municipality.id
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
    """The job refuses them; the import's page says why, above the upload form."""
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
        assert r.status_code == 200, name
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
    assert "zu groß" in html.unescape(r.text) and 'class="error-summary"' in r.text


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


def _post_files(client, files: list[tuple[str, bytes, str]]):
    token = csrf_of(client.get(URL).text)
    return client.post(
        URL,
        data={"csrf_token": token},
        files=[("schema_file", f) for f in files],
    )


def _fixture(name: str) -> tuple[str, bytes, str]:
    return (name, (FIXTURES / name).read_bytes(), "application/xml")


def test_schema_and_code_lists_in_one_upload(client, db, municipality):
    _admin(client, db, municipality)
    r = _post_files(
        client,
        [
            _fixture("hundehaltung_v2.xml"),
            _fixture("codeliste_hunderasse.xml"),
            _fixture("codeliste_geschlecht_tier.xml"),
        ],
    )
    assert r.status_code == 200, r.text
    page = html.unescape(r.text)
    assert "hundehaltung_v2.xml, codeliste_hunderasse.xml, codeliste_geschlecht_tier.xml" in page
    assert "Codeliste hunderasse (9 Werte), Auswahlliste" in page
    assert "Codeliste geschlecht_tier (2 Werte)" in page
    assert "nicht mitgeliefert" not in page
    assert "bedingt" in page  # Weitere Halter: required on "Gemeinsame Haltung"
    m = re.search(r'<pre class="code-output"[^>]*><code>(.*?)</code></pre>', r.text, re.S)
    definition = yaml.safe_load(html.unescape(m.group(1)))
    parse_definition(definition, "page")
    assert definition["code_lists"]["hunderasse"][0] == {
        "value": "001",
        "label": {"de": "Mischling"},
    }


def test_zip_upload_and_refused_zip(client, db, municipality):
    _admin(client, db, municipality)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(FIXTURES / "zuzug_v3.xml", "fim/zuzug_v3.xml")
        archive.write(FIXTURES / "codeliste_haltungsart.xml", "fim/codelisten/haltungsart.xml")
    r = _post_files(client, [("paket.zip", buffer.getvalue(), "application/zip")])
    page = html.unescape(r.text)
    assert r.status_code == 200 and "Zuzug mit Hund" in page
    assert "Codeliste haltungsart (2 Werte)" in page
    assert "nur unter einer Bedingung gefragt" in page
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../boese.xml", b"<a/>")
    r = _post_files(client, [("boese.zip", buffer.getvalue(), "application/zip")])
    page = html.unescape(r.text)
    assert 'class="error-summary"' in page and "unzulässigen Pfad" in page
    assert "code-output" not in page


def test_duplicate_ids_are_refused_naming_them(client, db, municipality):
    _admin(client, db, municipality)
    data = (FIXTURES / "hundehaltung_v2.xml").read_bytes()
    # Give "Familienname" the id of "Vorname": two different fields, one id, one structure.
    data = data.replace(b"<xdf:id>F99000012</xdf:id>", b"<xdf:id>F99000011</xdf:id>")
    r = _upload(client, "doppelt.xml", data)
    page = html.unescape(r.text)
    assert 'class="error-summary"' in page and "F99000011" in page
    assert "code-output" not in page


def test_progress_page_until_the_job_is_done(client, db, municipality, other_municipality):
    admin = _admin(client, db, municipality)
    running = FimImport(
        municipality_id=municipality.id,
        staff_id=admin.id,
        filenames="gross.xml",
        files=b"",
        state="running",
        stage=2,
    )
    db.add(running)
    db.commit()
    r = client.get(f"{URL}/{running.id}")
    assert r.status_code == 200
    page = html.unescape(r.text)
    assert "Import läuft: gross.xml" in page
    assert "Codelisten lesen: erledigt" in page and "Ergebnis prüfen: wartet" in page
    assert f'<a href="/admin/fim-import/{running.id}">Seite neu laden</a>' in page
    assert "code-output" not in page and 'http-equiv="refresh"' not in page
    # Another municipality's import, and one that does not exist: not found.
    other = make_staff(db, other_municipality, "fremd", "Fritz Fremd", ["admin"])
    foreign = FimImport(
        municipality_id=other_municipality.id, staff_id=other.id, filenames="x.xml", files=b""
    )
    db.add(foreign)
    db.commit()
    assert client.get(f"{URL}/{foreign.id}").status_code == 404
    assert client.get(f"{URL}/999999").status_code == 404
