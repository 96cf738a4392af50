"""PDF rendering of receipts and notices (WeasyPrint, PDF/A-3a, tagged).

* One module-level ``FontConfiguration`` is shared by every render: faster, and memory
  stays flat (a new one per render grows the process).
* One Jinja2 ``Environment`` over ``templates/notices/`` with autoescaping; the
  stylesheet is linked (``<link href="letter.css">``) and resolved through ``base_url``,
  so autoescaping never touches CSS.
* ``render_pdf`` writes PDF/A-3a (structure tree, ``/MarkInfo``, ``/Lang``), sets the
  document metadata and embeds attachments as PDF/A-3 associated files.
* ``warm_up()`` renders a tiny document once; call it at application start-up (the first
  render in a process pays for font loading).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "notices"
PDF_VARIANT = "pdf/a-3a"
PRODUCER = "Amtsweg"

_FONT_LOCK = threading.Lock()  # FontConfiguration is not documented as thread-safe


def __getattr__(name: str):
    """``FONT_CONFIG``: the process's one FontConfiguration, made on first use. WeasyPrint is
    imported only then, so a web process starts without it (about a second less)."""
    if name == "FONT_CONFIG":
        return _font_config()
    raise AttributeError(name)


_font_config_instance = None


def _font_config():
    global _font_config_instance
    if _font_config_instance is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config_instance = FontConfiguration()
    return _font_config_instance


# --------------------------------------------------------------------------- filters


def date_de(value: date | datetime | str | None) -> str:
    """``date``/``datetime``/ISO string -> ``09.06.2026``; ``None`` -> empty string."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            value = date.fromisoformat(text)
    return value.strftime("%d.%m.%Y")


