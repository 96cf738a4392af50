"""The administration overview (/admin/): every section with what it is for, what needs
attention (failed jobs, missing rates or bank details) and the latest changes with labels."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from services.audit.service import ADMIN_ACTIONS, record_admin
from services.jobs.models import Job
from services.municipalities.models import DogTaxRateTable, Municipality
from services.timeutil import today_local
from tests.conftest import login


def test_overview_shows_sections_and_what_needs_attention(client, db, admin, municipality):
    login(client, "admin")
    r = client.get("/admin/")
    assert r.status_code == 200
    assert '<h1 class="heading-l">Administration</h1>' in r.text
    for href in ("/admin/procedures", "/admin/municipality", "/admin/users", "/admin/jobs"):
        assert f'href="{href}"' in r.text
    assert "Zurzeit ist nichts zu erledigen." in r.text

    # A failed job, no rates for this year and no IBAN: each is pointed out.
    db.add(Job(kind="cases.receipt", key="k1", municipality_id=municipality.id, state="failed"))
    db.add(Job(kind="cases.receipt", key="k2", municipality_id=municipality.id, state="failed"))
    for table in db.exec(
        select(DogTaxRateTable).where(DogTaxRateTable.municipality_id == municipality.id)
    ):
        if table.year == today_local().year:
            db.delete(table)
    m = db.get(Municipality, municipality.id)
    m.iban = ""
    db.add(m)
    db.commit()
    r = client.get("/admin/")
    assert "Zurzeit ist nichts zu erledigen." not in r.text
    assert '<a href="/admin/jobs?state=failed">2 Aufträge sind fehlgeschlagen.</a>' in r.text
    assert f"Für {today_local().year} sind keine Hundesteuersätze hinterlegt" in r.text
    assert "fehlen Bankangaben (IBAN)" in r.text


def test_overview_is_for_administrators_only(client, clerk):
    login(client, "clerk")
    assert client.get("/admin/").status_code == 403


def test_change_log_shows_labels_not_identifiers(client, db, admin, municipality):
    for action in ADMIN_ACTIONS:
        record_admin(
            db,
            municipality_id=municipality.id,
            actor_id=admin.id,
            actor_name=admin.display_name,
            action=action,
            target="municipality",
            after={"phone": "1"},
        )
    db.commit()
    login(client, "admin")
    page = client.get("/admin/municipality").text
    log = page[page.index("Änderungsprotokoll") :]
    cells = re.findall(r"<td>([^<]*)</td>", log)
    for action, label in ADMIN_ACTIONS.items():
        assert action not in cells
        assert label.de in cells
    newest = list(ADMIN_ACTIONS.values())[-1].de
    assert f"<td>{newest}</td>" in client.get("/admin/").text  # the overview's latest changes


def test_every_admin_action_the_code_writes_has_a_label(db, municipality):
    """record_admin refuses an action without a label, so none reaches the change log raw."""
    with pytest.raises(ValueError, match="unknown admin action"):
        record_admin(
            db,
            municipality_id=municipality.id,
            actor_id=None,
            actor_name="System",
            action="something_new",
            target="municipality",
        )
    for label in ADMIN_ACTIONS.values():
        assert label.de and label.en and label.de != label.en
