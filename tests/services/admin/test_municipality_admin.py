"""Municipality settings and rate tables in the admin area, on SQLite and PostgreSQL:
validation with every problem listed, the changed fields audited, the logo in letters,
issued notices unchanged by later rate changes."""

from __future__ import annotations

import io
import re
from datetime import date

from PIL import Image
from sqlmodel import select

from services.audit.models import AdminEvent
from services.audit.service import verify
from services.municipalities.models import DogTaxRateTable, Municipality
from services.municipalities.service import letterhead
from services.procedures.dog_tax import RateTable
from tests.conftest import act, csrf_of, file_registration, login, reference_of, to_review


def settings_form(client) -> dict[str, str]:
    page = client.get("/admin/municipality")
    assert page.status_code == 200
    fields = dict(
        re.findall(
            r'<input class="input[^"]*" id="([a-z_]+)" name="[a-z_]+" '
            r'type="(?:text|email)" value="([^"]*)"',
            page.text,
        )
    )
    return {
        "csrf_token": csrf_of(page.text),
        **{k: v.replace("&amp;", "&") for k, v in fields.items()},
    }


def png(size: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (31, 58, 95)).save(out, "PNG")
    return out.getvalue()


def events(db, municipality_id: int) -> list[AdminEvent]:
    db.expire_all()
    return list(
        db.exec(
            select(AdminEvent)
            .where(AdminEvent.municipality_id == municipality_id)
            .order_by(AdminEvent.seq)
        )
    )


def test_admin_edits_settings_and_only_the_changed_fields_are_audited(client, db, admin):
    login(client, "admin")
    form = settings_form(client)
    assert form["name"] == "Stadt Herzberg (Elster)" and form["iban"] == "DE54180510000000012345"
    form.update(phone="(03535) 482-0", iban="DE89 3704 0044 0532 0130 00", bic="COBADEFFXXX")
    r = client.post("/admin/municipality", data=form)
    assert r.status_code == 200 and "Gespeichert: Telefon, IBAN, BIC." in r.text
    m = db.get(Municipality, admin.municipality_id)
    db.refresh(m)
    assert (m.phone, m.iban, m.bic) == ("(03535) 482-0", "DE89370400440532013000", "COBADEFFXXX")
    (event,) = events(db, m.id)
    assert event.action == "municipality_updated" and event.target == "municipality"
    assert event.actor_name == "Anna Admin"
    assert event.before == {
        "phone": "(03535) 482-253",
        "iban": "DE54180510000000012345",
        "bic": "WELADED1EES",
    }
    assert event.after == {
        "phone": "(03535) 482-0",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
    }
    # Saving again unchanged records nothing.
    r = client.post("/admin/municipality", data=settings_form(client))
    assert "Es gab nichts zu ändern" in r.text and len(events(db, m.id)) == 1


def test_invalid_settings_are_listed_and_nothing_is_saved(client, db, admin):
    login(client, "admin")
    form = settings_form(client)
    form.update(
        name="",
        postal_code="4916",
        email="steueramt-at-herzberg",
        iban="DE89 3704 0044 0532 0130 01",
        creditor_id="DE98ZZZ0999",
        case_prefix="hst1",
    )
    r = client.post("/admin/municipality", data=form)
    assert r.status_code == 400
    summary = r.text.split('class="error-summary"')[1].split("</ul>")[0]
    for anchor in ("name", "postal_code", "email", "iban", "creditor_id", "case_prefix"):
        assert f'href="#{anchor}"' in summary
    assert "Geben Sie „Name der Gemeinde“ an." in r.text
    assert "Die IBAN ist ungültig" in r.text
    assert "DEkkZZZ" in r.text and "2 bis 8 Großbuchstaben" in r.text
    assert r.text.count("form-group-error") >= 6
    assert 'value="steueramt-at-herzberg"' in r.text  # the input is kept for correction
    m = db.get(Municipality, admin.municipality_id)
    db.refresh(m)
    assert m.name == "Stadt Herzberg (Elster)" and m.case_prefix == "HST"
    assert events(db, m.id) == []


def test_bic_must_match_the_iban(client, db, admin):
    login(client, "admin")
    form = settings_form(client)
    form.update(iban="DE89370400440532013000", bic="WELADED1EES")
    r = client.post("/admin/municipality", data=form)
    assert r.status_code == 400 and "Die BIC passt nicht zur IBAN" in r.text


