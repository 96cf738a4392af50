"""Jinja2 pages: one environment, German formatting filters, gettext hooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from forms.summary import format_chip
from services.config import ROOT
from services.documents.render import date_de, money_de
from services.timeutil import local
from services.web.i18n import COOKIE, LANGUAGES, gettext_for, normalise, pick

env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def date_local(value: Any) -> str:
    """Dates as 24.11.2026; timestamps (stored in UTC) on the Berlin calendar day."""
    return date_de(local(value) if isinstance(value, datetime) else value)


def datetime_de(value: datetime | None) -> str:
    return local(value).strftime("%d.%m.%Y, %H:%M Uhr") if value else ""


def age_days(value: datetime) -> int:
    return (datetime.now(local(value).tzinfo) - local(value)).days


env.filters.update(
    date_de=date_local, datetime_de=datetime_de, money=money_de, chip=format_chip, age_days=age_days
)


def lang_of(request: Request) -> str:
    """The citizen's language: the remembered choice, else German."""
    return normalise(request.cookies.get(COOKIE))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the request, CSRF token, flash message and language in context."""
    session = request.scope.get("session", {})
    flash = session.pop("flash", None) if "session" in request.scope else None
    lang = context.pop("lang", None) or lang_of(request)
    html = env.get_template(template).render(
        request=request,
        csrf_token=session.get("csrf", ""),
        flash=pick(flash, lang) if flash else None,
        lang=lang,
        languages=LANGUAGES,
        _=gettext_for(lang),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
