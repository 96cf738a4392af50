"""Staff sessions that can be ended, on SQLite and PostgreSQL: a copy of the session cookie
taken before logout, a password reset, a role change or disabling is refused afterwards by
the office pages and the API; logout ends the account's sessions on every device; a fresh
login works again. The signed cookie alone never keeps an ended session alive."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.accounts import service as accounts
from services.accounts.models import StaffUser
from tests.conftest import PASSWORD, csrf_of, login, make_staff

COOKIE = "amtsweg_session"


@pytest.fixture
def admin(db, municipality) -> StaffUser:
    return make_staff(db, municipality, "admin", "Anna Admin", ["clerk", "admin"])


def logged_in(app, username: str, password: str = PASSWORD) -> TestClient:
    c = TestClient(app)
    assert login(c, username, password).url.path == "/office/"
    return c


def with_cookie(app, cookie: str) -> TestClient:
    """Another browser that was handed a copy of the session cookie."""
    c = TestClient(app)
    c.cookies.set(COOKIE, cookie)
    return c


def assert_open(c: TestClient) -> None:
    assert c.get("/office/", follow_redirects=False).status_code == 200
    assert c.get("/api/v1/cases").status_code == 200


def assert_refused(c: TestClient) -> None:
    r = c.get("/office/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/office/login")
    assert c.get("/api/v1/cases").status_code == 401


def epoch_of(db, username: str) -> int:
    db.expire_all()
    return db.exec(select(StaffUser).where(StaffUser.username == username)).one().session_epoch


def logout(c: TestClient) -> None:
    token = csrf_of(c.get("/office/").text)  # the page's logout form carries it
    r = c.post("/office/logout", data={"csrf_token": token})
    assert r.url.path == "/office/login"


def test_a_cookie_copied_before_logout_is_refused_afterwards(app, db, clerk):
    c = logged_in(app, "clerk")
    copy = c.cookies.get(COOKIE)
    assert_open(with_cookie(app, copy))
    logout(c)
    assert_refused(with_cookie(app, copy))
    assert_refused(c)
    # The refused session shows why on the login page and keeps nothing of the account.
    page = with_cookie(app, copy).get("/office/")
    assert page.url.path == "/office/login" and "Ihre Sitzung wurde beendet" in page.text
    assert epoch_of(db, "clerk") == 1


def test_logout_ends_the_sessions_on_other_devices_and_a_fresh_login_works(app, db, clerk):
    first, second = logged_in(app, "clerk"), logged_in(app, "clerk")
    assert_open(first)
    assert_open(second)
    logout(first)
    assert_refused(second)
    assert_refused(first)
    third = logged_in(app, "clerk")
    assert_open(third)
    again = logged_in(app, "clerk")  # a second fresh session leaves the others alive
    assert_open(third)
    assert_open(again)


def test_a_stale_cookie_cannot_log_out_the_current_sessions(app, db, clerk):
    c = logged_in(app, "clerk")
    copy = c.cookies.get(COOKIE)
    stale_token = csrf_of(c.get("/office/").text)
    logout(c)
    fresh = logged_in(app, "clerk")
    epoch = epoch_of(db, "clerk")
    stale = with_cookie(app, copy)
    r = stale.post("/office/logout", data={"csrf_token": stale_token})
    assert r.url.path == "/office/login"
    assert epoch_of(db, "clerk") == epoch
    assert_open(fresh)


def admin_posts(app, path: str, **data) -> None:
    admin = logged_in(app, "admin")
    token = csrf_of(admin.get("/admin/users").text)
    r = admin.post(path, data={"csrf_token": token, **data})
    assert r.status_code == 200, r.text[-300:]


ADMIN_ACTIONS = {
    "password_reset": ("/reset-password", {}),
    "role_change": ("", {"display_name": "Petra Schulze", "roles": ["clerk", "approver"]}),
    "disabling": ("/active", {"active": "no"}),
}


@pytest.mark.parametrize("action", list(ADMIN_ACTIONS))
def test_an_admin_change_ends_every_session_of_the_account(app, db, admin, clerk, action):
    c, other = logged_in(app, "clerk"), logged_in(app, "clerk")
    copy = c.cookies.get(COOKIE)
    suffix, data = ADMIN_ACTIONS[action]
    admin_posts(app, f"/admin/users/{clerk.id}{suffix}", **data)
    assert epoch_of(db, "clerk") == 1
    for session in (c, other, with_cookie(app, copy)):
        assert_refused(session)


def test_enabling_again_does_not_revive_old_sessions(app, db, admin, clerk):
    copy = logged_in(app, "clerk").cookies.get(COOKIE)
    admin_posts(app, f"/admin/users/{clerk.id}/active", active="no")
    admin_posts(app, f"/admin/users/{clerk.id}/active", active="yes")
    assert_refused(with_cookie(app, copy))
    assert_open(logged_in(app, "clerk"))


def test_changing_only_name_or_email_keeps_the_sessions(app, db, admin, clerk):
    c = logged_in(app, "clerk")
    admin_posts(
        app,
        f"/admin/users/{clerk.id}",
        display_name="Petra Schulze-Lang",
        email="petra@herzberg-elster.de",
        roles="clerk",
    )
    assert epoch_of(db, "clerk") == 0
    assert_open(c)


def test_cli_disable_and_re_creation_end_the_sessions(app, db, municipality, clerk):
    """``amtsweg users disable`` and ``amtsweg users create`` for an existing name go through
    accounts.service.set_active and create_user."""
    copy = logged_in(app, "clerk").cookies.get(COOKIE)
    accounts.set_active(db, "clerk", False)
    accounts.set_active(db, "clerk", True)
    db.commit()
    assert_refused(with_cookie(app, copy))
    copy = logged_in(app, "clerk").cookies.get(COOKIE)
    accounts.create_user(
        db,
        municipality_id=municipality.id,
        username="clerk",
        display_name="Petra Schulze",
        password="ein-ganz-neues-passwort",
        roles=["clerk"],
    )
    db.commit()
    assert_refused(with_cookie(app, copy))
    assert_open(logged_in(app, "clerk", "ein-ganz-neues-passwort"))
    assert epoch_of(db, "clerk") == 3


def test_a_cookie_from_before_the_upgrade_without_epoch_is_refused(app, db, clerk):
    """Sessions signed before session epochs existed carry none: they must log in again."""
    import base64
    import json

    from itsdangerous import TimestampSigner

    c = logged_in(app, "clerk")
    session = json.loads(
        base64.b64decode(
            TimestampSigner(app.state.settings.secret_key).unsign(c.cookies.get(COOKIE))
        )
    )
    assert session["staff_epoch"] == 0
    del session["staff_epoch"]
    forged = TimestampSigner(app.state.settings.secret_key).sign(
        base64.b64encode(json.dumps(session).encode())
    )
    assert_refused(with_cookie(app, forged.decode()))
    assert_open(c)
