"""Languages: German first (message ids are the German texts), English from a Babel catalog.

The catalogs are ``locale/<lang>/LC_MESSAGES/messages.po``; they are compiled in memory at
start-up, so there is no build step and no generated file to forget. A missing English
translation falls back to German, never to an empty string (ADR 0001).
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from services.config import ROOT

LANGUAGES = {"de": "Deutsch", "en": "English"}
DEFAULT = "de"
LOCALES = {"de": "de_DE", "en": "en_GB"}
COOKIE = "amtsweg_lang"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == DEFAULT:
        return gettext.NullTranslations()
    path = ROOT / "locale" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer)


def normalise(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


def gettext_for(lang: str):
    t = translations(normalise(lang))

    def _(message: str, **params: object) -> str:
        text = t.gettext(message)
        return text % params if params else text

    return _


def set_language(response, lang: str) -> None:
    """Remember the language for a year (a functional cookie, no consent needed)."""
    response.set_cookie(
        COOKIE, normalise(lang), max_age=365 * 24 * 3600, samesite="lax", httponly=True, path="/"
    )


def pick(text: object, lang: str) -> str:
    """A flash or message: plain string, {"de": …, "en": …} or an object with .get(lang)."""
    if isinstance(text, dict):
        return text.get(lang) or text.get(DEFAULT) or ""
    if hasattr(text, "get"):
        return text.get(lang)
    return str(text)
