"""The yearly run: an annual notice (Jahresbescheid, zugleich Dauerbescheid) for every dog in
the register, with the new year's rates.

* ``plan`` refuses before anything is issued when the year's rate table or the bank details
  are missing, then starts the municipality's run for the year, or continues it: there is
  one run per municipality and year, so running again resumes it.
* ``issue_one`` assesses one dog for the year (``assess(from_year=year)``), renders the
  notice outside any write transaction and then stores the document, the audit event and the
  run item in ONE short transaction: an item is issued completely or not at all. The unique
  item per run and dog makes a second process that raced for the same dog roll back.
* The notice machinery (letter, dog, payment, refusals, PDF/A-3a with embedded JSON) is the
  registration notice's (``services.procedures.dog_registration``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Literal

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from forms.model import Text
from forms.summary import display
from services.accounts.models import StaffUser
from services.annual.models import NoticeRun, NoticeRunItem
from services.audit import service as audit
from services.cases.models import Case, RegisteredDog
from services.errors import ConfigurationMissing, DomainError
from services.municipalities.models import Municipality
from services.municipalities.service import rate_tables
from services.procedures import dog_registration as registration
from services.procedures.dog_tax import Assessment, Instalment, RateTable, rate_basis_text
from services.procedures.registry import of
from services.timeutil import today_local, utcnow

KIND = "annual_notice"
RUN_LABELS = {
    "running": "läuft",
    "interrupted": "unterbrochen",
    "finished": "abgeschlossen",
    "failed": "abgebrochen",
}
Outcome = Literal["issued", "skipped", "failed"]


# --------------------------------------------------------------------------- refusals


def check_configuration(db: Session, m: Municipality, year: int) -> RateTable:
    """Refuse (``ConfigurationMissing``, naming what the administrator must set) when the
    notices of ``year`` cannot be issued: no bank details, no or a broken rate table."""
    registration._require_bank_details(m)
    raw = rate_tables(db, m.id).get(year)
    if raw is None:
        raise ConfigurationMissing(
            Text(
                de=f"Für {m.name} ist für das Jahr {year} keine Hundesteuer-Satztabelle "
                f"hinterlegt. Die Administration muss die Steuersätze für {year} eintragen, "
                "bevor die Jahresbescheide erstellt werden können. Es wurde nichts erstellt.",
                en=f"{m.name} has no dog-tax rate table for {year}. An administrator must set "
                f"the rates for {year} before the annual notices can be issued. Nothing was "
                "issued.",
            )
        )
    try:
        return RateTable.from_dict(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationMissing(
            Text(
                de=f"Die Hundesteuer-Satztabelle {year} von {m.name} ist unvollständig oder "
                f"fehlerhaft ({exc}). Die Administration muss sie berichtigen. Es wurde nichts "
                "erstellt.",
                en=f"The dog-tax rate table {year} of {m.name} is incomplete or invalid "
                f"({exc}). An administrator must correct it. Nothing was issued.",
            )
        ) from None


# --------------------------------------------------------------------------- planning


def liable_dogs(db: Session, municipality_id: int, year: int) -> list[RegisteredDog]:
    """Dogs of the register liable in some month of ``year`` (deregistered before: not)."""
    return list(
        db.exec(
            select(RegisteredDog)
            .where(
                RegisteredDog.municipality_id == municipality_id,
                RegisteredDog.liable_from <= f"{year}-12-31",
                (RegisteredDog.liable_until == None)  # noqa: E711
                | (RegisteredDog.liable_until >= f"{year}-01-01"),
            )
            .order_by(RegisteredDog.id)
        )
    )


@dataclass(frozen=True)
class Plan:
    run: NoticeRun
    pending: list[int]  # registered-dog ids still to issue
    already_issued: int  # dogs the run issued before (skipped now)
    resumed: bool


def _find_run(db: Session, municipality_id: int, year: int) -> NoticeRun | None:
    return db.exec(
        select(NoticeRun).where(
            NoticeRun.municipality_id == municipality_id, NoticeRun.year == year
        )
    ).first()


def _issued_dog_ids(db: Session, run_id: int) -> set[int]:
    return set(
        db.exec(
            select(NoticeRunItem.registered_dog_id).where(
                NoticeRunItem.run_id == run_id, NoticeRunItem.status == "issued"
            )
        )
    )


def plan(db: Session, m: Municipality, year: int, started_by: str = "") -> Plan:
    """Check the configuration, then start the run of ``m`` for ``year`` or continue it.
    Returns the dogs still to issue (dogs with an issued item are skipped; failed ones are
    tried again). Flushes; the caller commits."""
    check_configuration(db, m, year)
    dogs = liable_dogs(db, m.id, year)
    run = _find_run(db, m.id, year)
    resumed = run is not None
    if run is None:
        run = NoticeRun(municipality_id=m.id, year=year, started_by=started_by[:120])
        # Unique per municipality and year: if another process started the run a moment
        # ago, this flush fails and the caller plans again (and continues that run).
        db.add(run)
        db.flush()
    if resumed:
        run.attempts += 1
        run.status = "running"
        run.finished_at = None
        run.error = ""
        if started_by:
            run.started_by = started_by[:120]
    issued = _issued_dog_ids(db, run.id)
    pending = [d.id for d in dogs if d.id not in issued]
    run.planned = len({d.id for d in dogs} | issued)
    run.skipped = len(dogs) - len(pending)
    db.add(run)
    db.flush()
    return Plan(run=run, pending=pending, already_issued=run.skipped, resumed=resumed)


def refresh_counts(db: Session, run: NoticeRun) -> NoticeRun:
    """Issued and failed counts from the items (every attempt, every process)."""
    rows = db.exec(
        select(NoticeRunItem.status, func.count())
        .where(NoticeRunItem.run_id == run.id)
        .group_by(NoticeRunItem.status)
    ).all()
    counts = dict(rows)
    run.issued = counts.get("issued", 0)
    run.failed = counts.get("failed", 0)
    db.add(run)
    db.flush()
    return run


def finish(
    db: Session, run_id: int, status: str, *, skipped: int | None = None, error: str = ""
) -> NoticeRun:
    """Close an attempt: ``finished`` (every planned dog was processed), ``interrupted``
    (Ctrl+C; run again to continue) or ``failed`` (the run broke off; ``error`` says why)."""
    run = db.get(NoticeRun, run_id)
    run.status = status
    run.finished_at = utcnow()
    run.error = error[:2000]
    if skipped is not None:
        run.skipped = skipped
    return refresh_counts(db, run)


# --------------------------------------------------------------------------- one notice


def rate_lines(table: RateTable) -> list[tuple[str, Decimal]]:
    """The year's rates as (label, annual rate) for the notice's reasons."""
    n = len(table.rates)
    lines = []
    for position in range(1, n + 1):
        basis = rate_basis_text(table.model, position, n, dangerous=False)
        lines.append((basis.removeprefix("Steuersatz "), table.rates[position - 1]))
    lines.append(("für einen gefährlichen Hund", table.dangerous_rate))
    return lines


@dataclass
class Prepared:
    """Everything one notice needs, read from the database (no write yet)."""

    case: Case
    municipality: Municipality
    dog: RegisteredDog
    assessment: Assessment
    context: dict
    embedded: dict
    meta: dict


# The yearly run writes as the office, not as a clerk: no contact person in the letter,
# the municipality's phone and e-mail.
_RUN_SENDER = SimpleNamespace(display_name="", phone="", email="")


def prepare(db: Session, dog: RegisteredDog, year: int, notice_date: date) -> Prepared:
    """Assess ``dog`` for ``year`` and build the notice's context (pure reads)."""
    case = db.get(Case, dog.case_id)
    m = db.get(Municipality, dog.municipality_id)
    table = check_configuration(db, m, year)  # bank details, the year's rate table
    raw_tables, tables = registration._tables(db, m)
    a = case.answers
    intake = registration.liability_event(a)
    liable_from = date.fromisoformat(dog.liable_from)
    liable_until = date.fromisoformat(dog.liable_until) if dog.liable_until else None
    decision = registration.reduction_decision(db, case)
    percent, until = registration.granted_reduction(
        a, decision, raw_tables.get(liable_from.year) or raw_tables.get(year, {}), liable_from
    )
    annual_payment = a.get("payment_interval") == "annual"
    assessment = registration._assess(
        m,
        tables,
        intake_date=intake,
        notice_date=notice_date,
        dangerous=dog.dangerous,
        annual_payment=annual_payment,
        reduction_percent=percent,
        reduction_until=until,
        end_date=liable_until,
        position_changes=registration.household_positions(db, dog, year, table),
        from_year=year,
    )
    if annual_payment and assessment.instalments:
        # A yearly payer pays the year's amount once, on the year's annual due date, never
        # before the year begins (assess() would make it due a month after the notice).
        first_due = table.annual_due_date(year)
        if assessment.instalments[0].due_date < first_due:
            assessment = dataclasses.replace(
                assessment, instalments=[Instalment(first_due, assessment.total)]
            )
    previous = tables.get(year - 1)
    previous_rate = None
    if previous is not None:
        first_position = registration.household_positions(db, dog, year - 1, previous)
        previous_rate = (
            previous.dangerous_rate if dog.dangerous else previous.rate_for(first_position[-1][1])
        )
    proc = of(case)
    form = proc.form
    context = {
        **registration._letter(m, case, _RUN_SENDER, notice_date),
        "year": year,
        "tag_number": dog.tag_number,
        "dog": registration._dog(case),
        "payment": registration._payment(a),
        "reduction": {
            "requested": bool(a.get("reduction_requested")),
            "reason_label": display(form, form.field("reduction_reason"), a.get("reduction_reason"))
            or None,
            "granted": bool(percent),
            "percent": percent,
            "until": until,
            "refusal_reason": "",
        },
        "assessment": assessment,
        "liable_from": liable_from,
        "liable_until": liable_until,
        "rates": table.to_dict(),
        "rate_lines": rate_lines(table),
        "previous_rate": previous_rate,
    }
    register = {
        "id": dog.id,
        "tag_number": dog.tag_number,
        "chip_number": dog.chip_number,
        "dog_name": dog.dog_name,
        "liable_from": dog.liable_from,
        "liable_until": dog.liable_until,
        "dangerous": dog.dangerous,
        "exempt": dog.exempt,
    }
    embedded = {
        "case": registration._embedded_case(case),
        "register": register,
        "year": year,
        "notice_date": notice_date.isoformat(),
        "assessment": assessment.to_dict(),
        "rate_table": raw_tables[year],
        "rate_tables": {str(year): table.to_dict()},
    }
    meta = {
        "year": year,
        "tag_number": dog.tag_number,
        "registered_dog_id": dog.id,
        "total": str(assessment.total),
        "assessment": assessment.to_dict(),
    }
    return Prepared(case, m, dog, assessment, context, embedded, meta)


