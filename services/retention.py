"""Retention of closed cases (issue item 8; domain.md §7), per procedure version:

* ``delete_files_after_days`` after closing, the citizen's uploaded evidence is deleted;
* ``anonymise_after_days`` after closing, personal data goes: the answers shrink to a
  non-personal record for statistics (dates, dangerous yes/no, reduction reason, payment
  interval), owner and search name become "anonymisiert", the chip number is cleared, the
  case's documents (notices, receipts), outbox messages and draft link are deleted, and the
  register entry keeps tag number and dates only.

The clock starts at the decision (``decided_at``; else the last change) and, for a dog still
in the register, not before its liability ended: a dog that is still taxed keeps its case.
Every case touched gets a "retention" event in its own chain (the chain is never rewritten,
so it stays verifiable), and every municipality with work done an admin event.
``run(db, today)`` changes the session only; the caller commits (or rolls back: dry run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from services.annual.models import NoticeRunItem
from services.audit import service as audit
from services.cases.models import Case, Document, Draft, RegisteredDog
from services.mail.models import OutboxMessage
from services.procedures import registry
from services.timeutil import local
from services.uploads.models import Upload

ANONYMISED = "anonymisiert"
# Answers kept after anonymisation: nothing that identifies a person or a dog.
KEPT_ANSWERS = (
    "intake_date",
    "moved_in",
    "declared_dangerous",
    "reduction_requested",
    "reduction_reason",
    "payment_method",
    "payment_interval",
    "deregistration_reason",
    "end_date",
)


@dataclass
class RetentionReport:
    today: date
    dry_run: bool = False
    cases_checked: int = 0
    cases_anonymised: int = 0
    cases_files_deleted: int = 0
    uploads_deleted: int = 0
    documents_deleted: int = 0
    messages_deleted: int = 0
    dogs_anonymised: int = 0
    kept_still_liable: int = 0
    unknown_procedure: int = 0
    references: list[str] = field(default_factory=list)  # cases anonymised
    per_municipality: dict[int, dict[str, int]] = field(default_factory=dict)

    def count(self, municipality_id: int, key: str, n: int = 1) -> None:
        counts = self.per_municipality.setdefault(municipality_id, {})
        counts[key] = counts.get(key, 0) + n

    def rows(self) -> list[tuple[str, int]]:
        return [
            ("Geschlossene Vorgänge geprüft", self.cases_checked),
            ("Vorgänge anonymisiert", self.cases_anonymised),
            ("Vorgänge, deren Nachweise gelöscht wurden", self.cases_files_deleted),
            ("Hochgeladene Dateien gelöscht", self.uploads_deleted),
            ("Dokumente (Bescheide, Bestätigungen) gelöscht", self.documents_deleted),
            ("E-Mails gelöscht", self.messages_deleted),
            ("Registereinträge anonymisiert", self.dogs_anonymised),
            ("Behalten: Hund noch steuerpflichtig", self.kept_still_liable),
            ("Übersprungen: Verfahren unbekannt", self.unknown_procedure),
        ]


def _closed_on(case: Case) -> date:
    stamp: datetime = case.decided_at or case.updated_at
    return local(stamp).date()


def is_anonymised(case: Case) -> bool:
    return case.owner_name == ANONYMISED and bool(case.answers.get("_anonymised"))


def _clock_start(db: Session, case: Case, dog: RegisteredDog | None) -> date | None:
    """When the retention periods start; None while the dog is still taxed."""
    start = _closed_on(case)
    if dog is not None:
        if not dog.liable_until:
            return None
        start = max(start, date.fromisoformat(dog.liable_until))
    return start


def _retention_of(case: Case) -> registry.Retention | None:
    try:
        return registry.get(case.procedure_id, case.procedure_version).retention
    except registry.UnknownProcedure:
        try:  # an older version no longer loaded: the current version's rules apply
            return registry.get(case.procedure_id).retention
        except registry.UnknownProcedure:
            return None


def _uploads_of(db: Session, case: Case) -> list[Upload]:
    draft_ids = [d.id for d in db.exec(select(Draft).where(Draft.case_id == case.id))]
    query = select(Upload).where(Upload.case_id == case.id)
    found = list(db.exec(query))
    if draft_ids:
        found += [
            u
            for u in db.exec(select(Upload).where(Upload.draft_id.in_(draft_ids)))
            if u.case_id != case.id
        ]
    return found


def _minimal_answers(answers: dict, today: date) -> dict:
    kept = {k: answers[k] for k in KEPT_ANSWERS if k in answers}
    return {**kept, "_anonymised": {"on": today.isoformat()}}


def run(db: Session, today: date, dry_run: bool = False) -> RetentionReport:
    report = RetentionReport(today=today, dry_run=dry_run)
    cases = db.exec(
        select(Case).where(Case.is_open == False).order_by(Case.municipality_id, Case.id)  # noqa: E712
    )
    for case in list(cases):
        report.cases_checked += 1
        retention = _retention_of(case)
        if retention is None:
            report.unknown_procedure += 1
            continue
        dog = db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).first()
        start = _clock_start(db, case, dog)
        if start is None:
            if not is_anonymised(case):
                report.kept_still_liable += 1
            continue
        anonymise = not is_anonymised(case) and today >= start + timedelta(
            days=retention.anonymise_after_days
        )
        files_due = today >= start + timedelta(days=retention.delete_files_after_days)
        uploads = _uploads_of(db, case) if (files_due or anonymise) else []
        if not anonymise and not uploads:
            continue
        data: dict[str, int] = {}
        for upload in uploads:
            db.delete(upload)
        if uploads:
            data["uploads_deleted"] = len(uploads)
            report.uploads_deleted += len(uploads)
            report.cases_files_deleted += 1
            report.count(case.municipality_id, "uploads_deleted", len(uploads))
        if anonymise:
            documents = list(db.exec(select(Document).where(Document.case_id == case.id)))
            if documents:
                doc_ids = [d.id for d in documents]
                for item in db.exec(
                    select(NoticeRunItem).where(NoticeRunItem.document_id.in_(doc_ids))
                ):
                    item.document_id = None
                    db.add(item)
                db.flush()
            for doc in documents:
                db.delete(doc)
            messages = list(db.exec(select(OutboxMessage).where(OutboxMessage.case_id == case.id)))
            for message in messages:
                db.delete(message)
            for draft in db.exec(select(Draft).where(Draft.case_id == case.id)):
                db.delete(draft)
            case.answers = _minimal_answers(case.answers, today)
            case.owner_name = ANONYMISED
            case.search_name = ANONYMISED
            case.chip_number = None
            db.add(case)
            if dog is not None:
                dog.owner_key = ""
                dog.chip_number = ""
                dog.dog_name = ""
                db.add(dog)
                report.dogs_anonymised += 1
                data["dog_anonymised"] = 1
            data["documents_deleted"] = len(documents)
            data["messages_deleted"] = len(messages)
            report.documents_deleted += len(documents)
            report.messages_deleted += len(messages)
            report.cases_anonymised += 1
            report.references.append(case.reference)
            report.count(case.municipality_id, "cases_anonymised")
            report.count(case.municipality_id, "documents_deleted", len(documents))
            report.count(case.municipality_id, "messages_deleted", len(messages))
        db.flush()
        audit.record(
            db,
            case_id=case.id,
            municipality_id=case.municipality_id,
            actor_kind="system",
            actor_id=None,
            actor_name="System",
            action="retention",
            comment=(
                "Personenbezogene Daten nach Ablauf der Aufbewahrungsfrist anonymisiert."
                if anonymise
                else "Nachweise nach Ablauf der Aufbewahrungsfrist gelöscht."
            ),
            data={"anonymised": anonymise, **data},
        )
    for municipality_id, counts in report.per_municipality.items():
        audit.record_admin(
            db,
            municipality_id=municipality_id,
            actor_id=None,
            actor_name="System",
            action="retention_run",
            target="retention",
            after={"today": today.isoformat(), **counts},
        )
    db.flush()
    return report
