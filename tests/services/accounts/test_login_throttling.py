"""Login throttling counts per user name and client address, and per address: nobody can
lock a clerk out from elsewhere, and the answers (message and time taken) are the same for
names that exist and names that do not, so the login page does not tell which accounts
exist. Lock times are German local time."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from services.accounts import service
from services.timeutil import local, utcnow
from tests.conftest import PASSWORD, login

ATTACKER = ("203.0.113.9", 40000)
WRONG = "Benutzername oder Passwort ist falsch."
LOCKED = re.compile(r"Zu viele Fehlversuche\. Die Anmeldung ist bis (\d\d:\d\d) Uhr gesperrt\.")


def attempt(client: TestClient, username: str, password: str = "wrong-password") -> str:
    """The message the login page shows for an attempt (user names left out)."""
    r = login(client, username, password)
    if r.status_code == 200 and r.url.path == "/office/":
        return "logged in"
    assert r.status_code == 422
    return re.search(r'<li><a href="#password">([^<]+)</a>', r.text)[1]


@pytest.fixture(autouse=True)
def few_attempts(monkeypatch) -> None:
    """Two failures lock here (5 in production): each attempt costs an argon2 verification."""
    monkeypatch.setattr(service, "MAX_FAILED_LOGINS", 2)


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Every argon2 verification a login makes (against which hash)."""
    calls: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, password_hash, password):
            calls.append(password_hash)
            return super().verify(password_hash, password)

    monkeypatch.setattr(service, "_hasher", CountingHasher())
    return calls


def test_failed_attempts_from_elsewhere_do_not_lock_the_clerk_out(app, client, clerk):
    attacker = TestClient(app, client=ATTACKER)
    for _ in range(service.MAX_FAILED_LOGINS):
        assert attempt(attacker, "clerk") == WRONG
    assert LOCKED.fullmatch(attempt(attacker, "clerk"))  # locked for the attacker's address
    assert attempt(client, "clerk", "wrong-password") == WRONG  # the clerk's count is her own
    assert attempt(client, "clerk", PASSWORD) == "logged in"


def test_known_and_unknown_names_get_the_same_answers(app, client, clerk, verifications):
    known, unknown = TestClient(app, client=ATTACKER), client
    answers = {"clerk": [], "nobody": []}
    for _ in range(service.MAX_FAILED_LOGINS + 1):
        answers["clerk"].append(attempt(known, "clerk"))
        answers["nobody"].append(attempt(unknown, "nobody"))
    assert answers["clerk"][:-1] == [WRONG] * service.MAX_FAILED_LOGINS
    assert answers["nobody"] == answers["clerk"]  # unknown names are locked as well
    assert LOCKED.fullmatch(answers["nobody"][-1])
    # Every attempt, locked or not, known or not, costs exactly one password verification:
    # the same time (about 0.4 s), so timing does not tell either.
    assert len(verifications) == 2 * (service.MAX_FAILED_LOGINS + 1)


def test_one_address_trying_many_names_is_locked(app, clerk, monkeypatch):
    monkeypatch.setattr(service, "MAX_FAILED_LOGINS_PER_ADDRESS", 3)
    sprayer = TestClient(app, client=ATTACKER)
    for name in ("anna", "bernd", "carla"):
        assert attempt(sprayer, name) == WRONG
    # Now any name from that address is locked, even with the right password.
    assert LOCKED.fullmatch(attempt(sprayer, "clerk", PASSWORD))


@pytest.fixture
def server_clock_in_utc():
    """The server's own time zone is UTC, as in most containers."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_lock_time_is_shown_in_german_local_time(app, clerk, server_clock_in_utc):
    attacker = TestClient(app, client=ATTACKER)
    for _ in range(service.MAX_FAILED_LOGINS):
        attempt(attacker, "clerk")
    shown = LOCKED.fullmatch(attempt(attacker, "clerk"))[1]
    until = utcnow() + timedelta(minutes=service.LOCK_MINUTES)
    berlin = {local(until - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1, 2)}
    assert shown in berlin


def test_an_administrator_reset_lifts_the_lock(app, db, clerk):
    from services.admin.users_service import reset_password

    attacker = TestClient(app, client=ATTACKER)
    for _ in range(service.MAX_FAILED_LOGINS):
        attempt(attacker, "clerk")
    password = reset_password(db, clerk, clerk)
    db.commit()
    assert attempt(attacker, "clerk", password) == "logged in"
