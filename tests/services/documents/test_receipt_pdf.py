"""The Eingangsbestätigung renders as a tagged PDF/A-3a with the filing embedded as JSON."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import time
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from forms.summary import Row, Section
from services.documents.receipt import JSON_FILENAME, receipt_data, render_receipt, size_kb

PERMIT_SHA = hashlib.sha256(b"Erlaubnis nach 6 HundehV").hexdigest()
INSURANCE_SHA = hashlib.sha256(b"Versicherungsbestaetigung").hexdigest()


def receipt_context() -> dict:
    return {
        "municipality": {
            "name": "Stadt Herzberg (Elster)",
            "authority": "Der Bürgermeister",
            "department": "20 – Kämmerei",
            "street": "Markt 1",
            "postal_code": "04916",
            "town": "Herzberg (Elster)",
            "phone": "(03535) 482-253",
            "email": "steueramt@herzberg-elster.de",
            "website": "www.herzberg-elster.de",
            "bank_name": "Sparkasse Elbe-Elster",
            "iban": "DE12180510003100012345",
            "bic": "WELADED1EES",
            "creditor_id": "DE98ZZZ09999999999",
            "office_hours": "Di 9–12 und 13–18 Uhr, Do 9–12 und 13–15 Uhr",
        },
        "case": {
            "reference": "HST-2026-000123",
            "file_number": "20.2-HSt-000123/2026",
            "submitted_at": datetime(2026, 5, 20, 12, 32, 5, tzinfo=UTC),  # 14:32 in Berlin
            "procedure_title": "Hund anmelden (Hundesteuer)",
        },
        "owner": {
            "given_names": "Anna-Lena",
            "family_name": "Müller-Lüdenscheidt",
            "street": "Lindenstraße",
            "house_number": "12a",
            "postal_code": "04916",
            "town": "Herzberg (Elster)",
        },
        "sections": [
            {
                "title": "Halterin oder Halter",
                "rows": [
                    {"label": "Vornamen", "value": "Anna-Lena"},
                    {"label": "Familienname", "value": "Müller-Lüdenscheidt"},
                    {"label": "Geburtsdatum", "value": "12.08.1980"},
                    {"label": "Anschrift", "value": "Lindenstraße 12a, 04916 Herzberg (Elster)"},
                    {"label": "E-Mail", "value": "anna-lena.mueller-luedenscheidt@example.org"},
                ],
            },
            {
                "title": "Hund",
                "rows": [
                    {"label": "Rufname", "value": "Bello"},
                    {"label": "Rasse", "value": "Labrador-Retriever-Mischling"},
                    {"label": "Farbe", "value": "schwarz mit weißer Brust"},
                    {"label": "Geschlecht", "value": "Rüde"},
                    {"label": "Geburtsdatum", "value": "02.03.2024"},
                    {"label": "Transpondernummer (Chip)", "value": "276 0981 0000 1234"},
                    {"label": "Im Haushalt seit", "value": "14.05.2026"},
                ],
            },
            {
                "title": "Gefährlicher Hund",
                "rows": [
                    {
                        "label": "Hat die Ordnungsbehörde den Hund als gefährlich eingestuft?",
                        "value": "Ja",
                    },
                    {"label": "Aktenzeichen der Entscheidung", "value": "32.1-GH-17/2026"},
                    {"label": "Haftpflichtversicherung", "value": "Elster Versicherung"},
                ],
            },
            {
                "title": "Zahlung",
                "rows": [
                    {"label": "Zahlungsweise", "value": "SEPA-Lastschrift"},
                    {"label": "Zahlungsrhythmus", "value": "vierteljährlich"},
                    {"label": "IBAN", "value": "DE89 **** **** **** **30 00"},
                    {"label": "Einwilligung SEPA-Lastschriftmandat", "value": "Bestätigt"},
                ],
            },
        ],
        "attachments": [
            {
                "filename": "Erlaubnis_nach_§6_HundehV_Müller-Lüdenscheidt_2026.pdf",
                "media_type": "application/pdf",
                "size": 254_321,
                "sha256": PERMIT_SHA,
            },
            {
                "filename": "Versicherungsbestätigung.jpg",
                "media_type": "image/jpeg",
                "size": 1_843_200,
                "sha256": INSURANCE_SHA,
            },
        ],
        "letter_date": date(2026, 5, 20),
    }


def _text(reader: PdfReader) -> str:
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    text = re.sub("\u2010\\s*\n\\s*", "", text).replace("\u2010", "-")  # soft hyphenation
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


@pytest.fixture(scope="module")
def receipt_pdf() -> bytes:
    pdf = render_receipt(receipt_context())
    with open("/tmp/receipt_sample.pdf", "wb") as fh:  # for a look with pdftoppm
        fh.write(pdf)
    return pdf


@pytest.fixture(scope="module")
def reader(receipt_pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(receipt_pdf))


def test_receipt_states_what_was_filed_and_when(reader: PdfReader) -> None:
    text = _text(reader)
    flat = re.sub(r"\s+", " ", text)
    assert "Eingangsbestätigung – Hund anmelden (Hundesteuer)" in flat
    assert "HST-2026-000123" in text and "20.2-HSt-000123/2026" in text
    assert "Anna-Lena Müller-Lüdenscheidt" in flat
    assert "am 20.05.2026 um 14:32 Uhr elektronisch" in flat  # Europe/Berlin
    assert "Labrador-Retriever-Mischling" in flat
    assert "DE89 **** **** **** **30 00" in flat  # masked as given, never the full IBAN
    assert "DE89370400440532013000" not in re.sub(r"\s+", "", text)
    assert "Wie geht es weiter?" in flat and "ohne Unterschrift gültig" in flat
    assert "Datenschutz-Grundverordnung" in flat
    assert "Erlaubnis_nach_§6_HundehV_Müller-Lüdenscheidt_2026.pdf" in re.sub(r"\s+", "", text)
    assert "248,4 KB" in flat and "1.800,0 KB" in flat


def test_full_sha256_of_every_attachment_is_printed(reader: PdfReader) -> None:
    compact = re.sub(r"[\s\u200b\u00ad-]+", "", _text(reader))
    assert PERMIT_SHA in compact
    assert INSURANCE_SHA in compact


def test_pdfa_identification_metadata_and_tagging(reader: PdfReader) -> None:
    catalog = reader.trailer["/Root"]
    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r'pdfaid:part(="|>)3', xmp)
    assert re.search(r'pdfaid:conformance(="|>)A', xmp)
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog and "/OutputIntents" in catalog
    assert catalog["/Lang"] == "de"
    assert reader.metadata.title == "Eingangsbestätigung HST-2026-000123"
    assert reader.metadata.author == "Stadt Herzberg (Elster)"
    # Tables are tagged with header cells, so screen readers keep label and value together.
    tags = _struct_types(catalog["/StructTreeRoot"].get_object())
    assert {"/Table", "/TH", "/TD", "/Caption"} <= tags


def _struct_types(node, seen: set | None = None) -> set:
    seen = set() if seen is None else seen
    node = node.get_object() if hasattr(node, "get_object") else node
    if isinstance(node, dict):
        if "/S" in node:
            seen.add(str(node["/S"]))
        kids = node.get("/K")
        if kids is not None:
            for kid in kids if isinstance(kids, list) else [kids]:
                _struct_types(kid, seen)
    return seen


def test_json_attachment_round_trips(reader: PdfReader) -> None:
    assert list(reader.attachments) == [JSON_FILENAME]
    (data,) = reader.attachments[JSON_FILENAME]
    embedded = json.loads(data.decode("utf-8"))
    assert embedded == receipt_data(receipt_context())
    assert embedded["case"]["submitted_at"] == "2026-05-20T12:32:05+00:00"
    assert embedded["attachments"][0]["sha256"] == PERMIT_SHA
    assert embedded["sections"][3]["rows"][2]["value"] == "DE89 **** **** **** **30 00"
    # PDF/A-3: the JSON is an associated file of the document.
    assert "/AF" in reader.trailer["/Root"]


def test_summary_sections_and_no_attachments() -> None:
    context = receipt_context()
    context["sections"] = [Section("dog", "Hund", [Row("dog_name", "Rufname", "Bello & Co <b>")])]
    context["attachments"] = []
    started = time.perf_counter()
    pdf = render_receipt(context)
    elapsed = time.perf_counter() - started
    text = _text(PdfReader(io.BytesIO(pdf)))
    assert "Bello & Co <b>" in text  # escaped in HTML, printed as typed
    assert "keine Dateien eingereicht" in text
    assert elapsed < 10


def test_bad_context_is_refused() -> None:
    context = receipt_context()
    context["case"]["submitted_at"] = datetime(2026, 5, 20, 14, 32)
    with pytest.raises(ValueError, match="timezone-aware"):
        render_receipt(context)
    context = copy.deepcopy(receipt_context())
    context["attachments"][0]["sha256"] = "abc"
    with pytest.raises(ValueError, match="SHA-256"):
        render_receipt(context)


def test_size_in_kb() -> None:
    assert size_kb(254_321) == "248,4\u00a0KB"
    assert size_kb(10) == "0,1\u00a0KB"
    assert size_kb(0) == "0,0\u00a0KB"
