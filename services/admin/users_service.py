"""Staff accounts as administrators manage them, always within their own municipality:
create, change name/e-mail/roles, disable/enable, reset the password. Every change is an
admin audit event; passwords and their hashes are never logged. A role change, disabling or
enabling and a password reset end every session of the account at once
(``accounts.service.end_sessions``)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlmodel import Session, select

from forms import check_text
from forms.model import Text
from services.accounts.models import StaffUser
from services.accounts.service import (
    KNOWN_ROLES,
    end_sessions,
    forget_failed_logins,
    hash_password,
)
from services.admin.municipality_service import FormProblems
from services.audit.service import record_admin
from services.documents.fonts import printable
from services.errors import NotFound

ROLE_LABELS = {
    "clerk": "Sachbearbeitung",
    "approver": "Freigabe (Vier-Augen-Prinzip)",
    "admin": "Administration",
}
MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Generated passwords: no look-alike characters, 16 of them (about 90 bits).
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class SelfLockout(ValueError):
    """An admin tried to disable themselves or drop their own admin role."""


def generate_password(length: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def users_of(db: Session, municipality_id: int) -> list[StaffUser]:
    return list(
        db.exec(
            select(StaffUser)
            .where(StaffUser.municipality_id == municipality_id)
            .order_by(StaffUser.display_name, StaffUser.username)
        )
    )


def user_of(db: Session, admin: StaffUser, user_id: int) -> StaffUser:
    """A user of the admin's municipality; any other id is "not found" (never "forbidden",
    which would confirm that it exists)."""
    user = db.get(StaffUser, user_id)
    if user is None or user.municipality_id != admin.municipality_id:
        raise NotFound(
            Text(
                de="Dieses Benutzerkonto gibt es nicht, oder Sie dürfen es nicht verwalten.",
                en="This account does not exist or you may not manage it.",
            )
        )
    return user


def _snapshot(user: StaffUser) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "roles": list(user.roles),
        "active": user.active,
    }


def _record(db: Session, admin: StaffUser, action: str, user: StaffUser, before, after) -> None:
    record_admin(
        db,
        municipality_id=admin.municipality_id,
        actor_id=admin.id,
        actor_name=admin.display_name,
        action=action,
        target=f"user:{user.username}",
        before=before,
        after=after,
    )


def check_roles(roles: list[str], problems: FormProblems) -> list[str]:
    chosen = sorted({r for r in roles if r in KNOWN_ROLES})
    if not chosen:
        problems.add("roles", "Wählen Sie mindestens eine Rolle.")
    return chosen


def _check_name_and_email(display_name: str, email: str, problems: FormProblems) -> None:
    if not display_name:
        problems.add("display_name", "Geben Sie den Namen der Person an.")
    elif len(display_name) > 120:
        problems.add("display_name", "Der Name darf höchstens 120 Zeichen lang sein.")
    elif refused := check_text("display_name", Text(de="Name"), display_name, printable=printable):
        problems.add("display_name", refused.message("de"))
    if email and (not _EMAIL.match(email) or len(email) > 254):
        problems.add("email", "Geben Sie eine E-Mail-Adresse im Format name@beispiel.de an.")
    elif email and (refused := check_text("email", Text(de="E-Mail-Adresse"), email)):
        problems.add("email", refused.message("de"))


def check_new_user(db: Session, form: dict[str, Any]) -> tuple[dict[str, Any], FormProblems]:
    problems = FormProblems()
    username = str(form.get("username", "")).strip().lower()
    display_name = " ".join(str(form.get("display_name", "")).split())
    email = str(form.get("email", "")).strip()
    generate = form.get("generate") == "yes"
    password = str(form.get("password", ""))
    if not username:
        problems.add("username", "Geben Sie einen Benutzernamen an.")
    elif not _USERNAME.match(username):
        problems.add(
            "username",
            "Der Benutzername darf nur Kleinbuchstaben, Ziffern, Punkt, Binde- und Unterstrich "
            "enthalten (2 bis 60 Zeichen, z. B. p.schulze).",
        )
    elif db.exec(select(StaffUser).where(StaffUser.username == username)).first():
        problems.add("username", "Diesen Benutzernamen gibt es schon. Wählen Sie einen anderen.")
    _check_name_and_email(display_name, email, problems)
    roles = check_roles(list(form.get("roles", [])), problems)
    if generate:
        password = generate_password()
    elif len(password) < MIN_PASSWORD:
        problems.add(
            "password",
            f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein, oder lassen Sie "
            "eines erzeugen.",
        )
    values = {
        "username": username,
        "display_name": display_name,
        "email": email,
        "roles": roles,
        "password": password,
        "generated": generate,
    }
    return values, problems


def create(db: Session, admin: StaffUser, values: dict[str, Any]) -> StaffUser:
    user = StaffUser(
        municipality_id=admin.municipality_id,
        username=values["username"],
        display_name=values["display_name"],
        email=values["email"],
        password_hash=hash_password(values["password"]),
        roles=values["roles"],
    )
    db.add(user)
    db.flush()
    _record(db, admin, "user_created", user, {}, _snapshot(user))
    return user


def check_update(form: dict[str, Any]) -> tuple[dict[str, Any], FormProblems]:
    problems = FormProblems()
    display_name = " ".join(str(form.get("display_name", "")).split())
    email = str(form.get("email", "")).strip()
    _check_name_and_email(display_name, email, problems)
    roles = check_roles(list(form.get("roles", [])), problems)
    return {"display_name": display_name, "email": email, "roles": roles}, problems


def update(db: Session, admin: StaffUser, user: StaffUser, values: dict[str, Any]) -> list[str]:
    """Change name, e-mail and roles; returns the changed field names. A role change ends
    the account's sessions (a change of name or e-mail does not)."""
    if user.id == admin.id and "admin" not in values["roles"]:
        raise SelfLockout(
            "Sie können sich die Rolle Administration nicht selbst entziehen. Bitten Sie eine "
            "andere Administratorin oder einen anderen Administrator darum."
        )
    before, after = {}, {}
    for key, value in values.items():
        old = list(user.roles) if key == "roles" else getattr(user, key)
        if old != value:
            before[key], after[key] = old, value
            setattr(user, key, value)
    if after:
        db.add(user)
        if "roles" in after:
            end_sessions(db, user)
        _record(db, admin, "user_updated", user, before, after)
    return list(after)


def set_active(db: Session, admin: StaffUser, user: StaffUser, active: bool) -> bool:
    if user.id == admin.id and not active:
        raise SelfLockout(
            "Sie können Ihr eigenes Konto nicht deaktivieren. Bitten Sie eine andere "
            "Administratorin oder einen anderen Administrator darum."
        )
    if user.active == active:
        return False
    user.active = active
    if active:
        forget_failed_logins(db, user.username)
    db.add(user)
    end_sessions(db, user)
    _record(
        db,
        admin,
        "user_enabled" if active else "user_disabled",
        user,
        {"active": not active},
        {"active": active},
    )
    return True


def reset_password(db: Session, admin: StaffUser, user: StaffUser) -> str:
    """A new generated password (returned once, to be shown once); unlocks the account and
    ends its sessions."""
    password = generate_password()
    user.password_hash = hash_password(password)
    forget_failed_logins(db, user.username)
    db.add(user)
    end_sessions(db, user)
    _record(db, admin, "user_password_reset", user, {}, {"password_reset": True})
    return password