@dataclass(frozen=True)
class Result:
    dog_id: int
    outcome: Outcome
    error: str = ""
    document_id: int | None = None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return exc.message.de
    return f"{type(exc).__name__}: {exc}"


def _record_failure(engine: Engine, run: NoticeRun, dog_id: int, error: str) -> None:
    """Record (or update) the failed item; never overwrites an issued one."""
    with Session(engine, expire_on_commit=False) as db:
        updated = db.exec(
            update(NoticeRunItem)
            .where(
                NoticeRunItem.run_id == run.id,
                NoticeRunItem.registered_dog_id == dog_id,
                NoticeRunItem.status == "failed",
            )
            .values(error=error[:2000], processed_at=utcnow())
        )
        if updated.rowcount == 0:
            db.add(
                NoticeRunItem(
                    run_id=run.id,
                    municipality_id=run.municipality_id,
                    registered_dog_id=dog_id,
                    status="failed",
                    error=error[:2000],
                )
            )
        try:
            db.commit()
        except IntegrityError:  # issued meanwhile by another process: nothing to record
            db.rollback()


def issue_one(engine: Engine, run_id: int, dog_id: int, notice_date: date | None = None) -> Result:
    """Issue the annual notice of one dog in ``run_id``; idempotent and safe to race.

    Reads and renders first; then ONE transaction stores the document, the case's audit
    event and the issued item. A dog with an issued item is skipped; a failure (a missing
    setting, a broken case) is recorded as a failed item with the reason and retried when
    the run is started again."""
    notice_date = notice_date or today_local()
    with Session(engine, expire_on_commit=False) as db:
        run = db.get(NoticeRun, run_id)
        existing = db.exec(
            select(NoticeRunItem).where(
                NoticeRunItem.run_id == run_id, NoticeRunItem.registered_dog_id == dog_id
            )
        ).first()
        if existing is not None and existing.status == "issued":
            return Result(dog_id, "skipped")
        dog = db.get(RegisteredDog, dog_id)
        try:
            if dog is None or dog.municipality_id != run.municipality_id:
                raise LookupError(f"Hund {dog_id} ist nicht im Hunderegister der Gemeinde")
            prepared = prepare(db, dog, run.year, notice_date)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded with its reason
            db.rollback()
            error = _error_text(exc)
            _record_failure(engine, run, dog_id, error)
            return Result(dog_id, "failed", error)
        db.commit()  # end the read transaction before rendering (PostgreSQL: not idle in tx)
    proc = of(prepared.case)
    try:
        with Session(engine, expire_on_commit=False) as db:
            # store_notice renders first (no statement has run in this session yet, so no
            # transaction is open), then inserts: the write transaction lasts milliseconds.
            doc = registration.store_notice(
                db,
                prepared.case,
                prepared.municipality,
                kind=KIND,
                notice=proc.notice("annual"),
                context=prepared.context,
                title=f"Hundesteuerbescheid {run.year}",
                subject=f"Festsetzung der Hundesteuer {run.year}, {prepared.dog.dog_name}",
                filename=f"Hundesteuerbescheid-{run.year}",
                embedded=prepared.embedded,
                meta={**prepared.meta, "run_id": run_id},
                render_now=True,
            )
            if existing is not None:  # a failed item of an earlier attempt: take it over
                taken = db.exec(
                    update(NoticeRunItem)
                    .where(NoticeRunItem.id == existing.id, NoticeRunItem.status == "failed")
                    .values(status="issued", document_id=doc.id, error="", processed_at=utcnow())
                )
                if taken.rowcount != 1:
                    db.rollback()  # another process issued it meanwhile
                    return Result(dog_id, "skipped")
            else:
                db.add(
                    NoticeRunItem(
                        run_id=run_id,
                        municipality_id=run.municipality_id,
                        registered_dog_id=dog_id,
                        status="issued",
                        document_id=doc.id,
                    )
                )
                db.flush()
            audit.record(
                db,
                case_id=prepared.case.id,
                municipality_id=run.municipality_id,
                actor_kind="system",
                actor_id=None,
                actor_name="Jahreslauf",
                action="annual_notice",
                public=True,
                data={
                    "document_id": doc.id,
                    "year": run.year,
                    "total": str(prepared.assessment.total),
                },
            )
            db.commit()
            return Result(dog_id, "issued", document_id=doc.id)
    except IntegrityError:
        return Result(dog_id, "skipped")  # the unique item: another process was faster
    except Exception as exc:  # noqa: BLE001 - rendering or storing failed: record it
        error = _error_text(exc)
        _record_failure(engine, run, dog_id, error)
        return Result(dog_id, "failed", error)


