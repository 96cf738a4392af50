"""Administrators' texts follow the character rule of every form answer (``forms.check_text``):
a NUL (PostgreSQL cannot store it: a 500) or a right-to-left override (the letterhead of
every notice would print reversed) in a setting, a staff member's name or a procedure's texts
is refused at the field, and nothing is stored. Numbers that are no ASCII number ("²") or lie
beyond the database's range are refused like any other wrong number, not with a 500."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from sqlmodel import select

from services.accounts.models import StaffUser
from services.municipalities.models import DogTaxRateTable, Municipality
from services.procedures.models import ProcedureVersion
from tests.conftest import csrf_of, login
from tests.services.admin.test_municipality_admin import settings_form


def field_error(page: str, field_id: str) -> str:
    _, _, rest = page.partition(f'id="{field_id}-error"')
    assert rest, f"no message at {field_id}"
    return html.unescape(rest.split("</p>", 1)[0])


@pytest.mark.parametrize(
    ("text", "code"), [("Bahnhof\x00str. 1", "U+0000"), ("\u202eMarkt 1", "U+202E")]
)
def test_setting_with_a_control_character_is_refused_at_the_field(client, db, admin, text, code):
    login(client, "admin")
    r = client.post("/admin/municipality", data={**settings_form(client), "street": text})
    assert r.status_code == 400 and "Technischer Fehler" not in r.text
    assert f"„Straße und Hausnummer“ enthält ein unsichtbares Steuerzeichen ({code})" in (
        field_error(r.text, "street")
    )
    db.expire_all()
    assert db.get(Municipality, admin.municipality_id).street == "Markt 1"


def test_staff_name_with_a_control_character_is_refused_at_the_field(client, db, admin, clerk):
    login(client, "admin")
    url = f"/admin/users/{clerk.id}"
    token = csrf_of(client.get(url).text)
    for name, code in [("Petra\x00 Schulze", "U+0000"), ("Petra \u202eSchulze", "U+202E")]:
        r = client.post(
            url,
            data={"csrf_token": token, "display_name": name, "email": "", "roles": ["clerk"]},
        )
        assert r.status_code == 400 and "Technischer Fehler" not in r.text
        assert f"unsichtbares Steuerzeichen ({code})" in field_error(r.text, "display_name")
    db.expire_all()
    assert db.get(StaffUser, clerk.id).display_name == "Petra Schulze"


def test_procedure_text_with_a_control_character_is_not_saved_and_shown_as_typed(client, db, admin):
    base = "/admin/procedures/dog_registration"
    login(client, "admin")
    assert client.get("/admin/procedures").status_code == 200  # seeds version 1
    page = client.get(f"{base}/versions/1")
    r = client.post(f"{base}/versions/1/draft", data={"csrf_token": csrf_of(page.text)})
    number = int(re.search(r"/versions/(\d+)", str(r.url))[1])
    page = client.get(f"{base}/versions/{number}")
    fields = {
        k: html.unescape(v)
        for k, v in re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', page.text, re.S)
    }
    stored = fields["form_yaml"]
    edited = stored.replace("Rufname des Hundes", "Rufname\x00 des \u202eHundes", 1)
    line = edited[: edited.index("Rufname")].count("\n") + 1
    r = client.post(
        f"{base}/versions/{number}",
        data={"csrf_token": csrf_of(page.text), "action": "save", **fields, "form_yaml": edited},
    )
    assert r.status_code == 422 and "Technischer Fehler" not in r.text
    text = html.unescape(r.text)
    assert (
        f"Formular, Zeile {line}: „Formular“ enthält ein unsichtbares Steuerzeichen (U+0000)"
        in (text)
    )
    assert "Rufname\x00 des \u202eHundes" in text  # the admin's edit is not lost
    db.expire_all()
    row = db.exec(select(ProcedureVersion).where(ProcedureVersion.version == number)).one()
    assert row.form_yaml == stored.replace("\r\n", "\n")


# (query or posted months, what the admin gets)
NUMBERS = [
    ("year=²", "/admin/municipality"),
    ("year=٣", "/admin/municipality"),
    ("year=99999999999", "/admin/municipality"),
    ("year=2031", "/admin/municipality/rates/2031"),
]


@pytest.mark.parametrize(("query", "target"), NUMBERS)
def test_new_year_form_takes_plain_numbers_only(client, admin, query, target):
    login(client, "admin")
    r = client.get(f"/admin/municipality/rates?{query}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].split("#")[0] == target


@pytest.mark.parametrize("months", ["²", "٣", "99999999999", "0"])
def test_reduction_months_must_be_a_plain_number(client, db, admin, months):
    login(client, "admin")
    year = date.today().year + 3
    page = client.get(f"/admin/municipality/rates/{year}")
    form = {
        "csrf_token": csrf_of(page.text),
        "model": "by_count",
        "rates": "36,00",
        "dangerous_rate": "600",
        "due_dates": "15.02.",
        "reduction_shelter_dog_percent": "50",
        "reduction_shelter_dog_months": months,
    }
    r = client.post(f"/admin/municipality/rates/{year}", data=form)
    assert r.status_code == 400
    assert "Die Dauer muss eine ganze Zahl von 1 bis 600 Monaten sein." in field_error(
        r.text, "reduction_shelter_dog_months"
    )
    assert db.exec(select(DogTaxRateTable).where(DogTaxRateTable.year == year)).first() is None