def test_logo_upload_is_sniffed_limited_embedded_in_letters_and_removable(client, db, admin):
    login(client, "admin")
    form = settings_form(client)
    r = client.post(
        "/admin/municipality", data=form, files={"logo": ("wappen.png", png(), "image/png")}
    )
    assert r.status_code == 200 and "Logo" in r.text
    assert 'src="data:image/png;base64,' in r.text
    m = db.get(Municipality, admin.municipality_id)
    db.refresh(m)
    assert m.logo == png() and m.logo_media_type == "image/png"
    head = letterhead(m)
    assert head["logo_uri"].startswith("data:image/png;base64,") and "logo" not in head
    (event,) = events(db, m.id)
    assert event.before == {"logo": None}
    assert (
        event.after["logo"]["media_type"] == "image/png"
        and len(event.after["logo"]["sha256"]) == 64
    )

    # Named .png but HTML; a GIF; too large: all refused with a message at the field.
    for name, content, message in (
        ("logo.png", b"<html><script>alert(1)</script></html>", "PNG- oder JPEG-Datei"),
        ("logo.gif", b"GIF89a" + b"\x00" * 50, "PNG- oder JPEG-Datei"),
        ("big.png", png() + b"\x00" * (200 * 1024), "höchstens 200 KB"),
    ):
        r = client.post(
            "/admin/municipality",
            data=settings_form(client),
            files={"logo": (name, content, "image/png")},
        )
        assert r.status_code == 400 and message in r.text and 'href="#logo"' in r.text

    form = settings_form(client)
    r = client.post("/admin/municipality", data={**form, "remove_logo": "yes"})
    assert r.status_code == 200
    db.refresh(m)
    assert m.logo is None and letterhead(m)["logo_uri"] == ""
    assert events(db, m.id)[-1].after == {"logo": None}


def test_logo_appears_in_the_letter_pdf_but_not_in_the_embedded_json():
    import base64

    from pypdf import PdfReader

    from services.documents.receipt import receipt_data, render_receipt
    from tests.services.documents.test_receipt_pdf import receipt_context

    context = receipt_context()
    context["municipality"] = {
        **context["municipality"],
        "logo_uri": "data:image/png;base64," + base64.b64encode(png(40)).decode(),
    }
    assert "logo_uri" not in receipt_data(context)["municipality"]
    reader = PdfReader(io.BytesIO(render_receipt(context)))
    images = [img for page in reader.pages for img in page.images]
    assert images, "the logo is drawn in the PDF"
    context["municipality"]["logo_uri"] = ""
    reader = PdfReader(io.BytesIO(render_receipt(context)))
    assert not [img for page in reader.pages for img in page.images]


def rate_form(client, year: int) -> dict[str, str]:
    page = client.get(f"/admin/municipality/rates/{year}")
    assert page.status_code == 200
    return {"csrf_token": csrf_of(page.text)}


def test_admin_creates_a_rate_table_for_a_new_year(client, db, admin):
    login(client, "admin")
    year = date.today().year + 3
    page = client.get(f"/admin/municipality/rates/{year}")
    assert page.status_code == 200 and f"Satztabelle {year} anlegen" in page.text
    # Prefilled from the latest earlier table (Herzberg demo rates).
    assert "36,00\n48,00\n60,00" in page.text and 'value="180,00"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "model": "by_order",
        "rates": "40,00\n55\n70.50",
        "dangerous_rate": "600",
        "due_dates": "15.02., 15.08.",
        "reduction_shelter_dog_percent": "50",
        "reduction_shelter_dog_months": "24",
        "reduction_disabled_keeper_percent": "100",
        "counts_dangerous": "yes",
    }
    r = client.post(f"/admin/municipality/rates/{year}", data=form)
    assert r.status_code == 200 and f"Die Steuersätze für {year} sind gespeichert" in r.text
    row = db.exec(
        select(DogTaxRateTable).where(
            DogTaxRateTable.municipality_id == admin.municipality_id, DogTaxRateTable.year == year
        )
    ).one()
    assert row.data == {
        "year": year,
        "model": "by_order",
        "rates": ["40.00", "55.00", "70.50"],
        "dangerous_rate": "600.00",
        "due_dates": [[2, 15], [8, 15]],
        "reductions": {
            "disabled_keeper": {"percent": "100"},
            "shelter_dog": {"percent": "50", "months": 24},
        },
        "counts_dangerous": True,
        "counts_exempt": False,
    }
    assert RateTable.from_dict(row.data).rates[2] == RateTable.from_dict(row.data).rate_for(5)
    (event,) = events(db, admin.municipality_id)
    assert (event.action, event.target) == ("rate_table_created", f"rate_table:{year}")
    assert event.before == {} and event.after == row.data
    # Editing: before/after hold the changed keys only.
    r = client.post(f"/admin/municipality/rates/{year}", data={**form, "dangerous_rate": "650,00"})
    assert r.status_code == 200
    last = events(db, admin.municipality_id)[-1]
    assert last.action == "rate_table_saved"
    assert (last.before, last.after) == ({"dangerous_rate": "600.00"}, {"dangerous_rate": "650.00"})
    listing = client.get("/admin/municipality")
    assert f'href="/admin/municipality/rates/{year}"' in listing.text
    assert "<td>Steuersätze geändert</td>" in listing.text  # the change log on the page


