"""Staff accounts: argon2 password hashes, login with throttling, user management."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from forms.model import Text
from services.accounts.models import LoginThrottle, StaffUser
from services.db import insert_for
from services.errors import DomainError
from services.timeutil import aware, local, utcnow

_hasher = PasswordHasher()
# Login throttling (``authenticate``). Failed attempts are counted per user name from one
# client address, and per client address over all names; the same rules hold for names
# that exist and names that do not, so the answers never tell which accounts exist. Someone
# guessing elsewhere cannot lock a clerk out: the clerk's own address keeps its own count.
MAX_FAILED_LOGINS = 5  # one name from one address
MAX_FAILED_LOGINS_PER_ADDRESS = 30  # any names from one address (trying many names)
LOCK_MINUTES = 15  # the lock, and the window in which failures add up
ANY_NAME = ""  # the ``username`` of an address's count over all names
KNOWN_ROLES = ("clerk", "approver", "admin")


# Verified against when the user does not exist, so timing does not reveal user names.
@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")  # made on first use: ~0.2 s at start-up saved


class LoginFailed(DomainError):
    status = 400


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(db: Session, username: str, password: str, address: str = "") -> StaffUser:
    """The active account ``username`` if ``password`` is right and neither the name from
    this client ``address`` nor the address is locked; else ``LoginFailed``. Every attempt,
    for a known, unknown, disabled or locked name, costs one argon2 verification (about
    0.4 s) and gets the same answers, so neither message nor timing reveals accounts."""
    name, address = username.strip().lower()[:254], address[:64]
    user = db.exec(select(StaffUser).where(StaffUser.username == name)).first()
    now = utcnow()
    locked_until = _locked_until(db, name, address, now)
    usable = user is not None and user.active and locked_until is None
    right = _password_matches(user.password_hash if usable else _dummy_hash(), password)
    if locked_until is not None:
        raise LoginFailed(
            Text(
                de="Zu viele Fehlversuche. Die Anmeldung ist bis "
                f"{local(locked_until).strftime('%H:%M')} Uhr gesperrt.",
                en="Too many failed attempts. Login is locked until "
                f"{local(locked_until).strftime('%H:%M')} (German time).",
            )
        )
    if not (usable and right):
        _count_failure(db, name, address, now)
        raise LoginFailed(
            Text(
                de="Benutzername oder Passwort ist falsch.",
                en="The user name or password is wrong.",
            )
        )
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.username == name, LoginThrottle.address == address
        )
    )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.add(user)
    db.flush()
    return user


def _locked_until(db: Session, name: str, address: str, now: datetime) -> datetime | None:
    """The end of the longest lock on this name from this address or on the address."""
    ends = db.exec(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.address == address,
            LoginThrottle.username.in_([name, ANY_NAME]),
            LoginThrottle.locked_until.is_not(None),
        )
    ).all()
    ends = [aware(end) for end in ends if aware(end) > now]
    return max(ends, default=None)


def _count_failure(db: Session, name: str, address: str, now: datetime) -> None:
    """Count a failed attempt for the name from this address and for the address; a count
    that reaches its limit within LOCK_MINUTES locks for LOCK_MINUTES. One upsert per count
    (race-free: concurrent attempts each add one); expired rows are swept on the way."""
    window = timedelta(minutes=LOCK_MINUTES)
    db.execute(delete(LoginThrottle).where(LoginThrottle.window_ends <= now))
    for key, limit in ((name, MAX_FAILED_LOGINS), (ANY_NAME, MAX_FAILED_LOGINS_PER_ADDRESS)):
        insert = insert_for(db)(LoginThrottle).values(
            username=key, address=address, failures=1, window_ends=now + window
        )
        failures = db.execute(
            insert.on_conflict_do_update(
                index_elements=["username", "address"],
                set_={"failures": LoginThrottle.failures + 1},
            ).returning(LoginThrottle.failures)
        ).scalar_one()
        if failures >= limit:
            db.execute(
                update(LoginThrottle)
                .where(LoginThrottle.username == key, LoginThrottle.address == address)
                .values(failures=0, locked_until=now + window, window_ends=now + window)
            )


def forget_failed_logins(db: Session, username: str) -> None:
    """Lift every lock and count on ``username`` (an administrator reset or re-enabled the
    account); address-wide counts stay."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.username == username.lower()))


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
    forget_failed_logins(db, user.username)
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