def money_de(value: Decimal | str | int | None) -> str:
    """Decimal or string -> ``1.234,56 €`` (German formatting, two decimals)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        raise TypeError("money_de refuses floats; pass a Decimal or a string")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"money_de: {value!r} is not an amount") from exc
    # babel puts a no-break space before the euro sign, which keeps amounts on one line.
    return format_currency(amount, "EUR", locale="de_DE")


def iban_masked(value: str | None) -> str:
    """``DE89370400440532013000`` -> ``DE89 **** **** **** **30 00``.

    Keeps the country code, the check digits and the last four characters; masks the
    rest; groups by four as printed on bank cards and statements.
    """
    if not value:
        return ""
    iban = re.sub(r"\s+", "", str(value)).upper()
    if len(iban) <= 8:
        return iban
    masked = iban[:4] + "*" * (len(iban) - 8) + iban[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


def iban_grouped(value: str | None) -> str:
    """``DE89370400440532013000`` -> ``DE89 3704 0044 0532 0130 00`` (no masking)."""
    if not value:
        return ""
    iban = re.sub(r"\s+", "", str(value)).upper()
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def chip_grouped(value: str | None) -> str:
    """15-digit transponder number -> ``276 0981 0000 1234`` (3 + 4 + 4 + 4)."""
    if not value:
        return ""
    digits = re.sub(r"\D", "", str(value))
    if len(digits) != 15:
        return str(value)
    return f"{digits[:3]} {digits[3:7]} {digits[7:11]} {digits[11:]}"


def percent_de(value: Decimal | str | int | None) -> str:
    """``Decimal("50")`` -> ``50 %``; ``Decimal("12.5")`` -> ``12,5 %``."""
    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(amount.normalize(), "f").replace(".", ",")
    return f"{text}\u00a0%"


def _make_environment() -> SandboxedEnvironment:
    # Sandboxed: notice templates are edited by administrators (procedure versions).
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["date_de"] = date_de
    env.filters["money_de"] = money_de
    env.filters["iban_masked"] = iban_masked
    env.filters["iban_grouped"] = iban_grouped
    env.filters["chip_grouped"] = chip_grouped
    env.filters["percent_de"] = percent_de
    return env


ENV = _make_environment()


# --------------------------------------------------------------------------- rendering


# Whitespace right after a block's start tag or right before its end tag. WeasyPrint 70
# mis-breaks hyphenated lines in paragraphs that end with collapsible whitespace (a word
# such as "Steuer-" ends up alone on a line), so it is removed after rendering.
_BLOCK_TAGS = "p|li|td|th|h1|h2|h3|h4|caption|div|section|dd|dt"
_TRAILING_WS = re.compile(rf"\s+(</(?:{_BLOCK_TAGS})>)")
_LEADING_WS = re.compile(rf"(<(?:{_BLOCK_TAGS})(?:\s[^>]*)?>)\s+")


def tidy_block_whitespace(html: str) -> str:
    """Drop whitespace at the start and end of block elements (layout-neutral in CSS)."""
    return _LEADING_WS.sub(r"\1", _TRAILING_WS.sub(r"\1", html))


def render_html(
    template_name: str,
    context: Mapping[str, Any],
    *,
    title: str = "",
    lang: str = "de",
    source: str | None = None,
) -> str:
    """Render a template of ``templates/notices/`` to an HTML string; ``source`` is an
    administrator's edited version of it (a procedure version's template), rendered in the
    same sandboxed environment so it can extend ``letter_base.html``."""
    template = ENV.from_string(source) if source else ENV.get_template(template_name)
    html = template.render({**context, "document_title": title, "document_lang": lang})
    return tidy_block_whitespace(html)


def _pdf_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DC = "http://purl.org/dc/elements/1.1/"


def _with_language(generate, lang: str):
    """WeasyPrint 70 writes the catalog's ``/Lang`` but no ``dc:language`` into the XMP
    metadata; wrap its RDF generator to add the document language there too."""

    def generate_rdf_metadata(*args, **kwargs) -> bytes:
        from xml.etree.ElementTree import SubElement, fromstring, tostring

        rdf = fromstring(generate(*args, **kwargs))
        description = SubElement(rdf, f"{{{_RDF}}}Description", {f"{{{_RDF}}}about": ""})
        bag = SubElement(SubElement(description, f"{{{_DC}}}language"), f"{{{_RDF}}}Bag")
        SubElement(bag, f"{{{_RDF}}}li").text = lang
        return tostring(rdf, encoding="utf-8")

    return generate_rdf_metadata


def _list_associated_files_once(document, pdf) -> None:
    """WeasyPrint 70 puts every attachment into the catalog's ``/AF`` twice (once from the
    EmbeddedFiles name tree, once from its file specification): keep each once."""
    import pydyf

    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def html_to_pdf(
    html: str,
    *,
    title: str,
    author: str,
    subject: str = "",
    lang: str = "de",
    attachments: Iterable[tuple[str, bytes, str]] = (),
) -> bytes:
    """Write ready HTML (stylesheets resolved against ``templates/notices/``) as PDF/A-3a."""
    from weasyprint import HTML, Attachment

    now = datetime.now(UTC)
    with _FONT_LOCK:
        document = HTML(string=html, base_url=str(TEMPLATE_DIR) + "/").render(
            font_config=_font_config(), pdf_variant=PDF_VARIANT
        )
        meta = document.metadata
        meta.title = title
        meta.authors = [author] if author else []
        meta.description = subject or None
        meta.lang = lang
        meta.generate_rdf_metadata = _with_language(meta.generate_rdf_metadata, lang)
        meta.generator = PRODUCER
        meta.created = meta.modified = _pdf_date(now)
        pdf_attachments = [
            Attachment(
                string=data,
                name=filename,
                description=description,
                created=now,
                modified=now,
                relationship="Data"
                if filename.lower().endswith((".json", ".xml"))
                else "Supplement",
            )
            for filename, data, description in attachments
        ]
        return document.write_pdf(
            pdf_variant=PDF_VARIANT,
            attachments=pdf_attachments or None,
            finisher=_list_associated_files_once,
        )


def render_pdf(
    template_name: str,
    context: dict,
    *,
    title: str,
    author: str,
    subject: str = "",
    lang: str = "de",
    attachments: Iterable[tuple[str, bytes, str]] = (),
    source: str | None = None,
) -> bytes:
    """Render ``templates/notices/<template_name>`` (or an edited ``source`` of it) with
    ``context`` to PDF/A-3a bytes.

    ``attachments`` are ``(filename, data, description)`` triples, embedded as PDF/A-3
    associated files (``/AF``; relationship ``Data`` for JSON/XML, else ``Supplement``).
    """
    html = render_html(template_name, context, title=title, lang=lang, source=source)
    return html_to_pdf(
        html, title=title, author=author, subject=subject, lang=lang, attachments=attachments
    )


_WARM_UP_HTML = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>Warm-up</title>
<link rel="stylesheet" href="letter.css"></head>
<body><p>Aufwärmen <b>fett</b> <i>kursiv</i> 1.234,56&nbsp;€ – §&nbsp;240 AO</p>
<p style="width: 22mm; hyphens: auto">Rechtsbehelfsbelehrung Verwaltungsgerichtsordnung</p>
<table><tr><th>Fälligkeit</th><td>21,00&nbsp;€</td></tr></table></body></html>
"""
# The narrow hyphenated paragraph matters: loading the German hyphenation dictionary
# (pyphen) is the bulk of the first render's cost (about 0.7 s).


def warm_up() -> float:
    """Compile the templates and render a tiny document once; returns seconds taken.

    Loads fonts, the German hyphenation dictionary and WeasyPrint's caches so that the
    first real notice does not pay for them. Call it once at application start-up.
    """
    started = datetime.now()
    for template in sorted(TEMPLATE_DIR.glob("*.html")):
        ENV.get_template(template.name)  # compile (and cache) every letter template
    html_to_pdf(_WARM_UP_HTML, title="Warm-up", author=PRODUCER)
    from services.documents.fonts import coverage  # what the form engine lets answers contain

    coverage()
    return (datetime.now() - started).total_seconds()
