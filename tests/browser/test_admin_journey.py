"""An administrator's journey in real headless Chromium: a new draft of the dog registration
with a changed field label (saved and checked, step preview with its error state, diff, a
broken YAML with the error summary, fixed and published), a field added to the next draft in
the form editor (moved up, seen in the preview), a changed dog-tax rate (saved, and
an invalid value refused), and a citizen who then sees the new rate and the new label.
axe-core checks every admin page visited, error states included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.timeutil import today_local
from tests.browser.conftest import DEMO_PASSWORD, assert_accessible, screenshot
from tests.browser.test_portal_journeys import CONTINUE, KEEPER, URL, begin, step

FIM = Path(__file__).parent.parent / "forms" / "fixtures" / "fim"
FIM_FILES = ("hundehaltung_v2.xml", "codeliste_hunderasse.xml", "codeliste_geschlecht_tier.xml")

pytestmark = pytest.mark.browser

PROC = "dog_registration"
OLD_LABEL = 'label: {de: "Rufname des Hundes"'
NEW_LABEL = 'label: {de: "Name Ihres Hundes"'
STATUS = {"draft": "Entwurf", "published": "veröffentlicht", "retired": "abgelöst"}


# --- helpers ----------------------------------------------------------------------------------


def admin_login(page, base: str) -> None:
    page.goto(f"{base}/office/")
    assert "/office/login" in page.url
    page.fill("#username", "administration")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Anmelden')")
    assert "/office/login" not in page.url
    assert "Anja Vogel" in page.locator("nav[aria-label=Konto]").inner_text()


def admin_nav(page, label: str, path: str) -> None:
    page.locator("nav.admin-nav").get_by_role("link", name=label, exact=True).click()
    assert page.url.split("?")[0].split("#")[0].endswith(path), page.url
    assert page.locator("nav.admin-nav a[aria-current=page]").inner_text() == label


def version_statuses(page) -> dict[int, str]:
    """Version number -> status label, from the dog registration's card on the list."""
    card = page.locator(f"section.card:has(h2#p-{PROC})")
    found = {}
    for row in card.locator("tbody tr").all():
        number = re.search(r"Version (\d+)", row.locator("td").nth(0).inner_text())
        found[int(number.group(1))] = row.locator("td .tag").inner_text().strip()
    return found


def flash(page) -> str:
    return page.locator(".notice-banner").inner_text()


def editor_yaml(page) -> str:
    return page.input_value("#form_yaml")


def save_editor(page, action: str = "save") -> None:
    label = "Speichern und prüfen" if action == "save" else "Prüfen und veröffentlichen"
    page.get_by_role("button", name=label, exact=True).click()


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- the journey ------------------------------------------------------------------------------


