"""Sniffing media types from the content: only real PDF, JPEG and PNG count as documents."""

from __future__ import annotations

import io
import struct
import zlib

import pypdf
import pytest

from services.uploads.sniff import DOCUMENT_TYPES, sniff


def pdf_bytes() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes() -> bytes:
    """A valid 1×1 pixel greyscale PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """A JPEG/JFIF header (SOI + APP0) followed by the end-of-image marker."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def test_the_fixtures_are_real_files():
    assert len(pypdf.PdfReader(io.BytesIO(pdf_bytes())).pages) == 1
    assert png_bytes()[12:16] == b"IHDR"


def test_pdf_png_and_jpeg_are_recognised():
    assert sniff(pdf_bytes()) == "application/pdf"
    assert sniff(png_bytes()) == "image/png"
    assert sniff(jpeg_bytes()) == "image/jpeg"


def test_pdf_header_may_follow_some_bytes_within_the_first_kilobyte():
    prefix = b"\x1b%-12345X@PJL JOB\r\n"  # printer job language before the PDF
    assert sniff(prefix + pdf_bytes()) == "application/pdf"
    assert sniff(b"\x00" * 1023 + pdf_bytes()) == "application/pdf"


def test_pdf_header_after_the_first_kilobyte_is_not_a_pdf():
    assert sniff(b"\x00" * 1024 + pdf_bytes()) != "application/pdf"
    assert sniff(b"a" * 2000 + pdf_bytes()) is None


def test_text_empty_and_unknown_content_is_none():
    assert sniff(b"") is None
    assert sniff("Sehr geehrte Damen und Herren, anbei der Nachweis für Bello.".encode()) is None
    assert sniff(b"PDF-1.4 but no percent sign") is None
    assert sniff(bytes(range(7, 40)) * 3) is None


def test_html_is_html_even_with_a_pdf_header_inside():
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script>%PDF-1.4</body></html>"
    assert sniff(html) == "text/html"
    assert sniff(b"\xef\xbb\xbf  \n<html><body>Nachweis</body></html>") == "text/html"
    assert sniff("<html>".encode("utf-16")) == "text/html"


def test_svg_and_xml_are_their_own_types():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    assert sniff(svg) == "image/svg+xml"
    assert sniff(b'<?xml version="1.0"?><note>%PDF-1.4</note>') == "application/xml"


def test_other_binary_types_are_named_by_puremagic():
    assert sniff(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;") == "image/gif"


HOSTILE = {
    "html": b"<html><body>%PDF-1.4</body></html>",
    "script before pdf header": b"  <script>fetch('/x')</script>\n" + pdf_bytes(),
    "markup in pdf prefix": b"hello <iframe src=x></iframe> %PDF-1.4\n",
    "windows executable": b"MZ\x90\x00\x03" + b"\x00" * 60 + b"%PDF-1.4",
    "elf executable": b"\x7fELF\x02\x01\x01" + b"\x00" * 40 + b"%PDF-1.4",
    "zip archive": b"PK\x03\x04\x14\x00" + b"\x00" * 30 + b"%PDF-1.4",
    "gzip": b"\x1f\x8b\x08\x00" + b"\x00" * 20 + b"%PDF-1.4",
    "shell script": b"#!/bin/sh\nrm -rf ~\n# %PDF-1.4\n",
    "ole2 office document": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40 + b"%PDF-",
    "png signature not at the start": b"x" + png_bytes(),
    "jpeg marker not at the start": b"x" + jpeg_bytes(),
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_active_or_disguised_content_is_never_a_document_type(content):
    assert sniff(content) not in DOCUMENT_TYPES


def test_executable_and_archive_types_are_named():
    assert sniff(HOSTILE["windows executable"]) == "application/vnd.microsoft.portable-executable"
    assert sniff(HOSTILE["zip archive"]) == "application/zip"
    assert sniff(HOSTILE["shell script"]) == "text/x-script"
