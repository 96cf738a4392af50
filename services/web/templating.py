"""Jinja2 pages: one environment, German formatting filters, gettext hooks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from forms.summary import format_chip
from services.config import ROOT
from services.timeutil import local

env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]

LOCALES = {"de": "de_DE", "en": "en_GB"}


def date_de(value: date | datetime | str | None, lang: str = "de") -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = local(value).date()
    return format_date(value, "dd.MM.yyyy", locale=LOCALES.get(lang, "de_DE"))


def datetime_de(value: datetime | None) -> str:
    return local(value).strftime("%d.%m.%Y, %H:%M Uhr") if value else ""


def money(value: Decimal | str | float, lang: str = "de") -> str:
    return format_currency(Decimal(str(value)), "EUR", locale=LOCALES.get(lang, "de_DE"))


def age_days(value: datetime) -> int:
    return (datetime.now(local(value).tzinfo) - local(value)).days


env.filters.update(
    date_de=date_de, datetime_de=datetime_de, money=money, chip=format_chip, age_days=age_days
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the request, CSRF token, flash message and language in context."""
    session = request.scope.get("session", {})
    flash = session.pop("flash", None) if "session" in request.scope else None
    context.setdefault("lang", "de")
    html = env.get_template(template).render(
        request=request, csrf_token=session.get("csrf", ""), flash=flash, **context
    )
    return HTMLResponse(html, status_code=status_code)
