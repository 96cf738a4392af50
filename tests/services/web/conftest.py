"""Fresh apps with their own settings (a thread or two, short timeouts) on the test
database, and a way to undo the logging set-up that ``configure_logging`` installs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.app import create_app


@pytest.fixture
def make_app(settings, db):
    """``make_app(threads=1, queue_timeout_seconds=0.2)``: an app on the test database (its
    rows are removed after the test by the ``db`` fixture); engines are disposed after."""
    apps = []

    def make(**overrides):
        app = create_app(settings.model_copy(update=overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.engine.dispose()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    watched = ("amtsweg", "uvicorn", "uvicorn.error", "uvicorn.access")
    before = {
        name: (lg.handlers[:], lg.propagate, lg.disabled, lg.level)
        for name in watched
        for lg in [logging.getLogger(name)]
    }
    yield
    for h in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(h)
    root.setLevel(level)
    for name, (hs, propagate, disabled, lg_level) in before.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = hs
        lg.propagate, lg.disabled = propagate, disabled
        lg.setLevel(lg_level)
