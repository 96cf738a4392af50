"""Media type sniffing for uploads: the content decides, never the file name.

The three document types the product accepts (PDF, JPEG, PNG) are recognised only by
explicit signature checks below; ``puremagic`` names everything else. Content that looks
active (HTML, SVG/XML, scripts, executables, archives) is never reported as one of the
document types, whatever its name or whatever a later part of the file contains.
"""

from __future__ import annotations

import re

import puremagic

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOCUMENT_TYPES = (PDF, JPEG, PNG)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PDF_MARKER = b"%PDF-"
# PDF readers accept the header anywhere in the first 1024 bytes (ISO 32000-1, Annex H).
_PDF_HEADER_WINDOW = 1024

# Leading bytes of content that can execute or carry other files, with its media type.
_ACTIVE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "application/vnd.microsoft.portable-executable"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xca\xfe\xba\xbe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"PK\x07\x08", "application/zip"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"#!", "text/x-script"),
)
# A tag-like sequence: markup that a browser could render or run.
_MARKUP = re.compile(rb"<\s*[a-z!?/]", re.IGNORECASE)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _strip_text_start(head: bytes) -> bytes:
    for bom in _TEXT_BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    return head.replace(b"\x00", b"").lstrip()


def _active_type(head: bytes) -> str | None:
    """The media type of active content at the start of ``head``, else None."""
    for signature, media_type in _ACTIVE_SIGNATURES:
        if head.startswith(signature):
            return media_type
    text = _strip_text_start(head)
    if text.startswith(b"#!"):
        return "text/x-script"
    if text.startswith(b"<"):
        lowered = text[:512].lower()
        if b"<svg" in lowered:
            return "image/svg+xml"
        if lowered.startswith(b"<?xml"):
            return "application/xml"
        return "text/html"
    return None


def _puremagic_type(content: bytes) -> str | None:
    """puremagic's best guess, never one of the document types (those need our checks)."""
    try:
        matches = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        return None
    for match in matches:
        if match.mime_type and match.mime_type not in DOCUMENT_TYPES:
            return match.mime_type
    return "application/octet-stream" if matches else None


def sniff(content: bytes) -> str | None:
    """The media type of ``content`` judged by its bytes; None for text or unknown content.

    Only a real PDF, JPEG or PNG signature yields a document type. HTML, scripts,
    executables and archives come back as their own (never allowed) type.
    """
    if not content:
        return None
    head = content[: _PDF_HEADER_WINDOW + len(_PDF_MARKER)]
    if head.startswith(_PNG_SIGNATURE):
        return PNG
    if head.startswith(_JPEG_SIGNATURE):
        return JPEG
    if head.startswith(_PDF_MARKER):
        return PDF
    active = _active_type(head)
    if active is not None:
        return active
    at = head.find(_PDF_MARKER, 0, _PDF_HEADER_WINDOW + len(_PDF_MARKER) - 1)
    if at > 0 and not _MARKUP.search(head[:at]):
        return PDF
    return _puremagic_type(content)
