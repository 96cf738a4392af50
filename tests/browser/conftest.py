"""Browser fixtures: the real app served by uvicorn on a free port (SQLite, migrated, demo
data) with a real job worker process beside it, driven by Playwright in Debian's headless
Chromium; axe-core checks accessibility."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from services.app import create_app
from services.config import Settings
from services.db import migrate
from services.demo import load

CHROMIUM = os.environ.get("AMTSWEG_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DEMO_PASSWORD = "browser-test-password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    if os.environ.get("AMTSWEG_REQUIRE_BROWSER") and not shutil.which(CHROMIUM):
        raise pytest.UsageError(f"browser tests need Chromium at {CHROMIUM}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'amtsweg.db'}"
    migrate(url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        env="test",
        database_url=url,
        base_url=base,
        secret_key="browser-test-secret-" + "y" * 40,
        jobs="worker",  # as in production: a job worker process renders receipts, sends mail
        mail_dir=tmp_path_factory.mktemp("mail"),
    )
    app = create_app(settings)
    with Session(app.state.engine) as db:
        load(db, DEMO_PASSWORD)
        db.commit()
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "AMTSWEG_DATABASE_URL": url,
            "AMTSWEG_ENV": "test",
            "AMTSWEG_BASE_URL": base,
            "AMTSWEG_SECRET_KEY": settings.secret_key,
            "AMTSWEG_MAIL_DIR": str(settings.mail_dir),
            "AMTSWEG_LOG_LEVEL": "warning",
        },
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 15
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(
        locale="de-DE",
        accept_downloads=True,
        bypass_csp=True,
        viewport={"width": 1100, "height": 900},
    )
    context.set_default_timeout(10_000)  # fail fast: every page here answers in milliseconds
    pg = context.new_page()
    yield pg
    context.close()


def axe_violations(page) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the current page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return result


# Pages checked with axe in this session and the violations found (the issue asks to report
# both); printed by pytest_terminal_summary below.
# pytest loads this file as a plugin ("conftest") and the tests import it again as
# tests.browser.conftest: both copies share the first copy's counter.
_loaded = next(
    (
        m
        for m in list(sys.modules.values())
        if getattr(m, "__file__", None) == __file__ and hasattr(m, "AXE_STATS")
    ),
    None,
)
AXE_STATS: dict = _loaded.AXE_STATS if _loaded else {"pages": 0, "violations": []}


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    AXE_STATS["pages"] += 1
    AXE_STATS["violations"] += [{"url": page.url, **v} for v in violations]
    assert violations == [], f"axe-core violations on {page.url}: {violations}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not AXE_STATS["pages"]:
        return
    found = AXE_STATS["violations"]
    terminalreporter.write_sep("-", "axe-core accessibility checks")
    terminalreporter.write_line(
        f"pages checked by axe: {AXE_STATS['pages']}, violations found: {len(found)}"
    )
    for v in found:
        terminalreporter.write_line(f"  {v['id']} ({v['impact']}) on {v['url']}: {v['nodes']}")


@pytest.fixture
def new_context(browser):
    """Open further browser contexts (own cookies, like another device); closed afterwards."""
    contexts = []

    def make(locale: str = "de-DE"):
        context = browser.new_context(
            locale=locale,
            accept_downloads=True,
            bypass_csp=True,
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


SHOTS = Path(os.environ.get("AMTSWEG_SHOTS", "/tmp/shots"))


def screenshot(page, name: str) -> None:
    """A full-page screenshot for looking at the layout (not compared automatically)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fill_step(page, values: dict[str, str]) -> None:
    """Fill form fields by name: radios by value, checkboxes checked, selects by value."""
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


def wait_for_document(page, link: str, tries: int = 60):
    """The locator of a document link that a job worker is still rendering: until it is
    there, the page says "wird erstellt" with a reload link (checked with axe once)."""
    for attempt in range(tries):
        found = page.locator(link)
        if found.count():
            return found
        assert "wird erstellt" in page.locator("main").inner_text()
        if attempt == 0:
            assert_accessible(page)
        page.wait_for_timeout(500)
        page.locator("main a:has-text('Seite neu laden')").first.click()
    raise AssertionError(f"no {link} after {tries} reloads")
