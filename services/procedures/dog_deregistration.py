"""What the dog-deregistration procedure needs beyond data: the register lookup, the end of
the liability, the final settlement of the tax and the final notice (Abmeldebescheid).

Rules (shared/domain.md sections 2 and 6; the open points are Amtsweg's choice):

* The liability ends at the end of the month of the event (death, handover, shelter, loss;
  on moving away, the month of the move). A past date needs evidence: the form demands it
  for death, shelter and moving away, and the new keeper's name and address count as the
  evidence of a handover. A loss without any evidence is not proven, so the liability ends
  at the end of the month after the month the deregistration was filed.
* The year of the end month is recomputed with ``assess(..., end_date=...)`` from the
  registration's intake date, dangerous status, payment interval and granted reduction; the
  household position per month comes from the keeper's other dogs in the register.
* The rate table of a year is the one the dog's last notice was computed with (a running
  case keeps its version); a year that notice did not compute uses the configured table.
* Every year from the end year through the notice year (or the last year the previous
  notice assessed) is compared with what the dog's last notice set for it: its periods of
  that year, or, for later years, its yearly amount as a standing notice (Dauerbescheid).
  Years after the end year are owed nothing.
* Difference < 0: refund (to the IBAN given, else the direct-debit mandate's account);
  difference > 0: balance due one month after the notice date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import desc
from sqlmodel import Session, select

from forms.model import Text
from forms.summary import display
from services.accounts.models import StaffUser
from services.cases.models import Case, Document, RegisteredDog
from services.errors import ConfigurationMissing, DomainError
from services.municipalities.models import Municipality
from services.municipalities.service import letterhead, rate_tables
from services.procedures import dog_registration as registration
from services.procedures.dog_tax import (
    Assessment,
    RateTable,
    add_months,
    assess,
    liability_start,
)
from services.procedures.registry import of
from services.timeutil import today_local

ZERO = Decimal("0.00")

# The answers this procedure's rules read (register lookup, end of liability, final notice):
# a form version without one of them cannot be published (services.procedures.versions.check).
# Evidence slots, the new keeper and the refund account are read only when present.
# The keeper (registration.KEEPER_ANSWERS) must be the registered keeper (owner_key) and is
# the letter's addressee.
ANSWERS = registration.KEEPER_ANSWERS | frozenset(
    {
        # the dog in the register: by tag number or chip number
        "tag_number",
        "chip_number",
        # the end of the liability and the tag
        "reason",
        "event_date",
        "tag_return",
    }
)

# Evidence slots of the form, per reason; a filled slot proves the date of the event.
EVIDENCE_SLOTS = ("evidence_vet", "evidence_shelter_contract", "evidence_new_address")
OPTIONAL_EVIDENCE = "evidence_other"


class RegisterMismatch(DomainError):
    """The deregistration does not match an active dog of this keeper in the register."""

    status = 409
    title = Text(de="Hund nicht im Hunderegister gefunden", en="Dog not found in the register")


def facts(answers: dict[str, Any]) -> dict[str, Any]:
    """Facts the workflow guards read: a deregistration grants nothing, so no four eyes."""
    return {"needs_four_eyes": False}


def normalise_tag(text: str) -> str:
    """``2026 0001``, ``2026/0001``, ``20260001`` -> ``2026-0001`` (year, then the number)."""
    compact = re.sub(r"[\s/._\-–]", "", str(text)).upper()
    if re.fullmatch(r"\d{5,}", compact):
        return f"{compact[:4]}-{compact[4:]}"
    return " ".join(str(text).split()).upper()


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


# --------------------------------------------------------------------------- register lookup


def _not_found(what_de: str, what_en: str, extra_de: str = "", extra_en: str = "") -> Text:
    return Text(
        de=f"Im Hunderegister ist kein angemeldeter Hund mit {what_de} verzeichnet.{extra_de} "
        "Bitte prüfen Sie die Steuermarken- und die Chipnummer der Abmeldung (bei Bedarf mit "
        "einer Rückfrage an die Antragstellerin oder den Antragsteller). Es wurde nichts "
        "geändert.",
        en=f"The dog register has no registered dog with {what_en}.{extra_en} Check the tag "
        "and chip number of the deregistration (ask the applicant if needed). Nothing was "
        "changed.",
    )


def find_registered_dog(db: Session, case: Case) -> RegisteredDog:
    """The active register entry (``liable_until`` empty) the deregistration names, by tag
    number or chip in the case's municipality; the keeper must be the registered keeper.
    Raises :class:`RegisterMismatch` with a message for the clerk otherwise."""
    a = case.answers
    tag = normalise_tag(a["tag_number"]) if a.get("tag_number") else None
    chip = a.get("chip_number")
    base = select(RegisteredDog).where(RegisteredDog.municipality_id == case.municipality_id)
    if tag:
        entries = db.exec(base.where(RegisteredDog.tag_number == tag)).all()
        what_de, what_en = f"der Steuermarkennummer {tag}", f"tag number {tag}"
    else:
        entries = db.exec(base.where(RegisteredDog.chip_number == chip)).all()
        what_de, what_en = f"der Chipnummer {chip}", f"chip number {chip}"
    active = [e for e in entries if e.liable_until is None]
    if not active:
        ended = [e for e in entries if e.liable_until]
        if ended:
            until = date.fromisoformat(ended[-1].liable_until).strftime("%d.%m.%Y")
            raise RegisterMismatch(
                _not_found(
                    what_de,
                    what_en,
                    f" Der Hund mit dieser Nummer ist bereits zum {until} abgemeldet.",
                    f" The dog with this number was already deregistered as of {until}.",
                )
            )
        raise RegisterMismatch(_not_found(what_de, what_en))
    dog = active[0]
    if tag and chip and dog.chip_number != chip:
        raise RegisterMismatch(
            Text(
                de=f"Die Steuermarke {tag} gehört im Hunderegister zu einem Hund mit einer "
                f"anderen Chipnummer als {chip}. Bitte prüfen Sie die Steuermarken- und die "
                "Chipnummer der Abmeldung. Es wurde nichts geändert.",
                en=f"In the dog register, tag {tag} belongs to a dog with a chip number other "
                f"than {chip}. Check the tag and chip number of the deregistration. Nothing "
                "was changed.",
            )
        )
    if dog.owner_key != registration.owner_key(a):
        raise RegisterMismatch(
            Text(
                de=f"Der Hund mit {what_de} ist im Hunderegister für eine andere Halterin oder "
                "einen anderen Halter angemeldet (Name und Geburtsdatum stimmen nicht überein). "
                "Nur die angemeldete Person kann den Hund abmelden. Bitte prüfen Sie die "
                "Angaben. Es wurde nichts geändert.",
                en=f"The dog with {what_en} is registered to another keeper (name and date of "
                "birth differ). Only the registered keeper can deregister it. Check the "
                "details. Nothing was changed.",
            )
        )
    return dog


# --------------------------------------------------------------------------- end of liability


@dataclass(frozen=True)
class LiabilityEnd:
    event_date: date
    liable_until: date  # last day of the last taxable month
    proven: bool  # False: a loss without evidence, the end moves to the month after filing


def end_of_liability(answers: Mapping[str, Any], filed_on: date) -> LiabilityEnd:
    """The last day of the liability (domain.md §2): end of the event's month if the date is
    proven, else end of the month after the month the deregistration was filed."""
    event = date.fromisoformat(answers["event_date"])
    proven = (
        answers.get("reason") == "given_away"  # the new keeper's name and address are asked
        or any(answers.get(slot) for slot in (*EVIDENCE_SLOTS, OPTIONAL_EVIDENCE))
    )
    if proven:
        return LiabilityEnd(event, _month_end(event), True)
    later = _month_end(add_months(_month_start(filed_on), 1))
    return LiabilityEnd(event, max(later, _month_end(event)), False)


# --------------------------------------------------------------------------- settlement


@dataclass(frozen=True)
class YearSettlement:
    year: int
    assessed: Decimal  # what the dog's last notice set for the year
    owed: Decimal  # recomputed to the end month
    months: int  # taxable months of the year after the recomputation

    @property
    def difference(self) -> Decimal:
        return self.owed - self.assessed

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "assessed": str(self.assessed),
            "owed": str(self.owed),
            "months": self.months,
            "difference": str(self.difference),
        }


@dataclass(frozen=True)
class Settlement:
    liable_until: date
    notice_date: date
    assessment: Assessment | None  # the end year recomputed; None if no month was taxable
    years: list[YearSettlement]

    @property
    def owed(self) -> Decimal:
        return sum((y.owed for y in self.years), ZERO)

    @property
    def assessed(self) -> Decimal:
        return sum((y.assessed for y in self.years), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.owed - self.assessed

    @property
    def refund(self) -> Decimal:
        return -self.difference if self.difference < 0 else ZERO

    @property
    def balance_due(self) -> Decimal:
        return self.difference if self.difference > 0 else ZERO

    @property
    def due_date(self) -> date | None:
        """A balance is due one month after the notice date."""
        return add_months(self.notice_date, 1) if self.balance_due else None

    @property
    def years_label(self) -> str:
        years = [y.year for y in self.years]
        if len(years) == 1:
            return str(years[0])
        if len(years) == 2:
            return f"{years[0]} und {years[1]}"
        return f"{years[0]} bis {years[-1]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "liable_until": self.liable_until.isoformat(),
            "notice_date": self.notice_date.isoformat(),
            "years": [y.to_dict() for y in self.years],
            "owed": str(self.owed),
            "assessed": str(self.assessed),
            "difference": str(self.difference),
            "refund": str(self.refund),
            "balance_due": str(self.balance_due),
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "assessment": self.assessment.to_dict() if self.assessment else None,
        }


def assessed_for(previous: Assessment, year: int) -> Decimal:
    """What a notice set for ``year``: its periods of that year; for later years its yearly
    amount (it is a standing notice); nothing for years before its start."""
    amounts = [p.amount for p in previous.periods if p.year == year]
    if amounts:
        return sum(amounts, ZERO)
    if previous.periods and year > previous.periods[-1].year:
        return previous.yearly_amount_next_year
    return ZERO


def settle(
    tables: Mapping[int, RateTable],
    *,
    intake_date: date,
    liable_until: date,
    notice_date: date,
    dangerous: bool,
    previous: Assessment,
    annual_payment: bool = False,
    reduction_percent: Decimal = Decimal(0),
    reduction_until: date | None = None,
    position_changes: Sequence[tuple[date, int]] = (),
) -> Settlement:
    """Recompute the end year to the end month and compare every affected year with what the
    previous notice set (pure; see the module docstring for the rules)."""
    end_year = liable_until.year
    if _month_start(liable_until) < liability_start(intake_date):
        # Gone in the month of the intake (or before the liability began): nothing is owed.
        assessment = None
    else:
        assessment = assess(
            tables,
            intake_date=intake_date,
            notice_date=notice_date,
            dangerous=dangerous,
            annual_payment=annual_payment,
            reduction_percent=reduction_percent,
            reduction_until=reduction_until,
            end_date=liable_until,
            from_year=end_year,
            position_changes=position_changes,
        )
    owed = assessment.total if assessment else ZERO
    months = sum(p.months for p in assessment.periods) if assessment else 0
    last_assessed = previous.periods[-1].year if previous.periods else end_year
    years = [YearSettlement(end_year, assessed_for(previous, end_year), owed, months)]
    for year in range(end_year + 1, max(notice_date.year, last_assessed) + 1):
        assessed = assessed_for(previous, year)
        if assessed:  # a later year the previous notice charged: nothing is owed for it
            years.append(YearSettlement(year, assessed, ZERO, 0))
    return Settlement(liable_until, notice_date, assessment, years)


# --------------------------------------------------------------------------- database helpers


def last_notice(db: Session, case_id: int) -> Document | None:
    """The newest notice of the registration case that carries an assessment."""
    docs = db.exec(
        select(Document)
        .where(Document.case_id == case_id, Document.kind == "notice")
        .order_by(desc(Document.created_at), desc(Document.id))
    ).all()
    return next((d for d in docs if d.meta.get("assessment")), None)


def _payment_reference(m: Municipality, registration_case: Case) -> str:
    # The dog's tax account (Kassenzeichen), as printed in its registration notice.
    return f"{m.case_prefix}-03-{registration_case.reference.rsplit('-', 1)[-1]}"


def _refund_account(a: Mapping[str, Any], reg: Mapping[str, Any]) -> dict[str, Any]:
    owner = f"{a.get('given_names', '')} {a.get('family_name', '')}".strip()
    if a.get("refund_iban"):
        return {
            "iban": a["refund_iban"],
            "holder": a.get("refund_account_holder") or owner,
            "source": "form",
        }
    if reg.get("payment_method") == "direct_debit" and reg.get("iban"):
        return {
            "iban": reg["iban"],
            "holder": reg.get("account_holder_name") or owner,
            "source": "mandate",
        }
    return {"iban": None, "holder": owner, "source": None}


def _recipient_lines(a: Mapping[str, Any]) -> list[str]:
    """The address the notice goes to: after moving away, the new address."""
    name = f"{a.get('given_names', '')} {a.get('family_name', '')}".strip()
    if a.get("reason") == "moved_away" and a.get("new_address"):
        return [name, *(p.strip() for p in a["new_address"].split(",") if p.strip())]
    return [
        name,
        f"{a.get('street', '')} {a.get('house_number', '')}".strip(),
        f"{a.get('postal_code', '')} {a.get('town', '')}".strip(),
    ]


# --------------------------------------------------------------------------- the notice


def issue_notice(
    db: Session, case: Case, staff: StaffUser, notice_date: date | None = None
) -> Document:
    """Find the dog, end its liability, settle the tax, render and store the final notice.
    Every check runs before anything is written, so a refusal changes nothing."""
    m = db.get(Municipality, case.municipality_id)
    a = case.answers
    notice_date = notice_date or today_local()
    dog = find_registered_dog(db, case)
    reg_case = db.get(Case, dog.case_id)
    reg = reg_case.answers
    previous_doc = last_notice(db, reg_case.id)
    if previous_doc is None:
        raise ConfigurationMissing(
            Text(
                de=f"Zum Hund „{dog.dog_name}“ (Steuermarke {dog.tag_number}) liegt kein "
                "Hundesteuerbescheid mit Berechnung vor; die Differenz lässt sich nicht "
                "ermitteln. Es wurde nichts geändert.",
                en=f"The dog '{dog.dog_name}' (tag {dog.tag_number}) has no dog-tax notice with "
                "a computation; the difference cannot be determined. Nothing was changed.",
            )
        )
    previous = Assessment.from_dict(previous_doc.meta["assessment"])
    intake = registration.liability_event(reg)
    end = end_of_liability(a, case.submitted_at.date())
    if end.event_date < intake:
        raise RegisterMismatch(
            Text(
                de=f"Das angegebene Datum {end.event_date:%d.%m.%Y} liegt vor der Aufnahme des "
                f"Hundes am {intake:%d.%m.%Y} laut Anmeldung {reg_case.reference}. Bitte "
                "prüfen Sie das Datum (bei Bedarf mit einer Rückfrage). Es wurde nichts "
                "geändert.",
                en=f"The date given, {end.event_date.isoformat()}, lies before the dog's intake "
                f"on {intake.isoformat()} (registration {reg_case.reference}). Check the date. "
                "Nothing was changed.",
            )
        )

    raw_tables = rate_tables(db, m.id)
    tables = {year: RateTable.from_dict(data) for year, data in raw_tables.items()}
    # A year the previous notice computed keeps that notice's table (a running case keeps
    # its version); other years use the configured table.
    for year, data in previous.rate_tables.items():
        tables[int(year)] = RateTable.from_dict(data)
    start = liability_start(intake)
    percent, until = registration.granted_reduction(
        reg,
        registration.reduction_decision(db, reg_case),
        raw_tables.get(start.year, {}),
        start,
    )
    end_table = tables.get(end.liable_until.year)
    positions = (
        registration.household_positions(db, dog, end.liable_until.year, end_table)
        if end_table
        else []
    )
    with registration.tax_refusals(m):
        settlement = settle(
            tables,
            intake_date=intake,
            liable_until=end.liable_until,
            notice_date=notice_date,
            dangerous=dog.dangerous,
            previous=previous,
            annual_payment=reg.get("payment_interval") == "annual",
            reduction_percent=percent,
            reduction_until=until,
            position_changes=positions,
        )

    proc = of(case)
    notice = proc.notice("approval")
    form = proc.form
    reg_form = of(reg_case).form
    used_tables = settlement.assessment.rate_tables if settlement.assessment else {}
    refund_account = _refund_account(a, reg)
    register_entry = {
        "id": dog.id,
        "tag_number": dog.tag_number,
        "chip_number": dog.chip_number,
        "dog_name": dog.dog_name,
        "liable_from": dog.liable_from,
        "liable_until": end.liable_until.isoformat(),
        "dangerous": dog.dangerous,
        "registration_case": reg_case.reference,
    }
    context = {
        "municipality": letterhead(m),
        "case": {
            "reference": case.reference,
            "file_number": case.file_number,
            "payment_reference": _payment_reference(m, reg_case),
            "filed_at": case.submitted_at.date(),
        },
        "notice_date": notice_date,
        "clerk_name": staff.display_name,
        "clerk_phone": staff.phone or m.phone,
        "clerk_email": staff.email or m.email,
        "owner": {
            k: a.get(k, "")
            for k in ("given_names", "family_name", "street", "house_number", "postal_code", "town")
        },
        "recipient_lines": _recipient_lines(a),
        "dog": {
            "dog_name": dog.dog_name,
            "breed": reg.get("breed", ""),
            "sex_label": display(reg_form, reg_form.field("sex"), reg.get("sex")),
            "chip_number": dog.chip_number,
            "tag_number": dog.tag_number,
            "liable_from": date.fromisoformat(dog.liable_from),
            "dangerous": dog.dangerous,
        },
        "registration": {
            "reference": reg_case.reference,
            "notice_date": previous.notice_date or previous_doc.created_at.date(),
        },
        "deregistration": {
            "reason": a["reason"],
            "reason_label": display(form, form.field("reason"), a["reason"]),
            "event_date": end.event_date,
            "liable_until": end.liable_until,
            "proven": end.proven,
            "new_keeper_name": a.get("new_keeper_name"),
            "new_keeper_address": a.get("new_keeper_address"),
            "shelter_name": a.get("shelter_name"),
            "new_address": a.get("new_address"),
            "tag_return": a["tag_return"],
        },
        "settlement": settlement,
        "assessment": settlement.assessment,
        "refund_account": refund_account,
        "reduction_percent": settlement.assessment.reduction_percent
        if settlement.assessment
        else Decimal(0),
    }
    embedded = {
        "case": {
            "reference": case.reference,
            "file_number": case.file_number,
            "procedure": case.procedure_id,
            "procedure_version": case.procedure_version,
            "answers": {k: v for k, v in a.items() if k != "refund_iban"},
        },
        "register_entry": register_entry,
        "previous_notice": {
            "document_id": previous_doc.id,
            "sha256": previous_doc.sha256 or None,  # None: its PDF is still being rendered
            "template": previous_doc.template,
            "template_version": previous_doc.template_version,
        },
        "notice_date": notice_date.isoformat(),
        "liability_end": {
            "event_date": end.event_date.isoformat(),
            "liable_until": end.liable_until.isoformat(),
            "proven": end.proven,
        },
        "settlement": settlement.to_dict(),
        "assessment": settlement.assessment.to_dict() if settlement.assessment else None,
        "rate_tables": {str(y): t for y, t in used_tables.items()},
    }
    doc = registration.store_notice(
        db,
        case,
        m,
        kind="notice",
        notice=notice,
        context=context,
        title="Abmeldebescheid Hundesteuer",
        subject=f"Abmeldung des Hundes {dog.dog_name} und Hundesteuer {settlement.years_label}",
        filename="Abmeldebescheid",
        embedded=embedded,
        meta={
            "tag_number": dog.tag_number,
            "registered_dog_id": dog.id,
            "registration_case": reg_case.reference,
            "previous_notice_id": previous_doc.id,
            "liable_until": end.liable_until.isoformat(),
            "total": str(settlement.owed),
            "assessed_before": str(settlement.assessed),
            "difference": str(settlement.difference),
            "refund": str(settlement.refund),
            "balance_due": str(settlement.balance_due),
            "due_date": settlement.due_date.isoformat() if settlement.due_date else None,
            "rate_tables": {str(y): t for y, t in used_tables.items()},
            "settlement": settlement.to_dict(),
        },
    )
    dog.liable_until = end.liable_until.isoformat()
    db.add(dog)
    db.flush()
    _change_notices_for_the_others(db, dog, case, staff, end.liable_until, notice_date, tables)
    return doc


def _change_notices_for_the_others(
    db: Session,
    dog: RegisteredDog,
    case: Case,
    staff,
    liable_until: date,
    notice_date: date,
    tables: Mapping[int, RateTable],
) -> None:
    """The keeper's other dogs move down a rate from the month after this dog's last month
    (domain.md §6: household changes; they get change notices). A change that starts in a
    later year is left to that year's annual notices."""
    since = liable_until + timedelta(days=1)
    if since.year != notice_date.year:
        return
    others = [
        o
        for o in db.exec(
            select(RegisteredDog)
            .where(
                RegisteredDog.municipality_id == dog.municipality_id,
                RegisteredDog.owner_key == dog.owner_key,
                RegisteredDog.id != dog.id,
                RegisteredDog.liable_until == None,  # noqa: E711
                RegisteredDog.dangerous == False,  # noqa: E712
            )
            .order_by(RegisteredDog.id)
        ).all()
        if date.fromisoformat(o.liable_from) < since
    ]
    if not others or not registration.counts_in_household(dog, tables.get(since.year)):
        return
    for other in others:
        registration.issue_change_notice(
            db,
            other,
            staff,
            since=since,
            cause=case,
            cause_left=True,
            notice_date=notice_date,
        )
