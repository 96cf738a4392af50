"""Request dependencies, declared once as Annotated aliases so route signatures read like
contracts: SessionDep, CurrentStaff; CSRF on every state change."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData

from forms.model import Text
from services.accounts.models import StaffUser
from services.accounts.service import get_active, session_is_current
from services.config import Settings
from services.db import unit_of_work
from services.errors import DomainError


class RedirectTo(Exception):  # noqa: N818 - it is an outcome, not an error
    """Leave the current page for ``url`` (303), optionally with a flash message."""

    def __init__(self, url: str, flash: str | None = None) -> None:
        super().__init__(url)
        self.url = url
        self.flash = flash


class NotLoggedIn(Exception):
    """Staff page requested without a valid session: redirect to the login page."""


class CsrfFailed(DomainError):
    status = 400

    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. "
                "Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
                en="The form expired or was not sent from this site. "
                "Reload the page and try again.",
            )
        )


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """A session per request. State-changing requests take the SQLite write lock for the
    whole request; routes commit explicitly before they answer, so nothing acknowledged is lost."""
    with unit_of_work(request.app.state.engine, lock=request.method == "POST") as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def ensure_csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


class BadForm(DomainError):
    status = 400

    def __init__(self, message: Text, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


MAX_FILES = 20
MAX_FIELDS = 400
MAX_PART_BYTES = 50 * 1024 * 1024


async def read_form(request: Request) -> FormData:
    """Parse a posted form once, with limits; broken or oversized input gets a clear page."""
    try:
        return await request.form(
            max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES
        )
    except Exception as exc:  # MultiPartException, decoding errors, client disconnects
        if "size" in str(exc).lower() or "too many" in str(exc).lower():
            raise BadForm(
                Text(
                    de="Die gesendeten Daten sind zu groß oder enthalten zu viele Dateien. Eine "
                    "Datei darf höchstens 10 MB groß sein. Ihre bisher gespeicherten Angaben "
                    "bleiben erhalten.",
                    en="The data sent is too large or has too many files. A file may be at most "
                    "10 MB. Your saved answers are kept.",
                ),
                status=413,
            ) from None
        raise BadForm(
            Text(
                de="Die gesendeten Daten konnten nicht gelesen werden. Bitte gehen Sie zurück "
                "und senden Sie das Formular erneut. Ihre bisher gespeicherten Angaben bleiben "
                "erhalten.",
                en="The data sent could not be read. Go back and send the form again. Your saved "
                "answers are kept.",
            )
        ) from None


FormDep = Annotated[FormData, Depends(read_form)]
"""The posted form for plain ``def`` routes: parsed on the event loop by this async
dependency (Starlette caches it on the request, so ``verify_csrf`` and the route share one
parse); the route itself then runs in the thread pool and reads uploads with
``upload.file.read()``."""


async def verify_csrf(request: Request) -> None:
    """Every POST must carry the session's CSRF token (form field or X-CSRF-Token header)."""
    if request.method != "POST":
        ensure_csrf_token(request)
        return
    expected = request.session.get("csrf", "")
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await read_form(request)).get("csrf_token", ""))
    if not expected or not hmac.compare_digest(expected, sent):
        raise CsrfFailed()


def current_staff(request: Request, db: SessionDep, settings: SettingsDep) -> StaffUser:
    """The logged-in staff member, or NotLoggedIn: no session, idle too long, account
    disabled, or the session was ended (its stored epoch is not the account's any more:
    logout, password reset, role change, disabling; see accounts.service.end_sessions)."""
    user_id = request.session.get("staff_id")
    seen = request.session.get("staff_seen", 0)
    if not user_id:
        raise NotLoggedIn()

    def refuse(flash: str | None = None) -> NotLoggedIn:
        for key in ("staff_id", "staff_epoch", "staff_seen"):
            request.session.pop(key, None)
        if flash:
            request.session["flash"] = flash
        return NotLoggedIn()

    if time.time() - seen > settings.session_timeout_minutes * 60:
        raise refuse(
            "Ihre Sitzung ist wegen Inaktivität abgelaufen. Bitte melden Sie sich erneut an."
        )
    user = get_active(db, user_id)
    if user is None:
        raise refuse()
    if not session_is_current(user, request.session.get("staff_epoch")):
        raise refuse("Ihre Sitzung wurde beendet. Bitte melden Sie sich erneut an.")
    request.session["staff_seen"] = int(time.time())
    return user


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]
