"""Citizen journeys through the portal in real headless Chromium: evidence uploads, a reduction
with its shelter evidence, joint keepers, save and resume on another device, the language
switch, and every portal page in German and English. axe-core checks each page visited,
error states included (the count is printed at the end of the session)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.browser.conftest import (
    DEMO_PASSWORD,
    assert_accessible,
    fill_step,
    screenshot,
)
from tests.conftest import PDF

pytestmark = pytest.mark.browser

URL = "/herzberg-elster/hund-anmelden"
CONTINUE = "button[name=action][value=continue]"
SAVE = "button[name=action][value=save]"
REFUSED_DE = "Diese Datei können wir nicht annehmen."

KEEPER = {
    "given_names": "Erika",
    "family_name": "Mustermann",
    "birth_date": "12.08.1980",
    "street": "Torgauer Straße",
    "house_number": "12",
    "postal_code": "04916",
    "town": "Herzberg (Elster)",
    "email": "erika@example.org",
    "joint_keeping": "no",
    "moved_in": "no",
}
DANGEROUS_DETAILS = {
    "dangerous_decision_date": "02.02.2026",
    "dangerous_file_number": "32.1-GH-17/2026",
    "permit_number": "32.1-E-4/2026",
    "insurer": "Elster Versicherung",
    "policy_number": "HV-123456",
}
SEPA = {
    "account_holder_differs": "no",
    "iban": "DE89 3704 0044 0532 0130 00",
    "mandate_place": "Herzberg (Elster)",
    "sepa_consent": "yes",
}
DECLARATIONS = {"privacy_read": "yes", "truthful": "yes"}


def dog(chip: str, **overrides: str) -> dict[str, str]:
    """The dog step; every filing needs its own chip number (they are unique)."""
    return {
        "dog_name": "Bello",
        "breed": "Mischling (Schäferhund)",
        "colour": "schwarz-braun",
        "sex": "male",
        "dog_birth_date": "01.06.2021",
        "chip_number": chip,
        "intake_date": "14.05.2026",
        "acquired_from_person": "no",
        **overrides,
    }


def pdf(directory: Path, name: str) -> Path:
    """A small real PDF; the name goes into the content so that every file hashes apart."""
    path = directory / name
    path.write_bytes(PDF + f"% {name}\n".encode())
    return path


def begin(page, base: str) -> None:
    page.goto(f"{base}{URL}")
    page.click(f"form[action='{URL}/start'] button")
    assert page.url.endswith("/steps/keeper")


def step(page, values: dict[str, str], expect: str | None = None) -> None:
    """Fill a step and continue; ``expect``: the path the browser must land on."""
    fill_step(page, values)
    page.click(CONTINUE)
    if expect:
        assert page.url.split("?")[0].endswith(expect), page.url


def listed(page, field: str) -> list[str]:
    return page.locator(f"#{field}-group .file-name").all_inner_texts()


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def submit_filing(page) -> str:
    assert page.url.endswith("/check")
    page.click(f"form[action='{URL}/submit'] button")
    assert page.url.endswith("/confirmation")
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"HST-\d{4}-\d{6}", reference)
    return reference


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(path).pages).replace("\xa0", " ")


# --- 1. dangerous dog with evidence -----------------------------------------------------------


def test_dangerous_dog_with_evidence_uploads_and_receipt(live_server, page, tmp_path):
    begin(page, live_server)
    step(page, KEEPER, "/steps/dog")
    step(page, dog("276 0981 0077 0001"), "/steps/dangerous")
    step(page, {"declared_dangerous": "yes"}, "/steps/dangerous_details")

    decision = pdf(tmp_path, "entscheidung-ordnungsbehoerde.pdf")
    permit = pdf(tmp_path, "erlaubnis.pdf")
    insurance = pdf(tmp_path, "versicherung.pdf")
    (tmp_path / "fake").mkdir()
    fake = tmp_path / "fake" / "erlaubnis.pdf"
    fake.write_text("<!DOCTYPE html><html><body><p>Keine Erlaubnis</p></body></html>")

    # A web page renamed to .pdf is refused; the two real files are kept.
    fill_step(page, DANGEROUS_DETAILS)
    page.set_input_files("#dangerous_decision_file", decision)
    page.set_input_files("#permit_file", fake)
    page.set_input_files("#insurance_file", insurance)
    page.click(CONTINUE)
    assert page.title().startswith("Fehler:")
    summary = page.locator(".error-summary")
    assert REFUSED_DE in summary.inner_text()
    assert "Entscheidend ist der Inhalt der Datei, nicht ihr Name." in summary.inner_text()
    assert REFUSED_DE in page.locator("#permit_file-error").inner_text()
    assert page.get_attribute("#permit_file", "aria-invalid") == "true"
    assert "permit_file-error" in page.get_attribute("#permit_file", "aria-describedby")
    assert listed(page, "dangerous_decision_file") == ["entscheidung-ordnungsbehoerde.pdf"]
    assert listed(page, "insurance_file") == ["versicherung.pdf"]
    assert listed(page, "permit_file") == []
    assert page.input_value("#insurer") == "Elster Versicherung"  # typed answers stay
    assert_accessible(page)
    screenshot(page, "de-dangerous-details-upload-error")
    summary.locator("a[href='#permit_file']").click()
    assert focused_id(page) == "permit_file"

    # The real permit through the slot's own upload button.
    page.set_input_files("#permit_file", permit)
    page.click("button[name=action][value='upload:permit_file']")
    assert listed(page, "permit_file") == ["erlaubnis.pdf"]
    assert page.locator(".error-summary").count() == 0
    assert_accessible(page)

    # One step back and forward again: the files are still there.
    page.click(".back-link")
    assert page.url.endswith("/steps/dangerous")
    assert page.is_checked("input[name=declared_dangerous][value=yes]")
    page.click(CONTINUE)
    assert page.url.endswith("/steps/dangerous_details")
    assert listed(page, "dangerous_decision_file") == ["entscheidung-ordnungsbehoerde.pdf"]
    assert listed(page, "permit_file") == ["erlaubnis.pdf"]
    assert listed(page, "insurance_file") == ["versicherung.pdf"]
    assert page.input_value("#permit_number") == "32.1-E-4/2026"

    # Remove one file, then upload it again (with "Weiter", which stores chosen files first).
    page.click("#insurance_file-group button[value^='remove_upload:']")
    assert listed(page, "insurance_file") == []
    assert page.locator("#insurance_file").is_visible()
    assert_accessible(page)
    page.set_input_files("#insurance_file", insurance)
    page.click(CONTINUE)

    # A dangerous dog gets no reduction: the next step is payment.
    assert page.url.endswith("/steps/payment")
    step(page, {"payment_method": "transfer", "payment_interval": "annual"}, "/steps/declarations")
    step(page, DECLARATIONS, "/check")
    content = page.locator("main").inner_text()
    for name in ("entscheidung-ordnungsbehoerde.pdf", "erlaubnis.pdf", "versicherung.pdf"):
        assert name in content
    reference = submit_filing(page)
    # The job worker renders the receipt; until then the page says so, with a reload link.
    for _ in range(60):
        if page.locator("a:has-text('Eingangsbestätigung herunterladen')").count():
            break
        assert "wird erstellt" in page.locator("main").inner_text()
        assert_accessible(page)
        page.wait_for_timeout(500)
        page.click("a:has-text('Seite neu laden')")
    with page.expect_download() as download_info:
        page.click("a:has-text('Eingangsbestätigung herunterladen')")
    receipt = tmp_path / "eingangsbestaetigung.pdf"
    download_info.value.save_as(receipt)
    text = pdf_text(receipt)
    assert "Eingangsbestätigung" in text and reference in text
    compact = re.sub(r"\s+", "", text)  # names and hashes may break across lines
    for path in (decision, permit, insurance):
        assert path.name in compact, path.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() in compact.lower(), path.name
    fake_hash = hashlib.sha256(fake.read_bytes()).hexdigest()
    assert fake_hash not in compact.lower()


# --- 2. reduction with shelter evidence -------------------------------------------------------


def test_reduction_for_shelter_dog_reveals_only_shelter_evidence(live_server, page, tmp_path):
    begin(page, live_server)
    step(page, KEEPER, "/steps/dog")
    step(page, dog("276 0981 0077 0002"), "/steps/dangerous")
    step(page, {"declared_dangerous": "no"}, "/steps/reduction")

    evidence = [
        "evidence_disability_pass",
        "evidence_assistance_dog",
        "evidence_shelter",
        "evidence_service_dog",
        "evidence_working_dog",
        "evidence_low_income",
    ]
    assert page.locator("#reduction_reason-group").is_hidden()
    for field in evidence:
        assert page.locator(f"#{field}-group").is_hidden(), field
    fill_step(page, {"reduction_requested": "yes", "reduction_reason": "shelter_dog"})
    assert page.locator("#reduction_reason-group").is_visible()
    assert page.locator("#evidence_shelter-group").is_visible()
    for field in evidence:
        if field != "evidence_shelter":
            assert page.locator(f"#{field}-group").is_hidden(), field
    assert page.locator("#reduction_valid_until-group").is_visible()
    # Choosing another reason swaps the slot; answering "no" hides reason and evidence alike.
    fill_step(page, {"reduction_reason": "assistance_dog"})
    assert page.locator("#evidence_shelter-group").is_hidden()
    assert page.locator("#evidence_assistance_dog-group").is_visible()
    fill_step(page, {"reduction_requested": "no"})
    assert page.locator("#reduction_reason-group").is_hidden()
    for field in evidence:
        assert page.locator(f"#{field}-group").is_hidden(), field
    fill_step(page, {"reduction_requested": "yes", "reduction_reason": "shelter_dog"})
    assert page.locator("#evidence_shelter-group").is_visible()
    assert_accessible(page)

    # Without the evidence: an error linked to the shelter upload; the answers stay.
    page.click(CONTINUE)
    summary = page.locator(".error-summary")
    assert summary.locator("a[href='#evidence_shelter']").count() == 1
    assert "Bescheinigung oder Vertrag des Tierheims" in summary.inner_text()
    assert page.locator("#evidence_shelter-error").is_visible()
    assert page.is_checked("input[name=reduction_reason][value=shelter_dog]")
    assert page.locator("#evidence_shelter-group").is_visible()
    assert page.locator("#evidence_low_income-group").is_hidden()
    assert_accessible(page)
    summary.locator("a[href='#evidence_shelter']").click()
    assert focused_id(page) == "evidence_shelter"

    page.set_input_files("#evidence_shelter", pdf(tmp_path, "tierheimvertrag.pdf"))
    page.click(CONTINUE)
    assert page.url.endswith("/steps/payment")
    step(page, {"payment_method": "direct_debit", "payment_interval": "quarterly"}, "/steps/sepa")
    step(page, SEPA, "/steps/declarations")
    step(page, DECLARATIONS, "/check")
    content = page.locator("main").inner_text()
    assert "Hund aus einem Tierheim" in content and "tierheimvertrag.pdf" in content
    submit_filing(page)
    assert_accessible(page)


# --- 3. joint keepers -------------------------------------------------------------------------


def test_joint_keepers_add_entry_and_fix_error(live_server, page):
    begin(page, live_server)
    assert page.locator("#co_keepers-group").is_hidden()
    fill_step(page, {**KEEPER, "joint_keeping": "yes"})
    assert page.locator("#co_keepers-group").is_visible()
    fill_step(
        page,
        {
            "co_keepers.0.given_names": "Max",
            "co_keepers.0.family_name": "Mustermann",
            "co_keepers.0.birth_date": "03.04.1979",
        },
    )
    page.click("button:has-text('Weiteren Eintrag hinzufügen')")
    items = page.locator("#co_keepers-group fieldset.group-item")
    assert items.count() == 2
    assert page.input_value("#co_keepers-0-given_names") == "Max"  # first entry kept
    assert page.input_value("#given_names") == "Erika"  # other answers kept
    assert page.is_checked("input[name=joint_keeping][value=yes]")
    assert "Weitere Halterin oder weiterer Halter 2" in items.nth(1).locator("legend").inner_text()
    assert_accessible(page)

    # Second entry without the family name.
    fill_step(page, {"co_keepers.1.given_names": "Lena", "co_keepers.1.birth_date": "09.09.2001"})
    page.click(CONTINUE)
    summary = page.locator(".error-summary")
    link = summary.locator("a[href='#co_keepers-1-family_name']")
    assert link.count() == 1
    assert "Familienname" in link.inner_text()
    assert page.get_attribute("#co_keepers-1-family_name", "aria-invalid") == "true"
    assert page.locator("#co_keepers-1-family_name-error").is_visible()
    assert page.input_value("#co_keepers-1-given_names") == "Lena"
    assert page.input_value("#co_keepers-0-family_name") == "Mustermann"
    assert_accessible(page)
    screenshot(page, "de-keeper-group-error")
    link.click()
    assert focused_id(page) == "co_keepers-1-family_name"

    page.fill("#co_keepers-1-family_name", "Mustermann")
    page.click(CONTINUE)
    assert page.url.endswith("/steps/dog")
    page.click(".back-link")
    assert page.input_value("#co_keepers-1-given_names") == "Lena"
    assert page.input_value("#co_keepers-1-family_name") == "Mustermann"
    # Remove the second entry again: one is left, and it cannot be removed.
    page.click("button[name=action][value='remove_item:co_keepers:1']")
    assert page.locator("#co_keepers-group fieldset.group-item").count() == 1
    assert page.locator("button[value^='remove_item:']").count() == 0
    page.click(CONTINUE)
    assert page.url.endswith("/steps/dog")


# --- 4. save and resume on another device -----------------------------------------------------


def _resume(new_context, link: str):
    """Open a resume link in a fresh context: no cookies, like another device."""
    page = new_context().new_page()
    page.goto(link)
    assert page.context.cookies() != []  # the session now knows the draft
    banner = page.locator(".notice-banner")
    assert "Willkommen zurück" in banner.inner_text()
    return page


def test_save_on_step_three_and_resume_in_new_context(live_server, page, new_context, tmp_path):
    begin(page, live_server)
    keeper = {
        **KEEPER,
        "phone": "03535 482253",
        "moved_in": "yes",
        "moved_in_date": "01.03.2026",
        "previous_municipality": "Bad Liebenwerda",
    }
    the_dog = dog(
        "276 0981 0077 0004",
        acquired_from_person="yes",
        previous_keeper_name="Hans Meier",
        previous_keeper_address="Lindenweg 3, 04916 Herzberg (Elster)",
        sex="female",
    )
    step(page, keeper, "/steps/dog")
    step(page, the_dog, "/steps/dangerous")
    fill_step(page, {"declared_dangerous": "no"})
    page.click(SAVE)
    assert page.locator("h1").inner_text() == "Ihre Angaben sind gespeichert"
    assert "erika@example.org" in page.locator("main").inner_text()
    link = page.locator(".status-link a").get_attribute("href")
    assert re.fullmatch(rf"{re.escape(live_server)}{URL}/resume/[\w\-]+", link), link
    assert_accessible(page)

    # Another device: the saved step-3 answer sends it on to step 4.
    other = _resume(new_context, link)
    assert other.url.endswith("/steps/reduction")
    assert_accessible(other)
    other.click(".back-link")
    assert other.url.endswith("/steps/dangerous")
    assert other.is_checked("input[name=declared_dangerous][value=no]")
    other.click(".back-link")
    assert other.url.endswith("/steps/dog")
    for name, value in the_dog.items():
        if name in ("sex", "acquired_from_person"):
            assert other.is_checked(f"input[name={name}][value={value}]"), name
        else:
            assert other.input_value(f"#{name}") == value, name
    other.click(".back-link")
    assert other.url.endswith("/steps/keeper")
    for name, value in keeper.items():
        if name in ("joint_keeping", "moved_in"):
            assert other.is_checked(f"input[name={name}][value={value}]"), name
        else:
            assert other.input_value(f"#{name}") == value, name
    assert other.locator("#previous_municipality").is_visible()

    # Forward again; upload the evidence and save once more.
    other.click(CONTINUE)
    other.click(CONTINUE)
    other.click(CONTINUE)
    assert other.url.endswith("/steps/reduction")
    fill_step(other, {"reduction_requested": "yes", "reduction_reason": "shelter_dog"})
    other.set_input_files("#evidence_shelter", pdf(tmp_path, "tierheimvertrag.pdf"))
    other.click("button[name=action][value='upload:evidence_shelter']")
    assert listed(other, "evidence_shelter") == ["tierheimvertrag.pdf"]
    other.click(SAVE)
    link2 = other.locator(".status-link a").get_attribute("href")

    # A third device sees the upload, finishes and files.
    third = _resume(new_context, link2)
    assert third.url.endswith("/steps/payment")  # reduction is complete now
    third.click(".back-link")
    assert third.url.endswith("/steps/reduction")
    assert third.is_checked("input[name=reduction_reason][value=shelter_dog]")
    assert listed(third, "evidence_shelter") == ["tierheimvertrag.pdf"]
    third.click(CONTINUE)
    step(third, {"payment_method": "transfer", "payment_interval": "quarterly"})
    step(third, DECLARATIONS, "/check")
    content = third.locator("main").inner_text()
    assert "Hans Meier" in content and "Bad Liebenwerda" in content
    assert "tierheimvertrag.pdf" in content
    submit_filing(third)


# --- 5. language switch -----------------------------------------------------------------------


def test_language_switch_mid_form_keeps_answers(live_server, page):
    # On a page without a form the header link switches.
    page.goto(f"{live_server}{URL}")
    assert page.get_attribute("html", "lang") == "de"
    page.click(".lang-nav a[hreflang=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.url.endswith(URL)
    assert page.locator("h1").inner_text() == "Register a dog for the dog tax"
    assert_accessible(page)
    page.click(".lang-nav a[hreflang=de]")
    assert page.get_attribute("html", "lang") == "de"
    assert page.locator("h1").inner_text() == "Hund zur Hundesteuer anmelden"

    begin(page, live_server)
    typed = {
        "given_names": "Erika",
        "family_name": "Mustermann",
        "street": "Torgauer Straße",
        "email": "erika@example.org",
        "joint_keeping": "no",
    }
    fill_step(page, typed)
    page.click("button[name=action][value='lang:en']")
    assert page.url.endswith("/steps/keeper")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator(CONTINUE).inner_text() == "Continue"
    assert page.locator("label[for=given_names]").inner_text() == "Given name(s)"
    assert page.locator("h1").inner_text() == "About the keeper"
    assert page.locator(SAVE).inner_text() == "Save and continue later"
    for name, value in typed.items():
        if name == "joint_keeping":
            assert page.is_checked(f"input[name={name}][value={value}]")
        else:
            assert page.input_value(f"#{name}") == value, name
    assert_accessible(page)

    # An error in English.
    page.fill("#postal_code", "4916")
    page.click(CONTINUE)
    assert page.title().startswith("Error:")
    summary = page.locator(".error-summary")
    text = summary.inner_text()
    assert "There is a problem" in text
    assert "Enter Date of birth." in text or "date of birth" in text.lower()
    assert "Bitte" not in text and "Postleitzahl" not in text
    assert page.locator("#postal_code-error").inner_text().startswith("Error:")
    assert_accessible(page)
    screenshot(page, "en-keeper-errors")

    # Back to German: answers and the error-free values are still there.
    page.click("button[name=action][value='lang:de']")
    assert page.get_attribute("html", "lang") == "de"
    assert page.locator(CONTINUE).inner_text() == "Weiter"
    assert page.locator("label[for=given_names]").inner_text() == "Vorname(n)"
    assert page.input_value("#given_names") == "Erika"
    assert page.input_value("#street") == "Torgauer Straße"
    assert_accessible(page)
    step(page, KEEPER, "/steps/dog")


# --- 6. every portal page in both languages ---------------------------------------------------


def _office(new_context, base: str):
    office = new_context().new_page()
    office.goto(f"{base}/office/login")
    office.fill("#username", "sachbearbeitung")
    office.fill("#password", DEMO_PASSWORD)
    office.click("button:has-text('Anmelden')")
    assert "/office/login" not in office.url
    return office


def _request_information(office, base: str, reference: str) -> None:
    office.goto(f"{base}/office/cases/{reference}")
    office.click("button:has-text('Vollständigkeit prüfen')")
    office.fill("#comment-request_information", "Bitte reichen Sie den Heimtierausweis nach.")
    office.click("button:has-text('Rückfrage an Antragsteller/in senden')")
    assert "Rückfrage" in office.locator(".tag").inner_text()


def _check(page, lang: str, shot: str | None = None) -> None:
    assert page.get_attribute("html", "lang") == lang, page.url
    assert_accessible(page)
    if shot:
        screenshot(page, f"{lang}-{shot}")


def _empty_then(page, lang: str, values: dict[str, str], expect: str) -> None:
    """Check a step, submit it empty (error state, checked too), then answer it."""
    _check(page, lang)
    page.click(CONTINUE)
    assert page.locator(".error-summary").is_visible(), page.url
    _check(page, lang)
    step(page, values, expect)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_portal_page_is_accessible(live_server, lang, new_context, tmp_path):
    base = live_server
    page = new_context().new_page()
    page.goto(f"{base}/sprache/{lang}?next=/")
    _check(page, lang, "home")
    page.goto(f"{base}{URL}")
    _check(page, lang, "start")
    page.click(f"form[action='{URL}/start'] button")

    chip = {"de": "276 0981 0077 0061", "en": "276 0981 0077 0062"}[lang]
    _empty_then(page, lang, KEEPER, "/steps/dog")
    _empty_then(page, lang, dog(chip), "/steps/dangerous")
    _empty_then(page, lang, {"declared_dangerous": "yes"}, "/steps/dangerous_details")
    _check(page, lang)
    page.click(CONTINUE)
    assert page.locator("#insurance_file-error").is_visible()
    _check(page, lang, "dangerous-details-errors")
    page.click(".back-link")
    step(page, {"declared_dangerous": "no"}, "/steps/reduction")
    _empty_then(page, lang, {"reduction_requested": "no"}, "/steps/payment")
    payment = {"payment_method": "direct_debit", "payment_interval": "quarterly"}
    _empty_then(page, lang, payment, "/steps/sepa")
    _empty_then(page, lang, SEPA, "/steps/declarations")
    _empty_then(page, lang, DECLARATIONS, "/check")
    _check(page, lang, "check")
    reference = submit_filing(page)
    _check(page, lang, "confirmation")
    status_url = page.locator(".status-link a").get_attribute("href")
    page.goto(status_url)
    _check(page, lang)

    # Information requested: the status page asks for an answer.
    office = _office(new_context, base)
    _request_information(office, base, reference)
    page.goto(status_url)
    assert page.locator("#answer_text").is_visible()
    _check(page, lang, "status-information-requested")
    page.click("button:has-text('Antwort senden')" if lang == "de" else "button:has-text('Send')")
    assert page.locator(".error-summary a[href='#answer_text']").count() == 1
    assert page.get_attribute("#answer_text", "aria-invalid") == "true"
    _check(page, lang)
    page.fill("#answer_text", "Den Heimtierausweis finden Sie anbei.")
    page.set_input_files("#answer_files", pdf(tmp_path, "heimtierausweis.pdf"))
    page.click("form[action$='/answer'] button[type=submit]")
    assert page.locator(".notice-banner").is_visible()
    assert page.locator("#answer_text").count() == 0
    _check(page, lang)

    for path in ("/herzberg-elster/datenschutz", "/herzberg-elster/barrierefreiheit"):
        page.goto(f"{base}{path}")
        _check(page, lang)
    response = page.goto(f"{base}/status/this-is-not-a-status-token")
    assert response.status == 404
    _check(page, lang, "error-page")
    page.goto(f"{base}/office/login")
    assert page.get_attribute("html", "lang") == "de"  # the office is German only
    assert_accessible(page)

    # The page after "save and continue later".
    page.goto(f"{base}{URL}")
    page.click(f"form[action='{URL}/start'] button")
    fill_step(page, {"given_names": "Erika"})
    page.click(SAVE)
    assert page.locator(".status-link a").count() == 1
    _check(page, lang, "saved")


def test_language_switch_keeps_answers_that_are_not_valid_yet(live_server, page):
    begin(page, live_server)
    fill_step(page, {"given_names": "Erika", "postal_code": "4916", "birth_date": "12.08.198"})
    page.click("button[name=action][value='lang:en']")
    assert page.get_attribute("html", "lang") == "en"
    assert page.input_value("#given_names") == "Erika"
    assert page.input_value("#postal_code") == "4916"
    assert page.input_value("#birth_date") == "12.08.198"
