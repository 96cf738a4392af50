"""Procedure versions through the admin area, on SQLite and PostgreSQL: drafts, checks with
line numbers, previews, publishing while cases and drafts run on the old version, diffs,
bundles, and who may do it."""

from __future__ import annotations

import html
import json
import re

from sqlmodel import select

from services.cases.models import Case, Document
from services.procedures.models import ProcedureVersion
from tests.conftest import (
    URL,
    act,
    answers,
    csrf_of,
    file_registration,
    login,
    make_staff,
    reference_of,
    start,
    to_review,
)

BASE = "/admin/procedures/dog_registration"


def admin_login(client, db, municipality, username="admin"):
    make_staff(db, municipality, username, "Anja Vogel", ["admin"])
    login(client, username)
    assert client.get("/admin/procedures").status_code == 200  # seeds version 1


def editor(client, number):
    page = client.get(f"{BASE}/versions/{number}")
    assert page.status_code == 200
    fields = {
        k: v
        for k, v in re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', page.text, re.S)
    }
    return csrf_of(page.text), {k: html.unescape(v) for k, v in fields.items()}


def new_draft(client, from_version=1):
    page = client.get(f"{BASE}/versions/{from_version}")
    r = client.post(
        f"{BASE}/versions/{from_version}/draft", data={"csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 200
    return int(re.search(r"/versions/(\d+)", str(r.url))[1])


def save(client, number, action="save", **changes):
    token, fields = editor(client, number)
    fields.update(changes)
    return client.post(
        f"{BASE}/versions/{number}", data={"csrf_token": token, "action": action, **fields}
    )


def test_publish_a_new_label_while_a_case_and_a_draft_run_on_version_1(
    client, db, clerk, municipality
):
    # A citizen files on version 1, another one has a draft open on version 1.
    filed = reference_of(file_registration(client).text)
    client.cookies.clear()
    token = start(client)
    client.post(f"{URL}/steps/keeper", data={"csrf_token": token, **answers()["keeper"]})
    waiting_citizen = client.cookies.get("amtsweg_session")

    client.cookies.clear()
    admin_login(client, db, municipality)
    number = new_draft(client)
    assert number == 2
    _, fields = editor(client, 2)
    changed = fields["form_yaml"].replace(
        'label: {de: "Rufname des Hundes"', 'label: {de: "Name Ihres Hundes"'
    )
    assert changed != fields["form_yaml"]
    r = save(client, 2, form_yaml=changed)
    assert r.status_code == 200 and "Keine Probleme gefunden" in r.text
    r = save(client, 2, action="publish", form_yaml=changed)
    assert r.status_code == 200 and "ist veröffentlicht" in r.text
    rows = {v.version: v.status for v in db.exec(select(ProcedureVersion)).all()}
    assert rows == {1: "retired", 2: "published"}

    # New filings see the new label.
    client.cookies.clear()
    start(client)
    assert "Name Ihres Hundes" in client.get(f"{URL}/steps/dog").text
    # The citizen who started before keeps version 1 to the end.
    client.cookies.clear()
    client.cookies.set("amtsweg_session", waiting_citizen)
    page = client.get(f"{URL}/steps/dog")
    assert "Rufname des Hundes" in page.text and "Name Ihres Hundes" not in page.text
    # The case filed on version 1 is approved on version 1.
    client.cookies.clear()
    login(client, "clerk")
    to_review(client, filed)
    assert act(client, filed, "approve").status_code == 200
    case = db.exec(select(Case).where(Case.reference == filed)).one()
    assert case.procedure_version == 1
    notice = db.exec(
        select(Document).where(Document.case_id == case.id, Document.kind == "notice")
    ).one()
    assert notice.template_version == 2  # the notice template of version 1


def test_problems_are_listed_with_lines_and_nothing_is_published(client, db, municipality):
    admin_login(client, db, municipality)
    new_draft(client)
    _, fields = editor(client, 2)
    broken_yaml = fields["form_yaml"].replace("steps:", "steps: [", 1)
    r = save(client, 2, action="publish", form_yaml=broken_yaml)
    assert r.status_code == 422 and "kein gültiges YAML" in r.text and "Formular, Zeile" in r.text
    wrong_type = fields["form_yaml"].replace(
        "{id: dog_name, type: text", "{id: dog_name, type: textt"
    )
    line = wrong_type[: wrong_type.index("id: dog_name")].count("\n") + 1
    r = save(
        client,
        2,
        action="publish",
        form_yaml=wrong_type,
        notice_approval="{% extends 'letter_base.html' %}{% block body %}{% if %}",
    )
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert f"Formular, Zeile {line}" in text and 'unknown type "textt"' in text
    assert "Bescheidvorlage „approval“" in r.text
    statuses = {v.version: v.status for v in db.exec(select(ProcedureVersion)).all()}
    assert statuses == {1: "published", 2: "draft"}
    # Citizens still get version 1.
    client.cookies.clear()
    start(client)
    assert "Rufname des Hundes" in client.get(f"{URL}/steps/dog").text


def test_previews_of_steps_error_states_and_notices(client, db, municipality):
    admin_login(client, db, municipality)
    page = client.get(f"{BASE}/versions/1/preview/dog")
    assert page.status_code == 200 and "Vorschau: Version 1" in page.text
    r = client.post(
        f"{BASE}/versions/1/preview/dog",
        data={"csrf_token": csrf_of(page.text), "chip_number": "123"},
    )
    assert r.status_code == 422 and "Die Chipnummer muss aus 15 Ziffern bestehen" in r.text
    pdf = client.get(f"{BASE}/versions/1/notices/approval.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"{BASE}/versions/1/notices/rejection.pdf").status_code == 200


def test_diff_and_bundle_round_trip(client, db, municipality):
    admin_login(client, db, municipality)
    new_draft(client)
    _, fields = editor(client, 2)
    save(client, 2, form_yaml=fields["form_yaml"].replace("Farbe", "Fellfarbe"))
    diff = client.get(f"{BASE}/diff", params={"a": 1, "b": 2})
    assert '<span class="diff-add">+' in diff.text and "Fellfarbe" in diff.text
    bundle = client.get(f"{BASE}/versions/2/bundle")
    data = json.loads(bundle.content)
    assert data["format"] == "amtsweg-procedure-bundle/1" and "Fellfarbe" in data["form_yaml"]
    save(client, 2, action="publish")
    page = client.get("/admin/procedures")
    r = client.post(
        "/admin/procedures/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"bundle": ("paket.json", bundle.content, "application/json")},
    )
    assert r.status_code == 200 and "Paket als Entwurf Version 3 importiert" in r.text
    r = client.post(
        "/admin/procedures/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"bundle": ("kaputt.json", b"{not json", "application/json")},
    )
    assert r.status_code == 422 and "kein gültiges Amtsweg-Verfahrenspaket" in r.text


def test_only_administrators_of_the_municipality(
    client, db, clerk, municipality, other_municipality
):
    login(client, "clerk")
    assert client.get("/admin/procedures").status_code == 403
    client.cookies.clear()
    admin_login(client, db, other_municipality, "fremd")
    client.cookies.clear()
    admin_login(client, db, municipality)
    own = db.exec(
        select(ProcedureVersion).where(ProcedureVersion.municipality_id == municipality.id)
    ).all()
    assert own  # seeded for this municipality
    client.cookies.clear()
    login(client, "fremd")
    new = new_draft(client)  # their own version 2
    assert new == 2
    theirs = db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == other_municipality.id, ProcedureVersion.version == 2
        )
    ).one()
    assert theirs.status == "draft"
    mine = db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == municipality.id,
            ProcedureVersion.procedure_id == "dog_registration",
        )
    ).all()
    assert [v.version for v in mine] == [1]


