"""Jinja2 pages: one environment, German formatting filters, gettext hooks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

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


@pass_context
def date_local(ctx, value: Any) -> str:
    """Dates per language (24.11.2026 / 24/11/2026); timestamps (stored in UTC) on the
    Berlin calendar day."""
    text = date_de(local(value) if isinstance(value, datetime) else value)
    return text.replace(".", "/") if ctx.get("lang") == "en" else text


@pass_context
def datetime_de(ctx, value: datetime | None) -> str:
    if not value:
        return ""
    if ctx.get("lang") == "en":
        return local(value).strftime("%d/%m/%Y, %H:%M")
    return local(value).strftime("%d.%m.%Y, %H:%M Uhr")


@pass_context
def money_local(ctx, value: Any) -> str:
    """1.234,56 € in German, €1,234.56 in English."""
    if ctx.get("lang") == "en":
        return format_currency(Decimal(str(value)), "EUR", locale="en_GB")
    return money_de(value)


def age_days(value: datetime) -> int:
    return (datetime.now(local(value).tzinfo) - local(value)).days


env.filters.update(
    date_de=date_local,
    datetime_de=datetime_de,
    money=money_local,
    chip=format_chip,
    age_days=age_days,
)


def lang_of(request: Request) -> str:
    """The citizen's language: the remembered choice, else German."""
    return normalise(request.cookies.get(COOKIE))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the request, CSRF token, flash message and language in context."""
    session = request.scope.get("session", {})
    flash = session.pop("flash", None) if "session" in request.scope else None
    # The office is German only (staff); the portal follows the citizen's choice.
    lang = context.pop("lang", None) or (
        "de" if template.startswith("office/") else lang_of(request)
    )
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
