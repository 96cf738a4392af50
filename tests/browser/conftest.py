"""Browser fixtures: the real app served by uvicorn on a free port (SQLite, migrated, demo
data), driven by Playwright in Debian's headless Chromium; axe-core checks accessibility."""

from __future__ import annotations

import os
import shutil
import socket
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
    app = create_app(
        Settings(
            env="test",
            database_url=url,
            base_url=base,
            secret_key="browser-test-secret-" + "y" * 40,
        )
    )
    with Session(app.state.engine) as db:
        load(db, DEMO_PASSWORD)
        db.commit()
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


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe-core violations on {page.url}: {violations}"
