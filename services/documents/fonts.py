"""Which characters the documents can print.

The notices and receipts are set in the font families named by the ``font-family`` of
``templates/notices/letter.css``. A character none of them has a glyph for would come out of
WeasyPrint as an empty box, so the form engine refuses it in every text answer
(``printable`` of ``forms.validate``), naming the character.

The coverage is the union of the character maps of the regular faces of those families (the
answers print in them), read once per process with fontTools (installed with WeasyPrint);
``render.warm_up`` reads it at start-up. If none of them is installed, nothing is refused (and
a warning is logged): the documents then print with whatever font the system substitutes.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

from services.documents.render import TEMPLATE_DIR

log = logging.getLogger("amtsweg.documents")

# Where fontconfig looks on Linux by default.
FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
)
_GENERIC = {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui"}
_REGULAR = {"regular", "book", "normal", "roman"}


def families() -> list[str]:
    """The font families of the documents' text: the first ``font-family`` of letter.css."""
    css = (TEMPLATE_DIR / "letter.css").read_text(encoding="utf-8")
    declared = re.search(r"font-family:\s*([^;]+);", css)
    names = [n.strip().strip("\"'") for n in declared.group(1).split(",")] if declared else []
    return [n for n in names if n and n.lower() not in _GENERIC]


@cache
def coverage() -> frozenset[int] | None:
    """Code points the documents' fonts have glyphs for; None if none of them is installed."""
    from fontTools.ttLib import TTFont, TTLibError

    wanted = {name.casefold() for name in families()}
    found: set[int] = set()
    seen_family = False
    for folder in FONT_DIRS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in (".ttf", ".otf"):
                continue
            try:
                with TTFont(path, lazy=True) as font:
                    names = font["name"]
                    family = (names.getBestFamilyName() or "").casefold()
                    style = (names.getBestSubFamilyName() or "").casefold()
                    if family not in wanted or style not in _REGULAR:
                        continue
                    found.update(font.getBestCmap() or {})
                    seen_family = True
            except (TTLibError, OSError, KeyError):
                continue
    if not seen_family:
        log.warning("none of the document fonts %s is installed; no character is refused", wanted)
        return None
    return frozenset(found)


def printable(char: str) -> bool:
    """Whether the documents can print ``char`` (one character)."""
    glyphs = coverage()
    return glyphs is None or ord(char) in glyphs
