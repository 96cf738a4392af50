"""Staff accounts: argon2 password hashes, login with throttling, user management."""

from __future__ import annotations

import functools
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from forms.model import Text
from services.accounts.models import StaffUser
from services.errors import DomainError
from services.timeutil import aware, utcnow

_hasher = PasswordHasher()
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
KNOWN_ROLES = ("clerk", "approver", "admin")


# Verified against when the user does not exist, so timing does not reveal user names.
@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")  # made on first use: ~0.2 s at start-up saved


class LoginFailed(DomainError):
    status = 400


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(db: Session, username: str, password: str) -> StaffUser:
    user = db.exec(select(StaffUser).where(StaffUser.username == username.strip().lower())).first()
    wrong = LoginFailed(
        Text(de="Benutzername oder Passwort ist falsch.", en="The user name or password is wrong.")
    )
    if user is None or not user.active:
        try:
            _hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        raise wrong
    now = utcnow()
    if user.locked_until and aware(user.locked_until) > now:
        raise LoginFailed(
            Text(
                de=f"Zu viele Fehlversuche. Die Anmeldung ist bis "
                f"{aware(user.locked_until).astimezone().strftime('%H:%M')} Uhr gesperrt.",
                en="Too many failed attempts. Login is locked for a few minutes.",
            )
        )
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        db.add(user)
        db.flush()
        raise wrong from None
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    db.add(user)
    db.flush()
    return user


def end_sessions(db: Session, user: StaffUser) -> None:
    """End every session of ``user`` at once, on every device: raise the account's session
    epoch, which each session stored at login and ``current_staff`` compares on every
    request. The one rule for logout, password reset, role change, disabling/enabling and
    re-creating an account. The increment happens in the database (``UPDATE … SET
    session_epoch = session_epoch + 1``), so two concurrent calls can never both write the
    same number and leave a session alive; it takes effect when the transaction commits."""
    if user.id is None:  # not stored yet: no session can carry its epoch
        return
    epoch = db.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(session_epoch=StaffUser.session_epoch + 1)
        .returning(StaffUser.session_epoch)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(user, "session_epoch", epoch)


def session_is_current(user: StaffUser, epoch: object) -> bool:
    """Whether a session that stored ``epoch`` at login is still valid for ``user``."""
    return type(epoch) is int and epoch == user.session_epoch


def get_active(db: Session, user_id: int) -> StaffUser | None:
    user = db.get(StaffUser, user_id)
    return user if user and user.active else None


def create_user(
    db: Session,
    *,
    municipality_id: int,
    username: str,
    display_name: str,
    password: str,
    roles: list[str],
    email: str = "",
    phone: str = "",
) -> StaffUser:
    unknown = set(roles) - set(KNOWN_ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
    if len(password) < 12:
        raise ValueError("passwords must have at least 12 characters")
    password_hash = hash_password(password)  # before any row is locked (it takes a while)
    user = db.exec(select(StaffUser).where(StaffUser.username == username.lower())).first()
    if user is None:
        user = StaffUser(
            municipality_id=municipality_id,
            username=username.lower(),
            display_name=display_name,
            password_hash="",
            roles=[],
        )
    else:  # re-created with a new password: the old sessions end
        end_sessions(db, user)
    user.municipality_id = municipality_id
    user.display_name = display_name
    user.password_hash = password_hash
    user.roles = sorted(set(roles))
    user.email = email
    user.phone = phone
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    db.add(user)
    db.flush()
    return user


def set_active(db: Session, username: str, active: bool) -> StaffUser:
    user = db.exec(select(StaffUser).where(StaffUser.username == username.lower())).first()
    if user is None:
        raise ValueError(f"no such user: {username}")
    user.active = active
    end_sessions(db, user)
    db.add(user)
    db.flush()
    return user