# --------------------------------------------------------------------------- office


@dataclass(frozen=True)
class FailedItem:
    year: int
    tag_number: str
    dog_name: str
    case_reference: str
    error: str
    processed_at: object


def runs_for(db: Session, staff: StaffUser) -> list[NoticeRun]:
    """The runs of the clerk's municipality, newest year first."""
    return list(
        db.exec(
            select(NoticeRun)
            .where(NoticeRun.municipality_id == staff.municipality_id)
            .order_by(NoticeRun.year.desc(), NoticeRun.id.desc())
        )
    )


def failed_items(db: Session, staff: StaffUser, run_ids: list[int]) -> list[FailedItem]:
    """Failed items of these runs, only within the clerk's municipality."""
    if not run_ids:
        return []
    rows = db.exec(
        select(NoticeRunItem, NoticeRun.year, RegisteredDog, Case)
        .join(NoticeRun, NoticeRun.id == NoticeRunItem.run_id)
        .join(RegisteredDog, RegisteredDog.id == NoticeRunItem.registered_dog_id)
        .join(Case, Case.id == RegisteredDog.case_id)
        .where(
            NoticeRunItem.municipality_id == staff.municipality_id,
            NoticeRunItem.run_id.in_(run_ids),
            NoticeRunItem.status == "failed",
        )
        .order_by(NoticeRunItem.run_id.desc(), RegisteredDog.tag_number)
    ).all()
    return [
        FailedItem(year, d.tag_number, d.dog_name, c.reference, i.error, i.processed_at)
        for i, year, d, c in rows
    ]
