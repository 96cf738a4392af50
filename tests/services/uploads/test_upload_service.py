"""Storing evidence files per slot: type, size and count rules, virus scan, draft → case."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import date

import pypdf
import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from services.cases.models import Case, Draft
from services.cases.service import start_draft
from services.errors import NotFound
from services.procedures.registry import get
from services.uploads import service as uploads
from services.uploads.models import Upload
from services.uploads.scanner import ScannerUnavailable, ScanResult
from services.uploads.service import SlotRules, UploadRejected, safe_filename

SLOT = "dangerous_permit_file"


def pdf_bytes(pages: int = 1) -> bytes:
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes() -> bytes:
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
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


class FakeScanner:
    """Test double for the virus scanner: a verdict per content, records what it saw."""

    def __init__(self, infected: dict[bytes, str] | None = None, down: bool = False) -> None:
        self.infected = infected or {}
        self.down = down
        self.scanned: list[bytes] = []

    def scan(self, content: bytes) -> ScanResult:
        self.scanned.append(content)
        if self.down:
            raise ScannerUnavailable("connection refused")
        if content in self.infected:
            return ScanResult(clean=False, signature=self.infected[content])
        return ScanResult(clean=True, signature=None)


def new_draft(db: Session, municipality) -> Draft:
    draft, _ = start_draft(db, municipality, get("dog_registration"), retention_days=30)
    db.commit()
    return draft


@pytest.fixture
def draft(db, municipality) -> Draft:
    return new_draft(db, municipality)


DEFAULT_RULES = SlotRules()


def put(db, draft, content, filename="nachweis.pdf", rules=DEFAULT_RULES, slot=SLOT, scanner=None):
    return uploads.store(
        db,
        municipality_id=draft.municipality_id,
        draft_id=draft.id,
        slot=slot,
        rules=rules,
        filename=filename,
        content=content,
        scanner=scanner,
    )


def rejected(db, draft, content, **kwargs) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        put(db, draft, content, **kwargs)
    assert info.value.status == 422
    return info.value


# --- media types ------------------------------------------------------------------------------


def test_pdf_renamed_png_is_stored_as_pdf(db, draft):
    upload = put(db, draft, pdf_bytes(), filename="foto.png")
    assert upload.media_type == "application/pdf"
    assert upload.filename == "foto.png"


def test_html_named_pdf_is_refused_and_not_stored(db, draft):
    error = rejected(db, draft, HTML, filename="evidence.pdf")
    assert error.key == "type_not_allowed"
    assert "PDF, JPG oder PNG" in error.message.de
    assert "Inhalt der Datei, nicht ihr Name" in error.message.de
    assert "PDF, JPG or PNG" in error.message.en
    assert uploads.for_draft(db, draft.id) == []


def test_plain_text_is_refused(db, draft):
    error = rejected(db, draft, "Bescheinigung: Hündin geimpft".encode(), filename="a.jpg")
    assert error.key == "type_not_allowed"


def test_png_declared_as_pdf_is_accepted_only_where_png_is_allowed(db, draft):
    pdf_only = SlotRules(accept=("application/pdf",))
    error = rejected(db, draft, png_bytes(), filename="bescheid.pdf", rules=pdf_only)
    assert error.key == "type_not_allowed"
    assert "Erlaubt sind PDF." in error.message.de
    upload = put(db, draft, png_bytes(), filename="bescheid.pdf")
    assert upload.media_type == "image/png"


def test_jpeg_is_accepted(db, draft):
    assert put(db, draft, jpeg_bytes(), filename="foto.jpeg").media_type == "image/jpeg"


# --- size and count ---------------------------------------------------------------------------


def test_empty_file_is_refused(db, draft):
    error = rejected(db, draft, b"")
    assert error.key == "empty"
    assert error.message.de == "Die Datei ist leer. Bitte wählen Sie eine andere Datei aus."


def test_file_over_the_limit_is_refused_with_the_limit_in_mb(db, draft):
    content = pdf_bytes() + b"\n" + b"0" * (10 * 1024 * 1024)
    error = rejected(db, draft, content)
    assert error.key == "too_large"
    assert error.message.de == "Die Datei ist größer als 10 MB."
    assert error.message.en == "The file is larger than 10 MB."


def test_file_exactly_at_the_limit_is_accepted(db, draft):
    content = pdf_bytes()
    assert put(db, draft, content, rules=SlotRules(max_bytes=len(content))).size == len(content)
    error = rejected(db, draft, content + b"\n", rules=SlotRules(max_bytes=len(content)))
    assert error.key == "too_large"


def test_fractional_limit_is_written_the_german_way(db, draft):
    rules = SlotRules(max_bytes=5 * 1024 * 1024 // 2)
    error = rejected(db, draft, pdf_bytes() + b"0" * (3 * 1024 * 1024), rules=rules)
    assert error.message.de == "Die Datei ist größer als 2,5 MB."
    assert error.message.en == "The file is larger than 2.5 MB."


def test_count_limit_per_slot_and_draft(db, municipality, draft):
    rules = SlotRules(max_files=2)
    put(db, draft, pdf_bytes(), rules=rules)
    put(db, draft, png_bytes(), filename="b.png", rules=rules)
    error = rejected(db, draft, jpeg_bytes(), rules=rules)
    assert error.key == "too_many"
    assert error.message.de == "Sie können höchstens 2 Dateien hochladen."
    # another slot and another draft have their own count
    put(db, draft, pdf_bytes(), slot="reduction_evidence", rules=rules)
    put(db, new_draft(db, municipality), pdf_bytes(), rules=rules)
    assert len(uploads.for_draft(db, draft.id, SLOT)) == 2


def test_default_count_limit_is_five(db, draft):
    for _ in range(5):
        put(db, draft, pdf_bytes())
    error = rejected(db, draft, pdf_bytes())
    assert error.message.de == "Sie können höchstens 5 Dateien hochladen."
    one = rejected(db, draft, pdf_bytes(), rules=SlotRules(max_files=1))
    assert one.message.de == "Sie können höchstens 1 Datei hochladen."


def test_removing_a_file_frees_its_place(db, draft):
    rules = SlotRules(max_files=1)
    first = put(db, draft, pdf_bytes(), rules=rules)
    uploads.remove(db, draft.id, first.id)
    assert put(db, draft, png_bytes(), rules=rules).media_type == "image/png"


def test_checks_run_in_order_size_count_type(db, draft):
    big_html = HTML + b" " * 200
    assert rejected(db, draft, big_html, rules=SlotRules(max_bytes=100)).key == "too_large"
    put(db, draft, pdf_bytes(), rules=SlotRules(max_files=1))
    assert rejected(db, draft, HTML, rules=SlotRules(max_files=1)).key == "too_many"


def test_draft_of_another_municipality_is_not_found(db, draft, other_municipality):
    with pytest.raises(NotFound):
        uploads.store(
            db,
            municipality_id=other_municipality.id,
            draft_id=draft.id,
            slot=SLOT,
            rules=SlotRules(),
            filename="a.pdf",
            content=pdf_bytes(),
            scanner=None,
        )


# --- what is stored ---------------------------------------------------------------------------


def test_sha256_size_and_content_are_stored(db, draft):
    content = pdf_bytes(pages=2)
    upload = put(db, draft, content, filename="Bescheid Ordnungsamt.pdf")
    db.commit()
    db.expunge_all()
    stored = db.get(Upload, upload.id)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.size == len(content)
    assert stored.content == content
    assert stored.municipality_id == draft.municipality_id
    assert stored.draft_id == draft.id and stored.case_id is None
    assert stored.slot == SLOT
    assert stored.filename == "Bescheid Ordnungsamt.pdf"
    assert stored.scan_status == "not_scanned"


def test_files_are_listed_in_upload_order_without_content(db, draft):
    names = ["c.pdf", "a.png", "b.jpg"]
    contents = [pdf_bytes(), png_bytes(), jpeg_bytes()]
    for name, content in zip(names, contents, strict=True):
        put(db, draft, content, filename=name)
    put(db, draft, pdf_bytes(), filename="other.pdf", slot="reduction_evidence")
    db.commit()
    db.expunge_all()
    listed = uploads.for_draft(db, draft.id, SLOT)
    assert [u.filename for u in listed] == names
    assert all("content" in inspect(u).unloaded for u in listed)
    assert [u.filename for u in uploads.for_draft(db, draft.id)] == [*names, "other.pdf"]


def test_remove_refuses_another_drafts_file(db, municipality, draft):
    mine = put(db, draft, pdf_bytes())
    other = new_draft(db, municipality)
    with pytest.raises(NotFound) as info:
        uploads.remove(db, other.id, mine.id)
    assert info.value.message.de == "Diese Datei gibt es nicht (mehr)."
    assert [u.id for u in uploads.for_draft(db, draft.id)] == [mine.id]
    uploads.remove(db, draft.id, mine.id)
    db.commit()
    assert uploads.for_draft(db, draft.id) == []
    with pytest.raises(NotFound):
        uploads.remove(db, draft.id, mine.id)


def make_case(db, municipality, n: int = 1) -> Case:
    case = Case(
        municipality_id=municipality.id,
        procedure_id="dog_registration",
        procedure_version=get("dog_registration").version,
        reference=f"HST-2026-{n:06d}",
        file_number=f"22.1-{n}/2026",
        state="submitted",
        answers={},
        status_token_hash=f"{n:064d}",
        submission_key=f"{n:064x}",
        owner_name="Mustermann, Erika",
        due_date=date(2026, 6, 1),
    )
    db.add(case)
    db.flush()
    return case


def test_move_to_case_hands_the_files_to_the_case(db, municipality, draft):
    pdf, png = pdf_bytes(), png_bytes()
    put(db, draft, pdf, filename="erlaubnis.pdf")
    put(db, draft, png, filename="versicherung.png", slot="reduction_evidence")
    case = make_case(db, municipality)
    moved = uploads.move_to_case(db, draft.id, case.id)
    db.commit()
    db.expunge_all()
    assert [u.filename for u in moved] == ["erlaubnis.pdf", "versicherung.png"]
    assert uploads.for_draft(db, draft.id) == []
    listed = uploads.for_case(db, case.id)
    assert [(u.filename, u.draft_id, u.case_id) for u in listed] == [
        ("erlaubnis.pdf", None, case.id),
        ("versicherung.png", None, case.id),
    ]
    assert all("content" in inspect(u).unloaded for u in listed)
    assert uploads.get_for_case(db, case.id, listed[1].id).content == png


def test_get_for_case_refuses_another_cases_file(db, municipality, draft):
    upload = put(db, draft, pdf_bytes())
    case, other = make_case(db, municipality, 1), make_case(db, municipality, 2)
    with pytest.raises(NotFound):
        uploads.get_for_case(db, case.id, upload.id)  # still with the draft
    uploads.move_to_case(db, draft.id, case.id)
    with pytest.raises(NotFound):
        uploads.get_for_case(db, other.id, upload.id)
    assert uploads.get_for_case(db, case.id, upload.id).id == upload.id
    assert uploads.for_case(db, other.id) == []


# --- virus scan -------------------------------------------------------------------------------


def test_clean_file_is_marked_scanned(db, draft):
    scanner = FakeScanner()
    content = pdf_bytes()
    upload = put(db, draft, content, scanner=scanner)
    assert upload.scan_status == "clean"
    assert scanner.scanned == [content]


def test_infected_file_is_refused_and_not_stored(db, draft):
    content = pdf_bytes()
    scanner = FakeScanner(infected={content: "Pdf.Exploit.Agent-1"})
    error = rejected(db, draft, content, scanner=scanner)
    assert error.key == "infected"
    assert error.message.de == (
        "Die Datei enthält Schadsoftware (Pdf.Exploit.Agent-1) und wurde nicht gespeichert."
    )
    assert "Pdf.Exploit.Agent-1" in error.message.en
    assert uploads.for_draft(db, draft.id) == []


def test_unreachable_scanner_fails_closed(db, draft):
    error = rejected(db, draft, pdf_bytes(), scanner=FakeScanner(down=True))
    assert error.key == "scanner_unavailable"
    assert error.message.de == (
        "Die Virenprüfung ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen "
        "Minuten erneut. Ihre übrigen Angaben sind gespeichert."
    )
    assert uploads.for_draft(db, draft.id) == []


def test_scanner_sees_only_files_that_passed_the_other_checks(db, draft):
    scanner = FakeScanner()
    rejected(db, draft, HTML, filename="x.pdf", scanner=scanner)
    rejected(db, draft, b"", scanner=scanner)
    rejected(db, draft, pdf_bytes(), rules=SlotRules(max_bytes=10), scanner=scanner)
    assert scanner.scanned == []


# --- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("nachweis.pdf", "nachweis.pdf"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\evil.pdf", "evil.pdf"),
        ("C:\\Users\\Erika\\Scan 1.jpg", "Scan 1.jpg"),
        ("bad\x00name\r\n.pdf", "badname.pdf"),
        ("rechnung\u202egpj.exe", "rechnunggpj.exe"),  # right-to-left override removed
        ("Gebu\u0308hren.pdf", "Geb\u00fchren.pdf"),  # NFC: u + combining diaeresis → ü
        ('a<b>:"c"|?*.pdf', "a_b___c____.pdf"),
        ("", "datei"),
        ("../..", "datei"),
        ("\x01\x02", "datei"),
        ("   ", "datei"),
    ],
)
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_safe_filename_keeps_the_extension_of_long_names():
    name = safe_filename("ä" * 300 + ".pdf")
    assert len(name) == 120
    assert name.endswith("ä.pdf")
    assert len(safe_filename("x" * 300)) == 120
