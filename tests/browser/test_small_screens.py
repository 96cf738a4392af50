"""Small screens and screen readers in real headless Chromium: at 320 CSS pixels (WCAG 1.4.10
Reflow) no page scrolls sideways, only a wide table inside its own labelled scroll region;
the arrows the stylesheet adds are not part of accessible names."""

from __future__ import annotations

import pytest

from tests.browser.conftest import DEMO_PASSWORD
from tests.browser.test_portal_journeys import (
    DECLARATIONS,
    KEEPER,
    URL,
    begin,
    dog,
    step,
    submit_filing,
)

pytestmark = pytest.mark.browser

TRANSFER = {"payment_method": "transfer", "payment_interval": "annual"}


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def assert_reflows(page) -> None:
    """Nothing scrolls the page sideways; the message names what sticks out."""
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 321 && !e.closest('[role=region]'))
        .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 40))
        """
    )
    assert page_width(page) <= 320, (page.url, page_width(page), wide[:5])


def test_pages_reflow_at_320_css_pixels(live_server, new_context):
    base = live_server
    context = new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.set_viewport_size({"width": 320, "height": 640})

    page.goto(f"{base}/")
    assert_reflows(page)  # home: "Verwaltungsleistungen" must wrap
    page.goto(f"{base}{URL}")
    assert_reflows(page)
    begin(page, base)
    assert_reflows(page)  # a form step
    page.click("button[name=action][value=continue]")  # with its error summary
    assert_reflows(page)
    step(page, KEEPER, "/steps/dog")
    step(page, dog("276098100009320"), "/steps/dangerous")
    step(page, {"declared_dangerous": "no"}, "/steps/reduction")
    step(page, {"reduction_requested": "no"}, "/steps/payment")
    step(page, TRANSFER, "/steps/declarations")
    step(page, DECLARATIONS, "/check")
    assert_reflows(page)
    reference = submit_filing(page)
    assert_reflows(page)

    page.goto(f"{base}/office/login")
    page.fill("#username", "sachbearbeitung")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Anmelden')")
    page.goto(f"{base}/office/?view=all&q={reference}")
    table = page.locator("table.queue-table")
    assert table.count() == 1
    assert_reflows(page)  # the queue: only the table scrolls, inside its region
    region = page.get_by_role("region", name="Alle, auch abgeschlossene")
    assert region.count() == 1 and region.get_attribute("tabindex") == "0"
    assert region.locator("table.queue-table").count() == 1
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")  # it really scrolls


def test_arrows_are_not_part_of_accessible_names(live_server, page):
    base = live_server
    page.goto(f"{base}{URL}")
    assert page.get_by_role("button", name="Jetzt starten", exact=True).count() == 1
    begin(page, base)
    assert page.get_by_role("link", name="Zurück", exact=True).count() == 1
