"""Evidence uploads: checking, scanning and storing files per slot, and moving them from the
citizen's draft to the filed case. Plain functions; they flush, the caller commits."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms.model import UPLOAD_TYPES, Text
from services.cases.models import Case, Draft
from services.errors import DomainError, NotFound
from services.uploads.models import Upload
from services.uploads.scanner import ScannerError, VirusScanner
from services.uploads.sniff import sniff

MB = 1024 * 1024
FILENAME_LIMIT = 120

# Media types in the words citizens know them by.
_TYPE_WORDS = {"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}


@dataclass(frozen=True)
class SlotRules:
    accept: tuple[str, ...] = UPLOAD_TYPES
    max_bytes: int = 10 * MB
    max_files: int = 5


class UploadRejected(DomainError):
    """A file that is not stored; ``key`` names the reason for translations and logs."""

    status = 422
    title = Text(de="Die Datei wurde nicht gespeichert", en="The file was not saved")

    def __init__(self, key: str, message: Text) -> None:
        super().__init__(message)
        self.key = key


class UploadNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            Text(de="Diese Datei gibt es nicht (mehr).", en="This file does not exist (any more).")
        )


def _megabytes(n: int, decimal_comma: bool) -> str:
    value = f"{n / MB:.1f}".removesuffix(".0")
    return value.replace(".", ",") if decimal_comma else value


def _type_list(accept: tuple[str, ...], last_word: str) -> str:
    words = [_TYPE_WORDS.get(t, t) for t in accept]
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {last_word} {words[-1]}"


def _empty() -> UploadRejected:
    return UploadRejected(
        "empty",
        Text(
            de="Die Datei ist leer. Bitte wählen Sie eine andere Datei aus.",
            en="The file is empty. Please choose another file.",
        ),
    )


def _too_large(rules: SlotRules) -> UploadRejected:
    return UploadRejected(
        "too_large",
        Text(
            de=f"Die Datei ist größer als {_megabytes(rules.max_bytes, True)} MB.",
            en=f"The file is larger than {_megabytes(rules.max_bytes, False)} MB.",
        ),
    )


def _too_many(rules: SlotRules) -> UploadRejected:
    n = rules.max_files
    return UploadRejected(
        "too_many",
        Text(
            de=f"Sie können höchstens {n} {'Datei' if n == 1 else 'Dateien'} hochladen.",
            en=f"You can upload at most {n} {'file' if n == 1 else 'files'}.",
        ),
    )


def _type_not_allowed(rules: SlotRules) -> UploadRejected:
    return UploadRejected(
        "type_not_allowed",
        Text(
            de=f"Diese Datei können wir nicht annehmen. Erlaubt sind "
            f"{_type_list(rules.accept, 'oder')}. Entscheidend ist der Inhalt der Datei, "
            f"nicht ihr Name.",
            en=f"We cannot accept this file. Allowed are {_type_list(rules.accept, 'or')}. "
            f"What counts is the content of the file, not its name.",
        ),
    )


def _infected(signature: str | None) -> UploadRejected:
    found = signature or "unbekannt"
    return UploadRejected(
        "infected",
        Text(
            de=f"Die Datei enthält Schadsoftware ({found}) und wurde nicht gespeichert.",
            en=f"The file contains malware ({signature or 'unknown'}) and was not saved.",
        ),
    )


def _scanner_unavailable() -> UploadRejected:
    return UploadRejected(
        "scanner_unavailable",
        Text(
            de="Die Virenprüfung ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen "
            "Minuten erneut. Ihre übrigen Angaben sind gespeichert.",
            en="The virus check cannot be reached at the moment. Please try again in a few "
            "minutes. Your other answers are saved.",
        ),
    )


_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')


def safe_filename(name: str) -> str:
    """A file name fit for display and downloads: no directories (``/`` or ``\\``), no
    control or invisible formatting characters (such as the right-to-left override used to
    disguise extensions), NFC-normalised, at most 120 characters with the extension kept;
    ``datei`` when nothing is left."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    name = _UNSAFE_CHARS.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if not name:
        return "datei"
    if len(name) > FILENAME_LIMIT:
        stem, ext = os.path.splitext(name)
        if not stem or len(ext) > 16:
            stem, ext = name, ""
        name = stem[: FILENAME_LIMIT - len(ext)].rstrip(" .") + ext
    return name or "datei"


