"""Staff login and logout."""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from services.accounts import service
from services.web.deps import NotLoggedIn, SessionDep, SettingsDep, current_staff, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/office", dependencies=[Depends(verify_csrf)])


def _safe_next(target: str) -> str:
    return target if target.startswith("/office") and not target.startswith("//") else "/office/"


@router.get("/login")
def login_page(request: Request, next: str = "/office/") -> Response:
    return render(request, "office/login.html", next=_safe_next(next), errors={}, username="")


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/office/",
) -> Response:
    errors = {}
    if not username.strip():
        errors["username"] = "Bitte geben Sie Ihren Benutzernamen an."
    if not password:
        errors["password"] = "Bitte geben Sie Ihr Passwort an."
    if not errors:
        try:
            # The client's address (behind a trusted proxy, the one it forwarded).
            address = request.client.host if request.client else ""
            user = service.authenticate(db, username, password, address)
        except service.LoginFailed as exc:
            db.commit()  # keep the failed-attempt count
            errors["password"] = exc.message.de
        else:
            db.commit()
            request.session.clear()  # new session on login (no fixation)
            request.session.update(
                staff_id=user.id,
                staff_epoch=user.session_epoch,  # valid until the account's epoch moves on
                staff_seen=int(time.time()),
                csrf=secrets.token_urlsafe(32),
            )
            return RedirectResponse(_safe_next(next), status_code=303)
    return render(
        request,
        "office/login.html",
        status_code=422,
        next=_safe_next(next),
        errors=errors,
        username=username,
    )


@router.post("/logout")
def logout(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    """End every session of the account (a copy of the cookie, another device), then clear
    this one. A session that is no longer valid (ended, timed out) ends nothing more: an old
    copied cookie cannot log the user out elsewhere."""
    try:
        user = current_staff(request, db, settings)
    except NotLoggedIn:
        pass
    else:
        service.end_sessions(db, user)
        db.commit()
    request.session.clear()
    request.session["flash"] = "Sie wurden abgemeldet."
    return RedirectResponse("/office/login", status_code=303)