def test_a_form_without_the_answers_the_rules_read_is_not_published(client, db, municipality):
    """An XDatenfelder import published into the dog registration would crash the clerk's
    approval (the tax needs the intake date): publishing names every missing field."""
    from pathlib import Path

    import yaml

    from forms.fim import import_xdatenfelder
    from services.procedures import dog_registration

    fixture = Path(__file__).parent.parent / "forms" / "fixtures" / "fim" / "hundehaltung_v2.xml"
    imported = import_xdatenfelder(fixture.read_bytes(), "hundehaltung_v2.xml").definition
    imported["version"] = 2
    form_yaml = yaml.safe_dump(imported, allow_unicode=True, sort_keys=False)
    admin_login(client, db, municipality)
    new_draft(client)

    r = save(client, 2, action="publish", form_yaml=form_yaml)

    assert r.status_code == 422
    text = html.unescape(r.text)
    fields = {f["id"] for step in imported["steps"] for f in step["fields"]}
    missing = sorted(dog_registration.ANSWERS - fields)
    assert "intake_date" in missing
    for name in missing:
        assert f"Feld „{name}“ fehlt" in text, name
    statuses = {v.version: v.status for v in db.exec(select(ProcedureVersion)).all()}
    assert statuses == {1: "published", 2: "draft"}
