"""Staff accounts in the admin area: create (own or generated password shown once), edit
roles, disable/enable, reset password; self-lockout refused; per municipality; audited
without passwords."""

from __future__ import annotations

import json
import re

from sqlmodel import select

from services.accounts.models import StaffUser
from services.audit.models import AdminEvent
from tests.conftest import PASSWORD, csrf_of, login


def token(client, url="/admin/users") -> str:
    return csrf_of(client.get(url).text)


def admin_events(db) -> list[AdminEvent]:
    db.expire_all()
    return list(db.exec(select(AdminEvent).order_by(AdminEvent.municipality_id, AdminEvent.seq)))


def user_named(db, username: str) -> StaffUser:
    db.expire_all()
    return db.exec(select(StaffUser).where(StaffUser.username == username)).one()


def test_list_shows_only_own_municipality(client, admin, clerk, foreign_clerk):
    login(client, "admin")
    r = client.get("/admin/users")
    assert r.status_code == 200
    assert "Petra Schulze" in r.text and "Anna Admin" in r.text
    assert "Uwe Fremd" not in r.text and "foreign" not in r.text
    assert '<th scope="col">Rollen</th>' in r.text


def test_create_with_generated_password_shows_it_once_and_it_works(client, db, admin):
    login(client, "admin")
    r = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token(client, "/admin/users/new"),
            "username": "M.Neu",
            "display_name": "Mia Neu",
            "email": "mia.neu@herzberg-elster.de",
            "roles": ["clerk", "approver"],
            "generate": "yes",
        },
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    password = re.search(r'<strong class="status-link" translate="no">([^<]+)</strong>', r.text)[1]
    assert len(password) >= 12
    user = user_named(db, "m.neu")
    assert user.municipality_id == admin.municipality_id and user.roles == ["approver", "clerk"]
    assert password not in client.get(f"/admin/users/{user.id}").text  # shown once only
    (event,) = admin_events(db)
    assert (event.action, event.target) == ("user_created", "user:m.neu")
    assert event.after == {
        "username": "m.neu",
        "display_name": "Mia Neu",
        "email": "mia.neu@herzberg-elster.de",
        "roles": ["approver", "clerk"],
        "active": True,
    }
    dumped = json.dumps([event.before, event.after])
    assert password not in dumped and "argon2" not in dumped
    client.cookies.clear()
    assert login(client, "m.neu", password).url.path == "/office/"


def test_create_with_own_password_and_every_problem_listed(client, db, admin, foreign_clerk):
    login(client, "admin")
    t = token(client, "/admin/users/new")
    r = client.post(
        "/admin/users/new",
        data={
            "csrf_token": t,
            "username": "foreign",
            "display_name": "",
            "email": "x",
            "password": "kurz",
        },
    )
    assert r.status_code == 400
    for anchor in ("username", "display_name", "email", "roles", "password"):
        assert f'href="#{anchor}"' in r.text
    assert "Diesen Benutzernamen gibt es schon" in r.text
    assert "mindestens 12 Zeichen" in r.text
    # The existing account of the other municipality was not touched (no takeover).
    assert user_named(db, "foreign").municipality_id == foreign_clerk.municipality_id
    assert admin_events(db) == []
    r = client.post(
        "/admin/users/new",
        data={
            "csrf_token": t,
            "username": "kai",
            "display_name": "Kai Klar",
            "roles": "clerk",
            "password": "ein-sehr-langes-passwort",
        },
    )
    assert r.status_code == 200 and "Das Benutzerkonto kai ist angelegt" in r.text
    client.cookies.clear()
    assert login(client, "kai", "ein-sehr-langes-passwort").url.path == "/office/"


def test_change_roles_disable_enable_and_reset(client, db, admin, clerk):
    login(client, "admin")
    url = f"/admin/users/{clerk.id}"
    page = client.get(url)
    assert page.status_code == 200 and "Petra Schulze" in page.text
    t = csrf_of(page.text)
    r = client.post(
        url,
        data={
            "csrf_token": t,
            "display_name": "Petra Schulze",
            "email": "",
            "roles": ["clerk", "approver"],
        },
    )
    assert r.status_code == 200 and "ist geändert" in r.text
    assert user_named(db, "clerk").roles == ["approver", "clerk"]
    r = client.post(f"{url}/active", data={"csrf_token": t, "active": "no"})
    assert r.status_code == 200 and "ist deaktiviert" in r.text
    assert user_named(db, "clerk").active is False
    r = client.post(f"{url}/active", data={"csrf_token": t, "active": "yes"})
    assert user_named(db, "clerk").active is True
    r = client.post(f"{url}/reset-password", data={"csrf_token": t})
    assert r.status_code == 200 and "Neues Passwort erzeugt" in r.text
    new_password = re.search(r'translate="no">([^<]+)</strong>', r.text)[1]
    actions = [(e.action, e.before, e.after) for e in admin_events(db)]
    assert actions == [
        ("user_updated", {"roles": ["clerk"]}, {"roles": ["approver", "clerk"]}),
        ("user_disabled", {"active": True}, {"active": False}),
        ("user_enabled", {"active": False}, {"active": True}),
        ("user_password_reset", {}, {"password_reset": True}),
    ]
    assert new_password not in json.dumps(actions)
    client.cookies.clear()
    assert login(client, "clerk", PASSWORD).url.path == "/office/login"  # old password gone
    assert login(client, "clerk", new_password).url.path == "/office/"


def test_disabled_user_is_logged_out_at_once(client, db, admin, clerk, app):
    from fastapi.testclient import TestClient

    with TestClient(app) as other:
        login(other, "clerk")
        assert other.get("/office/").status_code == 200
        login(client, "admin")
        client.post(
            f"/admin/users/{clerk.id}/active", data={"csrf_token": token(client), "active": "no"}
        )
        r = other.get("/office/")
        assert r.url.path == "/office/login"


def test_admin_cannot_lock_themselves_out(client, db, admin):
    login(client, "admin")
    url = f"/admin/users/{admin.id}"
    t = token(client, url)
    r = client.post(url, data={"csrf_token": t, "display_name": "Anna Admin", "roles": "clerk"})
    assert r.status_code == 400
    assert "Sie können sich die Rolle Administration nicht selbst entziehen" in r.text
    r = client.post(f"{url}/active", data={"csrf_token": t, "active": "no"})
    assert r.status_code == 400 and "Sie können Ihr eigenes Konto nicht deaktivieren" in r.text
    me = user_named(db, "admin")
    assert me.active and "admin" in me.roles and admin_events(db) == []


def test_forged_user_ids_of_another_municipality_are_not_found(client, db, admin, foreign_clerk):
    login(client, "admin")
    t = token(client)
    url = f"/admin/users/{foreign_clerk.id}"
    assert client.get(url).status_code == 404
    assert (
        client.post(url, data={"csrf_token": t, "display_name": "X", "roles": "admin"}).status_code
        == 404
    )
    assert client.post(f"{url}/active", data={"csrf_token": t, "active": "no"}).status_code == 404
    r = client.post(f"{url}/reset-password", data={"csrf_token": t})
    assert r.status_code == 404 and "Uwe Fremd" not in r.text
    assert client.get("/admin/users/999999").status_code == 404
    foreign = user_named(db, "foreign")
    assert (
        foreign.active
        and foreign.roles == ["clerk", "approver"]
        and foreign.display_name == "Uwe Fremd"
    )
    assert admin_events(db) == []
