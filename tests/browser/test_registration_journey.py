"""The main journey in real headless Chromium: a citizen registers a dog, a clerk approves,
the citizen downloads the notice. axe-core checks every page, error states included."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from tests.browser.conftest import DEMO_PASSWORD, assert_accessible, wait_for_document

pytestmark = pytest.mark.browser
CONTINUE = "button[name=action][value=continue]"


def fill_step(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f'[name="{name}"]')
        kind = field.first.get_attribute("type")
        if kind == "radio":
            page.check(f'input[name="{name}"][value="{value}"]')
        elif kind == "checkbox":
            page.check(f'input[name="{name}"]')
        elif field.first.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_register_dog_approve_and_download_notice(live_server, page, tmp_path):
    page.goto(f"{live_server}/herzberg-elster/hund-anmelden")
    assert page.title().startswith("Hund zur Hundesteuer anmelden")
    assert_accessible(page)
    page.click("text=Jetzt starten")

    # Keeper step, first with mistakes: the error summary gets focus and links to fields.
    fill_step(
        page,
        {
            "given_names": "Erika",
            "family_name": "",
            "birth_date": "12.08.1980",
            "street": "Torgauer Straße",
            "house_number": "12",
            "postal_code": "4916",
            "town": "Herzberg (Elster)",
            "email": "erika@example.org",
            "joint_keeping": "no",
            "moved_in": "no",
        },
    )
    page.click(CONTINUE)
    assert page.title().startswith("Fehler:")
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert "Bitte geben Sie „Familienname“ an." in summary.inner_text()
    assert page.input_value("#given_names") == "Erika"  # answers stay filled in
    assert_accessible(page)
    summary.locator("a[href='#postal_code']").click()
    assert page.evaluate("document.activeElement.id") == "postal_code"
    fill_step(page, {"family_name": "Mustermann", "postal_code": "04916"})
    page.click(CONTINUE)

    # Conditional field appears only when its answer is chosen.
    assert page.locator("#previous_keeper_name").is_hidden()
    fill_step(
        page,
        {
            "dog_name": "Bello",
            "breed": "Mischling",
            "colour": "schwarz",
            "sex": "male",
            "dog_birth_date": "01.06.2021",
            "chip_number": "276 0981 0000 5555",
            "intake_date": "14.05.2026",
            "acquired_from_person": "yes",
        },
    )
    assert page.locator("#previous_keeper_name").is_visible()
    fill_step(
        page,
        {
            "previous_keeper_name": "Hans Meier",
            "previous_keeper_address": "Lindenweg 3, 04916 Herzberg (Elster)",
        },
    )
    assert_accessible(page)
    page.click(CONTINUE)
    fill_step(page, {"declared_dangerous": "no"})
    page.click(CONTINUE)
    fill_step(page, {"reduction_requested": "no"})
    page.click(CONTINUE)
    fill_step(page, {"payment_method": "direct_debit", "payment_interval": "quarterly"})
    page.click(CONTINUE)
    fill_step(
        page,
        {
            "account_holder_differs": "no",
            "iban": "DE89 3704 0044 0532 0130 01",
            "mandate_place": "Herzberg (Elster)",
            "sepa_consent": "yes",
        },
    )
    page.click(CONTINUE)
    assert "Die IBAN ist nicht gültig" in page.locator(".error-summary").inner_text()
    assert_accessible(page)
    fill_step(page, {"iban": "DE89 3704 0044 0532 0130 00"})
    page.click(CONTINUE)
    fill_step(page, {"privacy_read": "yes", "truthful": "yes"})
    page.click(CONTINUE)

    # Check answers, change one, come back.
    assert page.locator("h1").inner_text() == "Bitte prüfen Sie Ihre Angaben"
    assert "276 0981 0000 5555" in page.content()
    assert_accessible(page)
    page.click("a[href*='/steps/dog?change=1#colour']")
    fill_step(page, {"colour": "schwarz-braun"})
    page.click(CONTINUE)
    assert "/check" in page.url and "schwarz-braun" in page.content()

    page.click("button:has-text('Anmeldung verbindlich absenden')")
    assert page.locator("h1").inner_text() == "Ihre Anmeldung ist eingegangen"
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"HST-\d{4}-\d{6}", reference)
    status_url = page.locator(".status-link a").get_attribute("href")
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "confirmation.png"), full_page=True)

    # The clerk reviews and approves.
    page.goto(f"{live_server}/office/")
    assert "/office/login" in page.url
    assert_accessible(page)
    page.fill("#username", "sachbearbeitung")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Anmelden')")
    page.click(f"text={reference}")
    assert_accessible(page)
    page.click("button:has-text('Vollständigkeit prüfen')")
    page.click("button:has-text('Vollständig – weiter zur Prüfung')")
    page.fill("#comment-approve", "Chipnummer und Daten geprüft.")
    page.click("button:has-text('Genehmigen und Bescheid erstellen')")
    assert "Bescheid erteilt" in page.locator("main").inner_text()
    assert_accessible(page)

    # The citizen downloads the notice through the status link.
    page.goto(status_url)
    assert "Bescheid erteilt" in page.locator(".status-box").inner_text()
    assert_accessible(page)
    notice = wait_for_document(page, "a:has-text('Hundesteuerbescheid vom')")
    with page.expect_download() as download_info:
        notice.click()
    path = tmp_path / "bescheid.pdf"
    download_info.value.save_as(path)
    text = "\n".join(p.extract_text() for p in PdfReader(path).pages).replace("\xa0", " ")
    assert reference in text and "Erika Mustermann" in text and "Bello" in text
