"""Request dependencies, declared once as Annotated aliases so route signatures read like
contracts: SessionDep, CurrentStaff; CSRF on every state change."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

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
        # Starlette tells the limits apart only by the message ("Too many fields. ...").
        problem = str(exc).lower()
        if "too many fields" in problem:
            raise BadForm(
                Text(
                    de=f"Das Formular enthält zu viele Felder (höchstens {MAX_FIELDS}). Bitte "
                    "laden Sie die Seite neu und senden Sie das Formular erneut. Ihre bisher "
                    "gespeicherten Angaben bleiben erhalten.",
                    en=f"The form has too many fields (at most {MAX_FIELDS}). Reload the page "
                    "and send the form again. Your saved answers are kept.",
                ),
                status=413,
            ) from None
        if "too many files" in problem:
            raise BadForm(
                Text(
                    de=f"Es wurden zu viele Dateien auf einmal gesendet (höchstens {MAX_FILES}). "
                    "Bitte laden Sie weniger Dateien auf einmal hoch. Ihre bisher gespeicherten "
                    "Angaben bleiben erhalten.",
                    en=f"Too many files were sent at once (at most {MAX_FILES}). Upload fewer "
                    "files at a time. Your saved answers are kept.",
                ),
                status=413,
            ) from None
        if "size" in problem:
            raise BadForm(
                Text(
                    de="Die gesendeten Daten sind zu groß. Eine Datei darf höchstens 10 MB groß "
                    "sein. Ihre bisher gespeicherten Angaben bleiben erhalten.",
                    en="The data sent is too large. A file may be at most 10 MB. Your saved "
                    "answers are kept.",
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


class ForeignOrigin(DomainError):
    status = 403
    title = Text(de="Anfrage abgelehnt", en="Request refused")

    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Dieses Formular wurde von einer anderen Website aus gesendet und deshalb "
                "nicht angenommen. Bitte öffnen Sie die Seite direkt über die Adresse dieses "
                "Dienstes und senden Sie das Formular dort noch einmal.",
                en="This form was sent from another website and was therefore not accepted. "
                "Open the page directly at this service's address and send the form there again.",
            )
        )


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower case, without a default port; ""
    for anything else."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    scheme = parts.scheme.lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def check_origin(request: Request) -> None:
    """The second line behind the CSRF token: a state-changing request that names the page
    it comes from (``Origin``; without it, ``Referer``) must come from this service, i.e.
    from the configured public address (AMTSWEG_BASE_URL) or the address the request was
    sent to. ``Origin: null`` (sandboxed or opaque senders) is foreign too. A request that
    names none (older clients, privacy settings) is left to the token."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer", "")
        if not referer:
            return
        origin = referer
    own = {origin_of(request.app.state.settings.base_url), origin_of(str(request.base_url))}
    sent = origin_of(origin)
    if not sent or sent not in own:
        raise ForeignOrigin()


async def verify_csrf(request: Request) -> None:
    """Every POST must come from this service's own pages (``check_origin``) and carry the
    session's CSRF token (form field or X-CSRF-Token header)."""
    if request.method != "POST":
        ensure_csrf_token(request)
        return
    check_origin(request)
    expected = request.session.get("csrf", "")
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await read_form(request)).get("csrf_token", ""))
    if not expected or not hmac.compare_digest(expected, sent):
        raise CsrfFailed()


class BadAddress(DomainError):
    status = 400
    title = Text(de="Ungültige Adresse", en="Invalid address")


async def refuse_nul(request: Request) -> None:
    """An address with a NUL character (``%00``) names nothing here: no text column stores
    it (PostgreSQL refuses it outright), so it never reaches a route. Applied to every route
    by ``create_app``; a NUL in posted form answers is refused by the form engine."""
    if "\x00" in request.scope["path"]:
        raise HTTPException(404)
    if b"%00" in request.scope["query_string"] or b"\x00" in request.scope["query_string"]:
        raise BadAddress(
            Text(
                de="Die Adresse enthält ein unzulässiges Zeichen (NUL). Bitte prüfen Sie die "
                "Adresse oder gehen Sie zurück.",
                en="The address contains a character that is not allowed (NUL). Check the "
                "address or go back.",
            )
        )


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