def test_admin_changes_label_and_rate_and_a_citizen_sees_both(live_server, page, new_context):
    page.set_default_timeout(10_000)
    base = live_server
    year = today_local().year

    # 1. Procedures: version 1 is published; a draft from it.
    admin_login(page, base)
    page.locator("nav[aria-label=Bereiche]").get_by_role("link", name="Administration").click()
    assert page.url.endswith("/admin/")
    assert page.locator("h1").inner_text() == "Administration"
    assert_accessible(page)  # the overview
    admin_nav(page, "Verfahren", "/admin/procedures")
    assert page.locator("h1").inner_text() == "Verfahren und Versionen"
    assert version_statuses(page) == {1: STATUS["published"]}
    assert_accessible(page)

    page.locator(f"section.card:has(h2#p-{PROC})").get_by_role(
        "link", name="Version 1", exact=True
    ).click()
    assert page.url.endswith(f"/admin/procedures/{PROC}/versions/1")
    assert page.get_attribute("#form_yaml", "readonly") is not None  # published: read only
    assert page.get_by_role("button", name="Speichern und prüfen").count() == 0
    assert_accessible(page)  # published version page

    page.get_by_role("button", name="Neuen Entwurf aus dieser Version anlegen").click()
    assert page.url.endswith(f"/admin/procedures/{PROC}/versions/2")
    assert flash(page) == "Entwurf Version 2 angelegt."
    assert "Entwurf" in page.locator("h1 .tag").inner_text()
    assert page.get_attribute("#form_yaml", "readonly") is None
    assert_accessible(page)  # draft version page

    # The dog's name gets a new label; saving checks it.
    original = editor_yaml(page)
    assert OLD_LABEL in original
    changed = original.replace(OLD_LABEL, NEW_LABEL)
    page.fill("#form_yaml", changed)
    save_editor(page)
    assert page.url.endswith(f"/admin/procedures/{PROC}/versions/2")
    assert "Gespeichert. Keine Probleme gefunden." in flash(page)
    assert page.locator(".error-summary").count() == 0
    assert editor_yaml(page) == changed
    assert_accessible(page)
    screenshot(page, "admin-version-editor")

    # The step preview shows the new label, and its error state when sent empty.
    page.get_by_role("link", name="Schritt „Angaben zum Hund“ ansehen").click()
    assert page.url.endswith("/versions/2/preview/dog")
    assert "Vorschau: Version 2" in page.locator(".preview-banner").inner_text()
    assert page.locator("label[for=dog_name]").inner_text().strip() == "Name Ihres Hundes"
    assert "Rufname des Hundes" not in page.locator("main").inner_text()
    assert_accessible(page)  # step preview
    page.click(CONTINUE)
    assert page.url.endswith("/versions/2/preview/dog")  # nothing stored, no next step
    assert page.title().startswith("Fehler:")
    summary = page.locator(".error-summary")
    assert summary.locator("a[href='#dog_name']").count() == 1
    assert page.get_attribute("#dog_name", "aria-invalid") == "true"
    assert page.locator("#dog_name-error").is_visible()
    assert_accessible(page)  # step preview, error state
    screenshot(page, "admin-step-preview-errors")

    # The diff shows the changed line.
    page.goto(f"{base}/admin/procedures/{PROC}/versions/2")
    page.get_by_role("link", name="Unterschiede ansehen").click()
    assert page.url.endswith(f"/admin/procedures/{PROC}/diff?a=1&b=2")
    assert page.locator("h1").inner_text() == "Unterschiede zwischen Version 1 und 2"
    # Besides the label, only the version numbers of the texts differ (a draft carries its own).
    removed = [
        t
        for t in page.locator(".diff .diff-del").all_inner_texts()
        if not t.startswith("-version:")
    ]
    added = [
        t
        for t in page.locator(".diff .diff-add").all_inner_texts()
        if not t.startswith("+version:")
    ]
    assert any(OLD_LABEL in line for line in removed), removed
    assert any(NEW_LABEL in line for line in added), added
    assert len(removed) == 1 and len(added) == 1, (removed, added)
    assert_accessible(page)  # diff

    # A broken YAML: the error summary names the line; nothing is published.
    page.get_by_role("link", name="Zurück zu Version 2").click()
    assert editor_yaml(page) == changed
    broken = changed.replace("steps:", "steps: [", 1)
    page.fill("#form_yaml", broken)
    save_editor(page)
    assert page.title().startswith("Fehler:")
    summary = page.locator(".error-summary")
    assert "so kann die Version nicht veröffentlicht werden" in summary.inner_text()
    problems = summary.locator("li").all_inner_texts()
    assert any(re.search(r"Formular, Zeile \d+", p) for p in problems), problems
    assert any("kein gültiges YAML" in p for p in problems), problems
    assert summary.locator("a[href='#form_yaml']").count() >= 1
    assert editor_yaml(page) == broken  # what was typed stays
    assert page.locator(".preview-links").count() == 0  # no preview of a broken draft
    assert_accessible(page)  # draft with errors
    screenshot(page, "admin-version-editor-errors")
    summary.locator("a[href='#form_yaml']").first.click()
    assert page.evaluate("document.activeElement.id") == "form_yaml"

    # An unknown field type is reported at its own line.
    wrong_type = changed.replace("{id: dog_name, type: text", "{id: dog_name, type: textt")
    page.fill("#form_yaml", wrong_type)
    save_editor(page, "publish")
    problems = page.locator(".error-summary li").all_inner_texts()
    line = line_of(wrong_type, "id: dog_name")
    assert any(f"Formular, Zeile {line}" in p and "textt" in p for p in problems), problems

    # Fixed and published.
    page.fill("#form_yaml", changed)
    save_editor(page, "publish")
    assert page.url.endswith(f"/admin/procedures/{PROC}/versions/2")
    assert "Version 2 ist veröffentlicht" in flash(page)
    assert "veröffentlicht" in page.locator("h1 .tag").inner_text()
    assert page.get_attribute("#form_yaml", "readonly") is not None
    assert_accessible(page)  # the newly published version

    admin_nav(page, "Verfahren", "/admin/procedures")
    assert version_statuses(page) == {1: STATUS["retired"], 2: STATUS["published"]}

    # The form editor: a draft version 3; a field added (a wrong limit first), moved up with
    # the keyboard, seen in the step preview and in the YAML view.
    page.locator(f"section.card:has(h2#p-{PROC})").get_by_role(
        "link", name="Version 2", exact=True
    ).click()
    page.get_by_role("button", name="Neuen Entwurf aus dieser Version anlegen").click()
    assert page.url.endswith(f"/admin/procedures/{PROC}/versions/3")
    page.get_by_role("link", name="Formular im Editor bearbeiten").click()
    assert page.url.endswith("/versions/3/form")
    assert page.locator("h1").inner_text() == "Formular bearbeiten"
    assert_accessible(page)  # form editor overview
    page.select_option("#new-field-dog", "integer")
    page.get_by_role("button", name="Feld hinzufügen in Schritt „Angaben zum Hund“").click()
    assert page.url.endswith("/versions/3/form/steps/dog/new-field?type=integer")
    assert_accessible(page)  # new field page
    page.fill("#id", "dog_weight")
    page.fill("#label_de", "Gewicht Ihres Hundes in kg")
    page.fill("#label_en", "Your dog's weight in kg")
    page.check("#required")
    page.fill("#max", "viel")
    page.get_by_role("button", name="Feld hinzufügen", exact=True).click()
    assert page.title().startswith("Fehler:")
    assert page.locator(".error-summary a[href='#max']").inner_text() == (
        "Geben Sie eine ganze Zahl ein."
    )
    assert page.get_attribute("#max", "aria-invalid") == "true"
    assert page.input_value("#label_de") == "Gewicht Ihres Hundes in kg"  # what was typed stays
    assert_accessible(page)  # new field page, error state
    screenshot(page, "admin-form-editor-field-errors")
    page.fill("#max", "120")
    page.get_by_role("button", name="Feld hinzufügen", exact=True).click()
    assert page.url.endswith("/versions/3/form#field-dog-dog_weight")
    assert flash(page) == "Feld hinzugefügt."

    def dog_fields() -> list[str]:
        return page.locator("#step-dog tbody tr").evaluate_all("rows => rows.map(r => r.id)")

    assert dog_fields()[-1] == "field-dog-dog_weight"
    up = page.get_by_role("button", name="nach oben (Feld „Gewicht Ihres Hundes in kg“)")
    up.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert flash(page) == "Feld „Gewicht Ihres Hundes in kg“ nach oben verschoben."
    assert dog_fields()[-2:] == ["field-dog-dog_weight", "field-dog-previous_keeper_address"]
    assert_accessible(page)  # form editor overview after a change
    screenshot(page, "admin-form-editor")
    page.get_by_role("link", name="Vorschau von Schritt „Angaben zum Hund“").click()
    assert page.url.endswith("/versions/3/preview/dog")
    assert page.locator("label[for=dog_weight]").inner_text().strip() == (
        "Gewicht Ihres Hundes in kg"
    )
    assert_accessible(page)  # step preview with the new field
    page.goto(f"{base}/admin/procedures/{PROC}/versions/3")
    assert "id: dog_weight, type: integer" in editor_yaml(page)

    # 2. Rates: this year's table, one dog 36,00 -> 42,00; then an invalid amount.
    admin_nav(page, "Gemeinde und Steuersätze", "/admin/municipality")
    assert_accessible(page)  # municipality page
    page.click(f"a[href='/admin/municipality/rates/{year}']")
    assert page.url.endswith(f"/admin/municipality/rates/{year}")
    assert page.locator("h1").inner_text().endswith(f"Satztabelle {year}")
    assert_accessible(page)  # rate table
    rates = page.input_value("#rates").splitlines()
    assert rates[0] == "36,00", rates
    page.fill("#rates", "\n".join(["42,00", *rates[1:]]))
    page.get_by_role("button", name=f"Satztabelle {year} speichern").click()
    assert page.url.endswith("/admin/municipality#rate-tables")
    assert f"Die Steuersätze für {year} sind gespeichert." in flash(page)
    row = page.locator("table tbody tr", has=page.locator(f"th:text-is('{year}')"))
    assert row.locator("td.num").first.inner_text().startswith("42,00\xa0€")

    page.click(f"a[href='/admin/municipality/rates/{year}']")
    assert page.input_value("#rates").splitlines()[0] == "42,00"
    page.fill("#rates", "\n".join(["-5", *rates[1:]]))
    page.get_by_role("button", name=f"Satztabelle {year} speichern").click()
    assert page.title().startswith("Fehler:") or page.locator(".error-summary").count() == 1
    summary = page.locator(".error-summary")
    assert "Zeile 1 der Steuersätze („-5“) ist kein Betrag." in summary.inner_text()
    assert page.get_attribute("#rates", "aria-invalid") == "true"
    assert "rates-error" in page.get_attribute("#rates", "aria-describedby")
    assert page.input_value("#rates").splitlines()[0] == "-5"  # what was typed stays
    assert_accessible(page)  # rate table with errors
    page.goto(f"{base}/admin/municipality/rates/{year}")
    assert page.input_value("#rates").splitlines()[0] == "42,00"  # nothing stored

    # 3. The rest of the admin area.
    admin_nav(page, "Benutzerkonten", "/admin/users")
    assert "Anja Vogel" in page.locator("table").inner_text()
    assert_accessible(page)  # users
    page.get_by_role("link", name="Benutzerkonto anlegen").click()
    assert page.url.endswith("/admin/users/new")
    assert_accessible(page)  # new user form
    admin_nav(page, "Statistik", "/admin/statistics")
    assert_accessible(page)  # statistics
    screenshot(page, "admin-statistics")
    admin_nav(page, "FIM-Import", "/admin/fim-import")
    assert_accessible(page)  # FIM import
    # A schema with its code lists: the job worker reads it; the page is reloaded until done.
    page.set_input_files("#schema_file", [FIM / n for n in FIM_FILES])
    page.get_by_role("button", name="Schema übersetzen").click()
    assert re.search(r"/admin/fim-import/\d+$", page.url)
    assert_accessible(page)  # progress or result
    for _ in range(40):
        if page.locator("pre.code-output").count():
            break
        page.wait_for_timeout(250)
        page.get_by_role("link", name="Seite neu laden").click()
    assert "Codeliste hunderasse (9 Werte)" in page.locator("main table").inner_text()
    assert_accessible(page)  # FIM import result
    page.set_input_files("#schema_file", FIM / "wrong_namespace.xml")
    page.get_by_role("button", name="Schema übersetzen").click()
    for _ in range(40):
        if page.locator(".error-summary").count():
            break
        page.wait_for_timeout(250)
        page.get_by_role("link", name="Seite neu laden").click()
    assert "Namensraum" in page.locator(".error-summary").inner_text()
    assert_accessible(page)  # FIM import refused

    # 4. A citizen sees the new label and, on the start page, this year's new rate.
    citizen = new_context().new_page()
    citizen.set_default_timeout(10_000)
    citizen.goto(f"{base}{URL}")
    costs = citizen.locator("main table").first
    caption, costs_text = costs.locator("caption").inner_text(), costs.inner_text()
    begin(citizen, base)
    step(citizen, KEEPER, "/steps/dog")
    assert citizen.locator("label[for=dog_name]").inner_text().strip() == "Name Ihres Hundes"
    assert "Rufname des Hundes" not in citizen.locator("main").inner_text()
    # Checked last so that everything above is verified even while this fails: the start page
    # must show the rates that apply now (this year's table), not the latest year on file.
    assert caption == f"Hundesteuersätze {year}", (
        f"start page shows {caption!r}, not this year's table ({year}): {costs_text!r}"
    )
    assert "bei einem Hund\t42,00\xa0€" in costs_text, costs_text
