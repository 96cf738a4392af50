"""The FIM import as a job: the administrator's upload is stored with the import and parsed by
the job ``fim.import`` (services/fim/jobs.py), which reports its stage as it goes; the page
``/admin/fim-import/{id}`` shows the progress and, when done, the result. Every upload takes
this one path, small or large (with AMTSWEG_JOBS=immediate, in tests, the job has run before
the page is shown).

Rules: ``forms.fim_bundle`` (limits, archives, code lists) and ``forms.fim`` (mapping)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from forms.fim import FimImportError, ImportResult
from forms.fim_bundle import MAX_FILES, MAX_TOTAL_BYTES, STAGES, import_bundle
from forms.loader import DefinitionError, parse_definition
from forms.model import Text
from services.accounts.models import StaffUser
from services.db import unit_of_work
from services.errors import NotFound
from services.fim.models import FimImport
from services.jobs import service as jobs
from services.timeutil import utcnow

JOB = "fim.import"
KEEP = timedelta(days=7)  # imports older than this are deleted when the next one starts


class ImportNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Diesen FIM-Import gibt es nicht (mehr). Importe werden nach sieben Tagen "
                "gelöscht; laden Sie das Schema bitte erneut hoch.",
                en="This FIM import does not exist (any more). Imports are deleted after "
                "seven days; please upload the schema again.",
            )
        )


class UploadRefused(ValueError):
    """The upload is refused before anything is stored (German message for the page)."""


def start(db: Session, admin: StaffUser, files: list[tuple[str, bytes]]) -> FimImport:
    """Store the upload and queue its job in the caller's transaction (flush only)."""
    if not files:
        raise UploadRefused("Bitte wählen Sie eine XDatenfelder-Datei (XML oder ZIP) aus.")
    if len(files) > MAX_FILES:
        raise UploadRefused(f"Bitte laden Sie höchstens {MAX_FILES} Dateien auf einmal hoch.")
    if sum(len(data) for _, data in files) > MAX_TOTAL_BYTES:
        raise UploadRefused(
            "Die Dateien sind zu groß. Zusammen dürfen sie höchstens "
            f"{MAX_TOTAL_BYTES // (1024 * 1024)} MB groß sein."
        )
    db.execute(
        delete(FimImport).where(
            FimImport.municipality_id == admin.municipality_id,
            FimImport.created_at < utcnow() - KEEP,
        )
    )
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(files):
            archive.writestr(f"{index:03d}_{_base(name)}", data)
    names = ", ".join(_base(name) for name, _ in files)
    row = FimImport(
        municipality_id=admin.municipality_id,
        staff_id=admin.id,
        filenames=names if len(names) <= 1000 else names[:999] + "…",
        files=packed.getvalue(),
    )
    db.add(row)
    db.flush()
    jobs.enqueue(
        db, JOB, {"import_id": row.id}, key=f"{JOB}:{row.id}", municipality_id=row.municipality_id
    )
    return row


def get(db: Session, admin: StaffUser, import_id: int) -> FimImport:
    row = db.get(FimImport, import_id)
    if row is None or row.municipality_id != admin.municipality_id:
        raise ImportNotFound()
    return row


def result_of(row: FimImport) -> ImportResult | None:
    return ImportResult.from_json(row.result) if row.state == "done" and row.result else None


def stages() -> tuple[tuple[str, str], ...]:
    return STAGES


def _base(name: str) -> str:
    """A file name as the browser sent it, without any folder part."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "Datei"


def _files(row: FimImport) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(row.files)) as archive:  # packed by start(): trusted
        return [(info.filename[4:], archive.read(info)) for info in archive.infolist()]


def run(engine: Engine, import_id: int) -> None:
    """Parse one import (the job's body). Idempotent: a finished import is left alone."""
    with unit_of_work(engine) as db:
        row = db.get(FimImport, import_id)
        if row is None or row.state in ("done", "failed"):
            return
        row.state = "running"
        db.flush()
        files = _files(row)

    def progress(stage: int) -> None:
        with unit_of_work(engine) as db:
            db.execute(update(FimImport).where(FimImport.id == import_id).values(stage=stage))

    values: dict = {"finished_at": utcnow()}
    try:
        result = import_bundle(files, progress)
        parse_definition(result.definition, "FIM-Import")  # the importer guarantees it
    except FimImportError as exc:
        values.update(state="failed", error=exc.message.de[:2000])
    except DefinitionError as exc:  # a mapping bug: say so instead of showing a broken draft
        values.update(
            state="failed",
            error=(
                f"Die Datei ließ sich nicht in eine gültige Formulardefinition übersetzen: {exc}"
            )[:2000],
        )
    else:
        values.update(state="done", stage=len(STAGES) - 1, result=result.to_json())
    with unit_of_work(engine) as db:
        db.execute(update(FimImport).where(FimImport.id == import_id).values(**values))


def fail(engine: Engine, import_id: int) -> None:
    """An unexpected error in the job: the page says so instead of waiting for ever."""
    with unit_of_work(engine) as db:
        db.execute(
            update(FimImport)
            .where(FimImport.id == import_id, FimImport.state.in_(("queued", "running")))
            .values(
                state="failed",
                finished_at=utcnow(),
                error="Beim Verarbeiten ist ein interner Fehler aufgetreten. Der Fehler ist in "
                "der Auftragsliste (Hintergrundaufträge) vermerkt.",
            )
        )
