"""A real ``amtsweg worker`` process beside the web app, on both databases: a filing is
acknowledged at once, the worker renders its receipt and sends its confirmation mail."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.app import create_app
from services.cases.models import Document
from services.config import ROOT
from services.jobs import queue
from services.jobs.models import Job
from services.mail.models import OutboxMessage
from tests.conftest import file_registration


@pytest.fixture
def worker_app(app, settings):
    web = create_app(settings.model_copy(update={"jobs": "worker"}))
    web.state.jobs.huey.storage.flush_queue()
    yield web
    queue.configure(app.state.engine, settings)
    web.state.engine.dispose()


@pytest.fixture
def worker_process(settings, tmp_path):
    env = {
        **os.environ,
        "AMTSWEG_DATABASE_URL": settings.database_url,
        "AMTSWEG_ENV": "test",
        "AMTSWEG_BASE_URL": settings.base_url,
        "AMTSWEG_SECRET_KEY": settings.secret_key,
        "AMTSWEG_MAIL_DIR": str(tmp_path / "mail"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield proc, tmp_path / "mail"
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(check, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    return None


def test_a_worker_process_renders_the_receipt_and_sends_the_mail(
    worker_app, worker_process, db, municipality
):
    proc, mail_dir = worker_process
    with TestClient(worker_app) as client:
        r = file_registration(client)  # the citizen gives an e-mail address
    assert "wird erstellt" in r.text or "Eingangsbestätigung herunterladen" in r.text

    def receipt():
        db.expire_all()
        return db.exec(select(Document).where(Document.kind == "receipt")).first()

    found = wait_for(receipt, 90)
    if found is None:
        proc.terminate()
        pytest.fail("no receipt from the worker:\n" + proc.stdout.read().decode()[-3000:])
    assert found.content.startswith(b"%PDF")

    def mailed():
        db.expire_all()
        return db.exec(select(OutboxMessage).where(OutboxMessage.status == "sent")).first()

    assert wait_for(mailed) is not None
    assert list(mail_dir.glob("*.eml"))
    db.expire_all()
    assert {j.state for j in db.exec(select(Job)).all()} <= {"done", "queued"}
