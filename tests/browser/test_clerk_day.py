"""A clerk's day in real headless Chromium: citizens file three registrations, the clerk works
the queue (views, search, filters, claiming), asks a question and gets the answer, approves
and closes a case, proposes a dangerous dog for the second check, the approver confirms, and
the citizen downloads the notice. axe-core checks every office page visited."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import (
    DEMO_PASSWORD,
    assert_accessible,
    fill_step,
    screenshot,
    wait_for_document,
)
from tests.browser.test_portal_journeys import (
    DANGEROUS_DETAILS,
    DECLARATIONS,
    KEEPER,
    begin,
    dog,
    pdf,
    pdf_text,
    step,
    submit_filing,
)

pytestmark = pytest.mark.browser

TRANSFER = {"payment_method": "transfer", "payment_interval": "annual"}


# --- helpers ----------------------------------------------------------------------------------


def file_registration(
    page,
    base: str,
    tmp_path: Path,
    chip: str,
    *,
    keeper: dict | None = None,
    dangerous: bool = False,
) -> tuple[str, str]:
    """File one registration through the portal; returns (reference, status link)."""
    begin(page, base)
    step(page, {**KEEPER, **(keeper or {})}, "/steps/dog")
    step(page, dog(chip), "/steps/dangerous")
    if dangerous:
        step(page, {"declared_dangerous": "yes"}, "/steps/dangerous_details")
        fill_step(page, DANGEROUS_DETAILS)
        page.set_input_files(
            "#dangerous_decision_file", pdf(tmp_path, f"entscheidung-{chip[-4:]}.pdf")
        )
        page.set_input_files("#permit_file", pdf(tmp_path, f"erlaubnis-{chip[-4:]}.pdf"))
        page.set_input_files("#insurance_file", pdf(tmp_path, f"versicherung-{chip[-4:]}.pdf"))
        page.click("button[name=action][value=continue]")
        assert page.url.endswith("/steps/payment"), page.url
    else:
        step(page, {"declared_dangerous": "no"}, "/steps/reduction")
        step(page, {"reduction_requested": "no"}, "/steps/payment")
    step(page, TRANSFER, "/steps/declarations")
    step(page, DECLARATIONS, "/check")
    reference = submit_filing(page)
    return reference, page.locator(".status-link a").get_attribute("href")


def login(page, base: str, username: str, name: str) -> None:
    page.goto(f"{base}/office/")
    assert "/office/login" in page.url
    assert_accessible(page)
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Anmelden')")
    assert "/office/login" not in page.url
    assert name in page.locator("nav[aria-label=Konto]").inner_text()


def rows(page):
    return page.locator("table.queue-table tbody tr")


def row(page, reference: str):
    return page.locator("table.queue-table tbody tr", has=page.locator(f"a:text-is('{reference}')"))


def listed_references(page) -> list[str]:
    return page.locator("table.queue-table tbody tr td:first-child a").all_inner_texts()


def open_tab(page, label: str) -> None:
    page.click(f".filter-nav a:has-text('{label}')")
    current = page.locator(".filter-nav a[aria-current=page]")
    assert current.inner_text().startswith(label), current.inner_text()
    assert_accessible(page)


def status(page) -> str:
    return page.locator("main p strong.tag").first.inner_text()


def act(page, label: str, comment: str = "") -> None:
    """Take a workflow step on the case page (optionally with a comment), check the page."""
    button = page.locator(f".transition-form button[type=submit]:text-is('{label}')")
    assert button.count() == 1, f"{label!r} not offered on {page.url}"
    if comment:
        button.locator("xpath=ancestor::form").locator("textarea").fill(comment)
    button.click()
    assert page.locator(".error-summary").count() == 0, page.locator(".error-summary").inner_text()
    assert "Erledigt." in page.locator(".notice-banner").inner_text()
    assert_accessible(page)


def offered(page) -> list[str]:
    return page.locator(".transition-form button[type=submit]").all_inner_texts()


def fact(page, term: str) -> str:
    return page.locator(f"dl.facts div:has(dt:text-is('{term}')) dd").inner_text()


def de(d: date) -> str:
    return d.strftime("%d.%m.%Y")


# --- the day ----------------------------------------------------------------------------------


def test_a_clerks_day(live_server, new_context, tmp_path):
    base = live_server

    # 1. Three citizens file (one browser context, like one counter terminal).
    citizen = new_context().new_page()
    normal, normal_status = file_registration(citizen, base, tmp_path, "276 0981 0077 0101")
    danger, danger_status = file_registration(
        citizen,
        base,
        tmp_path,
        "276 0981 0077 0102",
        dangerous=True,
        keeper={"given_names": "Jens", "family_name": "Krüger", "email": "jens@example.org"},
    )
    zimmer, _ = file_registration(
        citizen,
        base,
        tmp_path,
        "276 0981 0077 0103",
        keeper={"given_names": "Ulrike", "family_name": "Zimmermann"},
    )
    mine = {normal, danger, zimmer}

    # 2. The clerk logs in and works the queue.
    office = new_context().new_page()
    login(office, base, "sachbearbeitung", "Petra Schulze")
    assert (
        office.locator(".filter-nav a[aria-current=page]").inner_text().startswith("Alle offenen")
    )
    assert_accessible(office)
    assert mine <= set(listed_references(office))
    assert row(office, zimmer).locator("td").nth(1).inner_text() == "Zimmermann, Ulrike"
    for ref in mine:
        assert row(office, ref).locator(".tag").inner_text() == "Eingegangen"
        assert row(office, ref).locator("button:has-text('Übernehmen')").count() == 1

    office.fill("#q", "Zimmer")
    office.click("button:has-text('Filtern')")
    assert "q=Zimmer" in office.url
    assert listed_references(office) == [zimmer]
    assert office.input_value("#q") == "Zimmer"  # the filter form keeps its values
    assert_accessible(office)

    office.fill("#q", "")
    office.select_option("#state", "submitted")
    office.click("button:has-text('Filtern')")
    assert "state=submitted" in office.url
    assert mine <= set(listed_references(office))
    assert set(office.locator("table.queue-table .tag").all_inner_texts()) == {"Eingegangen"}
    assert_accessible(office)

    open_tab(office, "Nicht zugewiesen")
    assert office.input_value("#state") == "submitted"  # tabs keep the filter
    assert mine <= set(listed_references(office))
    unassigned_before = rows(office).count()
    row(office, normal).locator("button:has-text('Übernehmen')").click()
    assert (
        f"Sie haben den Vorgang {normal} übernommen."
        in office.locator(".notice-banner").inner_text()
    )
    assert "view=unassigned" in office.url  # back on the same list
    assert normal not in listed_references(office)
    assert rows(office).count() == unassigned_before - 1
    assert_accessible(office)

    open_tab(office, "Meine Vorgänge")
    assert normal in listed_references(office)
    assert row(office, normal).locator("td").nth(3).inner_text() == "Petra Schulze"
    office.click("a:has-text('Filter zurücksetzen')")
    assert office.input_value("#state") == ""
    open_tab(office, "Alle offenen")
    screenshot(office, "office-queue")

    # 3. The normal case: a question to the citizen, the answer, approval, tag, closing.
    row(office, normal).locator(f"a:text-is('{normal}')").click()
    assert office.url.endswith(f"/office/cases/{normal}")
    assert status(office) == "Eingegangen"
    assert fact(office, "Zuständig") == "Petra Schulze"
    assert_accessible(office)
    act(office, "Vollständigkeit prüfen")
    assert status(office) == "Vollständigkeitsprüfung"

    reply_by = date.today() + timedelta(days=10)
    office.fill("#comment-request_information", "Bitte senden Sie uns den Heimtierausweis.")
    office.fill("#reply_by", reply_by.isoformat())
    act(office, "Rückfrage an Antragsteller/in senden")
    assert status(office) == "Rückfrage an Antragsteller/in"
    deadline = fact(office, "Frist")
    assert "pausiert" in deadline and f"bis {de(reply_by)}" in deadline, deadline
    assert "Bitte senden Sie uns den Heimtierausweis." in office.locator(".timeline").inner_text()

    office.click("a.back-link")
    open_tab(office, "Wartet auf Antwort")
    assert normal in listed_references(office)
    assert f"pausiert, Antwort bis {de(reply_by)}" in row(office, normal).inner_text()

    citizen.goto(normal_status)
    assert "Bitte senden Sie uns den Heimtierausweis." in citizen.locator("main").inner_text()
    citizen.fill("#answer_text", "Den Heimtierausweis finden Sie anbei.")
    citizen.set_input_files("#answer_files", pdf(tmp_path, "heimtierausweis.pdf"))
    citizen.click("form[action$='/answer'] button[type=submit]")
    assert citizen.locator(".notice-banner").is_visible()

    office.goto(f"{base}/office/cases/{normal}")
    assert status(office) == "Antwort eingegangen"
    assert "heimtierausweis.pdf" in office.locator("main").inner_text()
    assert_accessible(office)
    act(office, "Antwort prüfen (weiter in der Prüfung)")
    assert status(office) == "In Prüfung"
    assert "Genehmigung vorschlagen (Zweitprüfung)" not in offered(office)
    act(office, "Genehmigen und Bescheid erstellen", comment="Heimtierausweis liegt vor.")
    assert status(office) == "Bescheid erteilt"
    notice = wait_for_document(office, f"a:text-is('Hundesteuerbescheid-{normal}.pdf')")
    assert notice.count() == 1
    with office.expect_download() as download:
        notice.click()
    path = tmp_path / "bescheid-normal.pdf"
    download.value.save_as(path)
    assert normal in pdf_text(path)
    act(office, "Steuermarke ausgegeben")
    assert status(office) == "Steuermarke ausgegeben"
    act(office, "Vorgang abschließen")
    assert status(office) == "Abgeschlossen"
    assert fact(office, "Frist") == "abgeschlossen"
    assert offered(office) == []

    # 4. The dangerous dog needs a second person.
    office.goto(f"{base}/office/cases/{danger}")
    assert_accessible(office)
    assert len(office.locator("a[href*='/files/']").all()) == 3  # the three PDFs
    office.click("button:has-text('Vorgang übernehmen')")
    assert fact(office, "Zuständig") == "Petra Schulze"
    assert_accessible(office)
    act(office, "Vollständigkeit prüfen")
    act(office, "Vollständig – weiter zur Prüfung")
    assert status(office) == "In Prüfung"
    assert "Genehmigen und Bescheid erstellen" not in offered(office)
    act(office, "Genehmigung vorschlagen (Zweitprüfung)", comment="Erlaubnis und Versicherung ok.")
    assert status(office) == "Wartet auf Zweitprüfung"
    assert "Genehmigung bestätigen und Bescheid erstellen" not in offered(office)
    assert office.locator(f"a:text-is('Hundesteuerbescheid-{danger}.pdf')").count() == 0

    approver = new_context().new_page()
    login(approver, base, "sachgebietsleitung", "Thomas Richter")
    open_tab(approver, "Zweitprüfung")
    assert danger in listed_references(approver)
    assert row(approver, danger).locator(".tag").inner_text() == "Wartet auf Zweitprüfung"
    approver.click(f"a:text-is('{danger}')")
    assert "Erlaubnis und Versicherung ok." in approver.locator(".timeline").inner_text()
    assert_accessible(approver)
    act(approver, "Genehmigung bestätigen und Bescheid erstellen")
    assert status(approver) == "Bescheid erteilt"
    wait_for_document(approver, f"a:text-is('Hundesteuerbescheid-{danger}.pdf')")

    citizen.goto(danger_status)
    assert "Bescheid erteilt" in citizen.locator(".status-box").inner_text()
    notice = wait_for_document(citizen, "a:has-text('Hundesteuerbescheid vom')")
    with citizen.expect_download() as download:
        notice.click()
    path = tmp_path / "bescheid-gefaehrlich.pdf"
    download.value.save_as(path)
    text = pdf_text(path)
    assert danger in text and "Krüger" in text

    # 5. The flow diagram highlights the current state.
    office.reload()
    assert status(office) == "Bescheid erteilt"
    details = office.locator("details:has(summary:has-text('Ablaufdiagramm'))")
    svg = details.locator("svg")
    assert not svg.is_visible()
    details.locator("summary").click()
    assert details.get_attribute("open") is not None
    assert svg.is_visible()
    current = svg.locator("[aria-current=step]")
    assert current.count() == 1
    assert current.get_attribute("aria-label") == "Bescheid erteilt"
    assert current.get_attribute("data-state") == "notice_issued"
    assert " ".join(current.locator("text").all_text_contents()) == "Bescheid erteilt"
    assert "Bescheid erteilt" in svg.locator("desc").text_content()
    assert_accessible(office)  # with the diagram open
    screenshot(office, "office-case")

    # 6. Log out: the office is closed again.
    for page in (office, approver):
        page.click(".staff-nav button:has-text('Abmelden')")
        assert page.url.endswith("/office/login")
        assert "Sie wurden abgemeldet." in page.locator(".notice-banner").inner_text()
        assert_accessible(page)
        page.goto(f"{base}/office/cases/{danger}")
        assert "/office/login" in page.url


def test_yearly_runs_page_is_accessible(live_server, page):
    page.goto(f"{live_server}/office/login")
    page.fill("#username", "sachbearbeitung")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Anmelden')")
    page.click("nav[aria-label=Bereiche] >> text=Jahresbescheide")
    assert page.locator("h1").inner_text().startswith("Jahresbescheide")
    assert_accessible(page)