def test_invalid_rate_table_lists_every_problem_and_is_never_stored(client, db, admin):
    login(client, "admin")
    year = date.today().year + 3
    form = {
        **rate_form(client, year),
        "model": "",
        "rates": "36,00\nabc\n-5\n1,234",
        "dangerous_rate": "",
        "due_dates": "31.02., 15.5., morgen, 15.05.",
        "reduction_shelter_dog_percent": "150",
        "reduction_working_dog_percent": "50",
        "reduction_working_dog_months": "x",
        "reduction_low_income_months": "12",
    }
    r = client.post(f"/admin/municipality/rates/{year}", data=form)
    assert r.status_code == 400
    summary = r.text.split('class="error-summary"')[1].split("</ul>")[0]
    for message in (
        "Wählen Sie, wie sich der Steuersatz",
        "Zeile 2 der Steuersätze („abc“) ist kein Betrag.",
        "Zeile 3 der Steuersätze („-5“) ist kein Betrag.",
        "Zeile 4 der Steuersätze hat mehr als zwei Nachkommastellen.",
        "Geben Sie den Steuersatz für gefährliche Hunde an.",
        f"Den Tag 31.02. gibt es im Jahr {year} nicht.",
        "„morgen“ ist kein Fälligkeitstag",
        "Jeder Fälligkeitstag darf nur einmal vorkommen.",
        "Hund aus einem Tierheim: Der Prozentsatz muss eine Zahl von 0 bis 100 sein.",
        "Die Dauer muss eine ganze Zahl von 1 bis 600 Monaten sein.",
        "Geben Sie den Prozentsatz an oder leeren Sie die Monate.",
    ):
        assert message in summary, message
    assert (
        'id="reduction_shelter_dog_percent" name="reduction_shelter_dog_percent" type="text" '
        'inputmode="decimal" value="150"' in r.text
    )
    assert db.exec(select(DogTaxRateTable).where(DogTaxRateTable.year == year)).first() is None
    assert events(db, admin.municipality_id) == []
    # Out-of-range years do not exist.
    assert client.get("/admin/municipality/rates/1999").status_code == 404


def test_clerks_may_not_open_the_admin_area(client, clerk):
    login(client, "clerk")
    for url in (
        "/admin/municipality",
        f"/admin/municipality/rates/{date.today().year}",
        "/admin/users",
    ):
        r = client.get(url)
        assert r.status_code == 403 and "der Administration vorbehalten" in r.text
    token = csrf_of(client.get("/office/").text)
    r = client.post("/admin/municipality", data={"csrf_token": token, "name": "Gekapert"})
    assert r.status_code == 403


def test_admin_posts_need_the_csrf_token(client, db, admin):
    login(client, "admin")
    form = settings_form(client)
    r = client.post("/admin/municipality", data={**form, "csrf_token": "forged", "phone": "1"})
    assert r.status_code == 400
    assert events(db, admin.municipality_id) == []


def test_rate_change_leaves_issued_notices_unchanged(client, db, clerk, admin):
    from services.cases.models import Case, Document

    reference = reference_of(file_registration(client).text)
    login(client, "clerk")
    to_review(client, reference)
    assert act(client, reference, "approve").status_code == 200
    case = db.exec(select(Case).where(Case.reference == reference)).one()
    notice = db.exec(
        select(Document).where(Document.case_id == case.id, Document.kind == "notice")
    ).one()
    content, sha, meta = notice.content, notice.sha256, dict(notice.meta)

    client.cookies.clear()
    login(client, "admin")
    this_year, next_year = date.today().year, date.today().year + 1
    for year in (next_year, this_year):
        form = {
            **rate_form(client, year),
            "model": "by_count",
            "rates": "99,00\n120,00",
            "dangerous_rate": "900,00",
            "due_dates": "15.02., 15.05., 15.08., 15.11.",
        }
        assert client.post(f"/admin/municipality/rates/{year}", data=form).status_code == 200

    db.expire_all()
    docs = list(db.exec(select(Document).where(Document.case_id == case.id)))
    (same,) = [d for d in docs if d.kind == "notice"]
    assert (same.content, same.sha256, same.meta) == (content, sha, meta)
    client.cookies.clear()
    login(client, "clerk")
    r = client.get(f"/office/cases/{reference}/documents/{same.id}")
    assert r.status_code == 200 and r.content == content
    # The audit chains (case and admin) still verify.
    assert verify(db)[1] == []