def _lock_draft(db: Session, municipality_id: int, draft_id: int) -> None:
    """Lock the draft row (PostgreSQL), so concurrent uploads to one slot count in turn."""
    found = db.exec(
        select(Draft.id)
        .where(Draft.id == draft_id, Draft.municipality_id == municipality_id)
        .with_for_update()
    ).first()
    if found is None:
        raise NotFound(
            Text(
                de="Ihr Antrag wurde nicht gefunden. Bitte beginnen Sie erneut.",
                en="Your application was not found. Please start again.",
            )
        )


def store(
    db: Session,
    *,
    municipality_id: int,
    slot: str,
    rules: SlotRules,
    filename: str,
    content: bytes,
    scanner: VirusScanner | None,
    draft_id: int | None = None,
    case_id: int | None = None,
) -> Upload:
    """Check one file against the slot's rules, scan it when a scanner is configured and
    store it with the draft (while filling in the form) or the case (a reply to an
    information request). Raises ``UploadRejected`` with the reason; the scanner being
    unreachable rejects the file too (fail closed)."""
    if (draft_id is None) == (case_id is None):
        raise ValueError("store() needs exactly one of draft_id and case_id")
    if not content:
        raise _empty()
    if len(content) > rules.max_bytes:
        raise _too_large(rules)
    if draft_id is not None:
        _lock_draft(db, municipality_id, draft_id)
        owner = Upload.draft_id == draft_id
    else:
        _lock_case(db, municipality_id, case_id)
        owner = Upload.case_id == case_id
    count = db.exec(
        select(func.count()).select_from(Upload).where(owner, Upload.slot == slot)
    ).one()
    if count >= rules.max_files:
        raise _too_many(rules)
    media_type = sniff(content)
    if media_type is None or media_type not in rules.accept:
        raise _type_not_allowed(rules)
    scan_status = "not_scanned"
    if scanner is not None:
        try:
            result = scanner.scan(content)
        except ScannerError as exc:
            raise _scanner_unavailable() from exc
        if not result.clean:
            raise _infected(result.signature)
        scan_status = "clean"
    upload = Upload(
        municipality_id=municipality_id,
        draft_id=draft_id,
        case_id=case_id,
        slot=slot,
        filename=safe_filename(filename),
        media_type=media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        scan_status=scan_status,
        content=content,
    )
    db.add(upload)
    db.flush()
    return upload


def _lock_case(db: Session, municipality_id: int, case_id: int) -> None:
    found = db.exec(
        select(Case.id)
        .where(Case.id == case_id, Case.municipality_id == municipality_id)
        .with_for_update()
    ).first()
    if found is None:
        raise NotFound(Text(de="Dieser Vorgang wurde nicht gefunden.", en="Case not found."))


def for_draft(db: Session, draft_id: int, slot: str | None = None) -> list[Upload]:
    """The draft's files in upload order, without their content."""
    query = select(Upload).where(Upload.draft_id == draft_id).options(defer(Upload.content))
    if slot is not None:
        query = query.where(Upload.slot == slot)
    return list(db.exec(query.order_by(Upload.id)))


def for_case(db: Session, case_id: int) -> list[Upload]:
    """The case's files in upload order, without their content."""
    query = (
        select(Upload)
        .where(Upload.case_id == case_id)
        .options(defer(Upload.content))
        .order_by(Upload.id)
    )
    return list(db.exec(query))


def remove(db: Session, draft_id: int, upload_id: int) -> None:
    """Delete one of the draft's files; another draft's file is not found."""
    upload = db.exec(
        select(Upload)
        .where(Upload.id == upload_id, Upload.draft_id == draft_id)
        .options(defer(Upload.content))
    ).first()
    if upload is None:
        raise UploadNotFound()
    db.delete(upload)
    db.flush()


def move_to_case(db: Session, draft_id: int, case_id: int) -> list[Upload]:
    """Hand all of the draft's files to the filed case."""
    uploads = for_draft(db, draft_id)
    for upload in uploads:
        upload.case_id = case_id
        upload.draft_id = None
        db.add(upload)
    db.flush()
    return uploads


def get_for_case(db: Session, case_id: int, upload_id: int) -> Upload:
    """One of the case's files with its content (for download)."""
    upload = db.exec(
        select(Upload).where(Upload.id == upload_id, Upload.case_id == case_id)
    ).first()
    if upload is None:
        raise UploadNotFound()
    return upload
