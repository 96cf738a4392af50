"""The Eingangsbestätigung (receipt) after filing: PDF/A-3a with the filing as JSON.

``render_receipt(context)`` takes plain data (the web app builds it from the case, the
municipality and ``forms.summary.summarize(..., mask=True)``):

    municipality  same keys as for notices (see templates/notices/letter_base.html)
    case          reference, file_number, submitted_at (aware datetime), procedure_title
    owner         given_names, family_name, street, house_number, postal_code, town
    sections      [{"title", "rows": [{"label", "value"}]}]  (or forms.summary.Section)
    attachments   [{"filename", "media_type", "size", "sha256"}]
    letter_date   date

The same data is embedded as ``eingangsbestaetigung.json`` (PDF/A-3 associated file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal

from services.documents.render import render_pdf
from services.timeutil import local

TEMPLATE = "receipt.html"
TEMPLATE_VERSION = "receipt/1"
JSON_FILENAME = "eingangsbestaetigung.json"

_MEDIA_TYPES = {
    "application/pdf": "PDF-Dokument",
    "image/jpeg": "JPEG-Bild",
    "image/png": "PNG-Bild",
    "image/heic": "HEIC-Bild",
    "image/tiff": "TIFF-Bild",
    "image/webp": "WebP-Bild",
    "text/plain": "Textdatei",
    "application/xml": "XML-Datei",
    "application/json": "JSON-Datei",
}
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Long file names may break after these characters (the template puts <wbr> there).
_FILENAME_BREAKS = re.compile(r"(?<=[_.\-])")


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, Mapping) else getattr(obj, key)


def _sections(sections: Any) -> list[dict[str, Any]]:
    """Sections as plain dicts, from dicts or ``forms.summary.Section`` objects."""
    return [
        {
            "title": str(_get(section, "title")),
            "rows": [
                {"label": str(_get(row, "label")), "value": str(_get(row, "value"))}
                for row in _get(section, "rows")
            ],
        }
        for section in sections
    ]


def size_kb(size: int) -> str:
    """Bytes -> ``245,3 KB`` (German decimal comma; at least 0,1 KB for a non-empty file)."""
    kb = size / 1024
    if 0 < kb < 0.1:
        kb = 0.1
    return format_decimal(round(kb, 1), format="#,##0.0", locale="de_DE") + "\u00a0KB"


def _attachments(attachments: Any) -> list[dict[str, Any]]:
    files = []
    for item in attachments:
        sha256 = str(_get(item, "sha256")).strip().lower()
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"attachment {_get(item, 'filename')!r}: not a SHA-256 hex digest")
        files.append(
            {
                "filename": str(_get(item, "filename")),
                "media_type": str(_get(item, "media_type")),
                "size": int(_get(item, "size")),
                "sha256": sha256,
            }
        )
    return files


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def receipt_data(context: Mapping[str, Any]) -> dict[str, Any]:
    """The receipt's content as JSON-ready data (what ``eingangsbestaetigung.json`` holds)."""
    case = context["case"]
    submitted_at = case["submitted_at"]
    if not isinstance(submitted_at, datetime) or submitted_at.tzinfo is None:
        raise ValueError("case.submitted_at must be a timezone-aware datetime")
    return {
        "document": "eingangsbestaetigung",
        "template_version": TEMPLATE_VERSION,
        # The letterhead logo is part of the letter's look, not of the filed data.
        "municipality": _jsonable(
            {k: v for k, v in dict(context["municipality"]).items() if k != "logo_uri"}
        ),
        "case": {
            "reference": case["reference"],
            "file_number": case.get("file_number") or "",
            "procedure_title": case["procedure_title"],
            "submitted_at": submitted_at.isoformat(),
        },
        "owner": _jsonable(dict(context["owner"])),
        "sections": _sections(context["sections"]),
        "attachments": _attachments(context["attachments"]),
        "letter_date": _jsonable(context["letter_date"]),
    }


def render_receipt(context: dict) -> bytes:
    """Render the Eingangsbestätigung as PDF/A-3a bytes with ``eingangsbestaetigung.json``."""
    data = receipt_data(context)
    submitted = local(context["case"]["submitted_at"])
    view = {
        **context,
        "case": {**context["case"]},
        "filed": {"date": submitted.strftime("%d.%m.%Y"), "time": submitted.strftime("%H:%M")},
        "sections": data["sections"],
        "attachments": [
            {
                **f,
                "type_label": _MEDIA_TYPES.get(f["media_type"], f["media_type"]),
                "size_label": size_kb(f["size"]),
                "filename_parts": _FILENAME_BREAKS.split(f["filename"]),
                "sha256_lines": (f["sha256"][:32], f["sha256"][32:]),
            }
            for f in data["attachments"]
        ],
        "json_filename": JSON_FILENAME,
    }
    reference = data["case"]["reference"]
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    return render_pdf(
        TEMPLATE,
        view,
        title=f"Eingangsbestätigung {reference}",
        author=context["municipality"]["name"],
        subject=f"Eingangsbestätigung – {data['case']['procedure_title']}",
        attachments=[(JSON_FILENAME, payload, "Eingangsbestätigung: Angaben und Anlagen (JSON)")],
    )
