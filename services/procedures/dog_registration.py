"""What the dog-registration procedure needs beyond data: facts for guards, the tax, the notice."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms.model import Text
from forms.summary import display
from services.accounts.models import StaffUser
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases import documents as case_documents
from services.cases.models import Case, Document, RegisteredDog
from services.cases.sequences import next_value
from services.documents.render import render_html, render_pdf
from services.errors import ConfigurationMissing
from services.municipalities.models import Municipality
from services.municipalities.service import letterhead, rate_tables
from services.procedures.dog_tax import (
    Assessment,
    InvalidAssessment,
    MissingRateTable,
    RateTable,
    add_months,
    assess,
    liability_start,
)
from services.procedures.registry import NoticeTemplate, of
from services.timeutil import today_local, utcnow

# The answers this procedure's rules read (tax, notices, register, yearly run): a form
# version without one of them cannot be published (services.procedures.versions.check).
# Answers read only when present (moved_in_date, declared_dangerous, iban, ...) are not listed.
# The keeper: identity across filings (owner_key) and the letter's address; the
# deregistration reads the same.
KEEPER_ANSWERS = frozenset(
    {"given_names", "family_name", "birth_date", "street", "house_number", "postal_code", "town"}
)
ANSWERS = KEEPER_ANSWERS | frozenset(
    {
        # the dog: notice, register, tag
        "dog_name",
        "breed",
        "colour",
        "sex",
        "dog_birth_date",
        "chip_number",
        "intake_date",
        # reduction and payment: the tax, its due dates and the notice's wording
        "reduction_reason",
        "payment_method",
        "payment_interval",
    }
)


def facts(answers: dict[str, Any]) -> dict[str, Any]:
    """Facts the workflow guards read. Dangerous dogs, exemptions and reductions need four eyes."""
    return {
        "needs_four_eyes": bool(
            answers.get("declared_dangerous") or answers.get("reduction_requested")
        ),
        # The approval (or its proposal) must decide on a requested reduction or exemption.
        "decides_reduction": bool(answers.get("reduction_requested"))
        and not answers.get("declared_dangerous"),
    }


def owner_key(answers: dict[str, Any]) -> str:
    """Identify a keeper across filings: normalised names and date of birth."""
    parts = [
        answers.get("family_name", ""),
        answers.get("given_names", ""),
        answers.get("birth_date", ""),
    ]
    return "|".join(" ".join(str(p).casefold().split()) for p in parts)


def counts_in_household(dog: RegisteredDog, table: RateTable | None) -> bool:
    """Whether ``dog`` counts towards the number of dogs kept (or the order) that sets the
    rate of the keeper's other dogs. Dangerous and exempt dogs count only where the rate
    table says so (``counts_dangerous``, ``counts_exempt``; demo: neither, domain.md §2)."""
    counts_dangerous = table.counts_dangerous if table else False
    counts_exempt = table.counts_exempt if table else False
    return (counts_dangerous or not dog.dangerous) and (counts_exempt or not dog.exempt)


def dogs_already_kept(
    db: Session, case: Case, table: RateTable | None = None
) -> list[RegisteredDog]:
    """Dogs of this keeper in the municipality's register that count towards the rate
    (:func:`counts_in_household`)."""
    rows = db.exec(
        select(RegisteredDog)
        .where(
            RegisteredDog.municipality_id == case.municipality_id,
            RegisteredDog.owner_key == owner_key(case.answers),
            RegisteredDog.liable_until == None,  # noqa: E711
            RegisteredDog.case_id != case.id,
        )
        .order_by(RegisteredDog.id)
    )
    return [d for d in rows if counts_in_household(d, table)]


def liability_event(answers: dict[str, Any]) -> date:
    """The day the dog became taxable here: taken in, or the keeper moved in with it."""
    dates = [answers["intake_date"]]
    if answers.get("moved_in") and answers.get("moved_in_date"):
        dates.append(answers["moved_in_date"])
    return date.fromisoformat(max(dates))


def reduction_decision(db: Session, case: Case) -> dict | None:
    """The office's decision on a requested reduction or exemption, recorded with the
    approval (or its proposal, which the second approver confirms)."""
    events = db.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).all()
    return next((e.data["reduction"] for e in events if "reduction" in e.data), None)


def granted_reduction(
    answers: dict[str, Any], decision: dict | None, table: dict, start: date
) -> tuple[Decimal, date | None]:
    """Percent and last reduced month for a granted reduction, from the municipality's rate
    table (``reductions: {reason: {percent, months}}``); 0 when refused or not requested."""
    reason = answers.get("reduction_reason")
    if not (answers.get("reduction_requested") and decision and decision.get("granted")):
        return Decimal(0), None
    rule = (table.get("reductions") or {}).get(reason)
    if rule is None:
        raise ConfigurationMissing(
            Text(
                de=f"Für den Ermäßigungsgrund „{reason}“ ist in der Satztabelle {start.year} keine "
                "Regel hinterlegt. Die Administration muss sie eintragen.",
                en=f"The rate table {start.year} has no rule for the reduction reason '{reason}'.",
            )
        )
    months = rule.get("months")
    until = add_months(start, int(months) - 1) if months else None
    return Decimal(str(rule["percent"])), until


def _require_bank_details(m: Municipality) -> None:
    missing = [
        label
        for label, value in (
            ("IBAN", m.iban),
            ("BIC", m.bic),
            ("Bank", m.bank_name),
            ("Gläubiger-ID", m.creditor_id),
        )
        if not value
    ]
    if missing:
        raise ConfigurationMissing(
            Text(
                de=f"Für {m.name} fehlen Bankangaben ({', '.join(missing)}). Die Administration "
                "muss sie eintragen, bevor ein Bescheid erstellt werden kann.",
                en=f"{m.name} has no bank details ({', '.join(missing)}). An administrator must "
                "set them before a notice can be issued.",
            )
        )


def _letter(m: Municipality, case: Case, staff: StaffUser, notice_date: date) -> dict:
    """What every letter of this procedure needs: sender, addressee, references, date."""
    a = case.answers
    return {
        "municipality": letterhead(m),
        "case": {
            "reference": case.reference,
            "file_number": case.file_number,
            "payment_reference": f"{m.case_prefix}-03-{case.reference.rsplit('-', 1)[-1]}",
            "filed_at": case.submitted_at.date(),
            "mandate_reference": f"{case.reference}-M",
        },
        "notice_date": notice_date,
        "clerk_name": staff.display_name,
        "clerk_phone": staff.phone or m.phone,
        "clerk_email": staff.email or m.email,
        "owner": {
            k: a.get(k, "")
            for k in ("given_names", "family_name", "street", "house_number", "postal_code", "town")
        },
    }


def _dog(case: Case) -> dict:
    a = case.answers
    form = of(case).form
    return {
        "dog_name": a["dog_name"],
        "breed": a["breed"],
        "sex": a["sex"],
        "sex_label": display(form, form.field("sex"), a["sex"]),
        "dog_birth_date": date.fromisoformat(a["dog_birth_date"]),
        "colour": a["colour"],
        "chip_number": a["chip_number"],
    }


def _payment(a: dict[str, Any]) -> dict:
    return {
        "method": a["payment_method"],
        "interval": a["payment_interval"],
        "iban": a.get("iban"),
        "account_holder": a.get("account_holder_name")
        or f"{a.get('given_names', '')} {a.get('family_name', '')}",
    }


def store_notice(
    db: Session,
    case: Case,
    m: Municipality,
    *,
    kind: str,
    notice: NoticeTemplate,
    context: dict,
    title: str,
    subject: str,
    filename: str,
    embedded: dict,
    meta: dict,
    render_now: bool = False,
) -> Document:
    """Compose a notice and store it with the case; its PDF/A-3a, with the data embedded as
    JSON, is rendered by a job after the commit (``render_now``: here, for callers outside
    any transaction). The stored notice records the template and version that produced it."""
    embedded = {**embedded, "template": {"name": notice.template, "version": notice.version}}
    full_title = f"{title} {case.reference}"
    doc = Document(
        case_id=case.id,
        municipality_id=m.id,
        kind=kind,
        filename=f"{filename}-{case.reference}.pdf",
        template=notice.template,
        template_version=notice.version,
        meta={**meta, "template": notice.template, "template_version": notice.version},
    )
    return case_documents.store(
        db,
        doc,
        html=render_html(notice.template, context, title=full_title, source=notice.source),
        title=full_title,
        author=m.name,
        subject=subject,
        attachments=[
            (
                f"{filename.lower()}.json",
                json.dumps(embedded, ensure_ascii=False, indent=2, default=str).encode(),
                "Vorgangs- und Berechnungsdaten (maschinenlesbar)",
            )
        ],
        render_now=render_now,
    )


def _embedded_case(case: Case) -> dict:
    return {
        "reference": case.reference,
        "file_number": case.file_number,
        "procedure": case.procedure_id,
        "procedure_version": case.procedure_version,
        "answers": {k: v for k, v in case.answers.items() if k != "iban"},
    }


def _tables(db: Session, m: Municipality) -> tuple[dict[int, dict], dict[int, RateTable]]:
    raw = rate_tables(db, m.id)
    return raw, {year: RateTable.from_dict(data) for year, data in raw.items()}


@contextmanager
def tax_refusals(m: Municipality):
    """Turn the tax engine's refusals into ones an administrator or clerk can act on."""
    try:
        yield
    except MissingRateTable as exc:
        raise ConfigurationMissing(
            Text(
                de=f"Für {m.name} ist für das Jahr {exc.year} keine Hundesteuer-Satztabelle "
                "hinterlegt. Die Administration muss sie eintragen.",
                en=f"{m.name} has no dog-tax rate table for {exc.year}. An administrator must "
                "set it.",
            )
        ) from None
    except InvalidAssessment as exc:
        raise ConfigurationMissing(Text(de=exc.de, en=exc.en)) from None


def _assess(m: Municipality, tables: dict[int, RateTable], **kwargs) -> Assessment:
    with tax_refusals(m):
        return assess(tables, **kwargs)


def issue_notice(
    db: Session, case: Case, staff: StaffUser, notice_date: date | None = None
) -> Document:
    """Compute the tax, assign the tag number, render and store the Hundesteuerbescheid;
    then change notices for the keeper's other dogs whose rate the new dog changes."""
    m = db.get(Municipality, case.municipality_id)
    _require_bank_details(m)
    a = case.answers
    notice_date = notice_date or today_local()
    raw_tables, tables = _tables(db, m)
    start = liability_start(liability_event(a))
    decision = reduction_decision(db, case)
    percent, until = granted_reduction(a, decision, raw_tables.get(start.year, {}), start)
    kept = dogs_already_kept(db, case, tables.get(start.year))
    assessment = _assess(
        m,
        tables,
        intake_date=liability_event(a),
        notice_date=notice_date,
        dangerous=bool(a.get("declared_dangerous")),
        dogs_already_kept=len(kept),
        annual_payment=a.get("payment_interval") == "annual",
        reduction_percent=percent,
        reduction_until=until,
    )
    year = assessment.start_date.year
    tag_number = f"{year}-{next_value(db, m.id, 'tag', year):04d}"
    proc = of(case)
    form = proc.form
    context = {
        **_letter(m, case, staff, notice_date),
        "tag_number": tag_number,
        "dog": _dog(case),
        "payment": _payment(a),
        "reduction": {
            "requested": bool(a.get("reduction_requested")),
            "reason_label": display(form, form.field("reduction_reason"), a.get("reduction_reason"))
            or None,
            "granted": bool(decision and decision.get("granted")),
            "percent": percent,
            "until": until,
            # The citizen's evidence may be limited (exemption notice: renew it in time).
            "evidence_until": date.fromisoformat(a["reduction_valid_until"])
            if a.get("reduction_requested") and a.get("reduction_valid_until")
            else None,
            "refusal_reason": (decision or {}).get("reason", ""),
        },
        "assessment": assessment,
    }
    doc = store_notice(
        db,
        case,
        m,
        kind="notice",
        notice=proc.notice("approval"),
        context=context,
        title="Freistellungsbescheid Hundesteuer" if assessment.exempt else "Hundesteuerbescheid",
        subject=f"Befreiung von der Hundesteuer, {a['dog_name']}"
        if assessment.exempt
        else f"Festsetzung der Hundesteuer, {a['dog_name']}",
        filename="Hundesteuerbescheid",
        embedded={
            "case": _embedded_case(case),
            "tag_number": tag_number,
            "notice_date": notice_date.isoformat(),
            "assessment": assessment.to_dict(),
            "rate_tables": {str(y): t.to_dict() for y, t in tables.items()},
        },
        meta={
            "tag_number": tag_number,
            "total": str(assessment.total),
            "assessment": assessment.to_dict(),
        },
    )
    new_dog = RegisteredDog(
        municipality_id=m.id,
        case_id=case.id,
        owner_key=owner_key(a),
        chip_number=a["chip_number"],
        dog_name=a["dog_name"],
        tag_number=tag_number,
        liable_from=assessment.start_date.isoformat(),
        dangerous=bool(a.get("declared_dangerous")),
        exempt=percent == 100,
    )
    db.add(new_dog)
    db.flush()
    if year == notice_date.year and counts_in_household(new_dog, tables.get(year)):
        for other in kept:
            issue_change_notice(
                db,
                other,
                staff,
                since=assessment.start_date,
                cause=case,
                cause_left=False,
                notice_date=notice_date,
            )
    return doc


def issue_change_notice(
    db: Session,
    dog: RegisteredDog,
    staff: StaffUser,
    *,
    since: date,
    cause: Case,
    cause_left: bool,
    notice_date: date,
) -> Document | None:
    """Änderungsbescheid: another dog of the keeper arrived or left (``cause``), so from the
    month ``since`` this dog's rate changes (by number of dogs). The year is recomputed month
    by month from the register; nothing is issued if the amount does not change."""
    case = db.get(Case, dog.case_id)
    m = db.get(Municipality, case.municipality_id)
    _, tables = _tables(db, m)
    year = since.year
    table = tables.get(year)
    if table is None or table.model != "by_count":
        return None  # by order: later dogs take the next rate; earlier dogs keep theirs
    positions = household_positions(db, dog, year, table)
    previous = _last_notice(db, case)
    old = Decimal(0)
    for p in (previous.meta.get("assessment") or {}).get("periods", []) if previous else []:
        if int(p["year"]) == year:
            old += Decimal(p["amount"])
    a = case.answers
    percent = (
        Decimal(str((previous.meta.get("assessment") or {}).get("reduction_percent", "0")))
        if previous
        else Decimal(0)
    )
    new = _assess(
        m,
        tables,
        intake_date=date.fromisoformat(dog.liable_from) - timedelta(days=1),
        notice_date=notice_date,
        dangerous=dog.dangerous,
        annual_payment=a.get("payment_interval") == "annual",
        reduction_percent=percent,
        position_changes=positions,
        from_year=year,
    )
    if new.total == old:
        return None
    difference = new.total - old
    context = {
        **_letter(m, case, staff, notice_date),
        "tag_number": dog.tag_number,
        "dog": _dog(case),
        "payment": _payment(a),
        "assessment": new,
        "previous": {"date": previous.created_at.date() if previous else None, "amount": old},
        "difference": difference,
        "difference_due": add_months(notice_date, 1),
        "position": dict(positions)[since.replace(day=1)],
        "arrived": since,
        "cause_dog": cause.answers.get("dog_name", ""),
        "cause_left": cause_left,
    }
    proc = of(case)
    doc = store_notice(
        db,
        case,
        m,
        kind="change_notice",
        notice=proc.notice("change"),
        context=context,
        title="Änderungsbescheid Hundesteuer",
        subject=f"Änderung der Hundesteuer {year}",
        filename="Aenderungsbescheid",
        embedded={
            "case": _embedded_case(case),
            "notice_date": notice_date.isoformat(),
            "assessment": new.to_dict(),
            "previous_amount": str(old),
            "difference": str(difference),
            "cause_case": cause.reference,
            "rate_tables": {str(year): tables[year].to_dict()},
        },
        meta={
            "tag_number": dog.tag_number,
            "total": str(new.total),
            "difference": str(difference),
            "assessment": new.to_dict(),
            "cause_case": cause.reference,
        },
    )
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="system",
        actor_id=None,
        actor_name="System",
        action="change_notice",
        public=True,
        data={"document_id": doc.id, "difference": str(difference), "cause_case": cause.reference},
    )
    return doc


def household_positions(
    db: Session, dog: RegisteredDog, year: int, table: RateTable
) -> list[tuple[date, int]]:
    """The dog's position in the keeper's household for every month of ``year``, from the
    register: 1 + the keeper's other dogs liable that month that count
    (:func:`counts_in_household`); model ``by_order``: only those that started before this
    dog (domain.md §2), so when an earlier dog leaves, the later ones move up from the next
    month. The one rule for registration, change, deregistration and annual notices."""
    others = db.exec(
        select(RegisteredDog).where(
            RegisteredDog.municipality_id == dog.municipality_id,
            RegisteredDog.owner_key == dog.owner_key,
            RegisteredDog.id != dog.id,
        )
    ).all()
    counted = [
        o
        for o in others
        if counts_in_household(o, table)
        and (table.model == "by_count" or (o.liable_from, o.id) < (dog.liable_from, dog.id))
    ]
    positions = []
    for month in range(1, 13):
        first = date(year, month, 1)
        count = sum(
            1
            for o in counted
            if date.fromisoformat(o.liable_from) <= first
            and (o.liable_until is None or date.fromisoformat(o.liable_until) >= first)
        )
        positions.append((first, 1 + count))
    return positions


def _last_notice(db: Session, case: Case) -> Document | None:
    return db.exec(
        select(Document)
        .options(defer(Document.content))
        .where(Document.case_id == case.id, Document.kind.in_(["notice", "change_notice"]))
        .order_by(Document.id.desc())
    ).first()


def issue_rejection_notice(
    db: Session, case: Case, staff: StaffUser, reasons: str, notice_date: date | None = None
) -> Document:
    """Ablehnungsbescheid with the office's reasons and the legal-remedy notice."""
    m = db.get(Municipality, case.municipality_id)
    notice_date = notice_date or today_local()
    proc = of(case)
    context = {
        **_letter(m, case, staff, notice_date),
        "procedure_title": proc.title.de,
        "reasons": reasons,
        "dog": {
            "dog_name": case.answers.get("dog_name", ""),
            "chip_number": case.answers.get("chip_number", ""),
        },
    }
    return store_notice(
        db,
        case,
        m,
        kind="rejection",
        notice=proc.notice("rejection"),
        context=context,
        title="Ablehnungsbescheid",
        subject=f"Ablehnung: {proc.title.de}",
        filename="Ablehnungsbescheid",
        embedded={
            "case": _embedded_case(case),
            "notice_date": notice_date.isoformat(),
            "reasons": reasons,
        },
        meta={"reasons": reasons},
    )


def replace_tag(db: Session, case: Case, staff: StaffUser, reason: str) -> RegisteredDog:
    """A lost tag: the dog gets the next free number of the year; the old one is recorded."""
    dog = db.exec(select(RegisteredDog).where(RegisteredDog.case_id == case.id)).first()
    if dog is None or dog.liable_until is not None:
        raise ConfigurationMissing(
            Text(
                de="Für diesen Vorgang ist kein angemeldeter Hund im Register; eine Ersatzmarke "
                "kann erst nach dem Bescheid ausgegeben werden.",
                en="No registered dog for this case; a replacement tag needs an issued notice.",
            )
        )
    year = today_local().year
    old = dog.tag_number
    dog.tag_number = f"{year}-{next_value(db, case.municipality_id, 'tag', year):04d}"
    dog.replaced_tags = [
        *dog.replaced_tags,
        {"tag_number": old, "replaced_on": today_local().isoformat(), "reason": reason},
    ]
    db.add(dog)
    db.flush()
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="staff",
        actor_id=staff.id,
        actor_name=staff.display_name,
        action="replace_tag",
        comment=reason,
        public=True,
        data={"old_tag": old, "new_tag": dog.tag_number},
    )
    return dog


# --- previews for administrators (sample data, nothing stored) ------------------------------

SAMPLE_ANSWERS: dict[str, Any] = {
    "given_names": "Erika",
    "family_name": "Musterfrau",
    "birth_date": "1980-08-12",
    "street": "Torgauer Straße",
    "house_number": "12",
    "postal_code": "04916",
    "town": "Herzberg (Elster)",
    "moved_in": False,
    "dog_name": "Bello",
    "breed": "Mischling (Schäferhund)",
    "colour": "schwarz-braun",
    "sex": "male",
    "dog_birth_date": "2021-06-01",
    "chip_number": "276098100001234",
    "intake_date": "2026-05-14",
    "declared_dangerous": False,
    "reduction_requested": False,
    "payment_method": "direct_debit",
    "payment_interval": "quarterly",
    "iban": "DE89370400440532013000",
}


def preview_context(
    db: Session, m: Municipality, proc, kind: str, staff: StaffUser, notice_date: date
) -> dict | None:
    """A realistic context for previewing a notice template of ``proc`` (a draft version
    included) with sample data; None for kinds without a preview."""
    case = Case(
        id=0,
        municipality_id=m.id,
        procedure_id=proc.id,
        procedure_version=proc.version,
        reference=f"{m.case_prefix}-MUSTER-000000",
        file_number="Muster",
        state="approved",
        answers=SAMPLE_ANSWERS,
        status_token_hash="",
        submission_key="",
        owner_name="Musterfrau, Erika",
        due_date=notice_date,
        submitted_at=utcnow(),
    )
    letter = _letter(m, case, staff, notice_date)
    form = proc.form
    dog = {
        "dog_name": "Bello",
        "breed": SAMPLE_ANSWERS["breed"],
        "sex": "male",
        "sex_label": display(form, form.field("sex"), "male")
        if "sex" in form.field_ids()
        else "Rüde",
        "dog_birth_date": date(2021, 6, 1),
        "colour": "schwarz-braun",
        "chip_number": SAMPLE_ANSWERS["chip_number"],
    }
    if kind == "rejection":
        return {
            **letter,
            "procedure_title": proc.title.de,
            "dog": dog,
            "reasons": "Beispielbegründung: Der Hund ist bereits angemeldet.",
        }
    _, tables = _tables(db, m)
    intake = (
        date(notice_date.year, 1, 20)
        if notice_date.month > 1
        else date(notice_date.year - 1, 12, 20)
    )
    assessment = _assess(
        m,
        tables,
        intake_date=intake,
        notice_date=notice_date,
        dangerous=False,
        annual_payment=False,
    )
    base = {
        **letter,
        "tag_number": f"{notice_date.year}-0000",
        "dog": dog,
        "payment": _payment(SAMPLE_ANSWERS),
        "assessment": assessment,
    }
    if kind == "approval":
        return {
            **base,
            "reduction": {
                "requested": False,
                "reason_label": None,
                "granted": False,
                "percent": Decimal(0),
                "until": None,
                "refusal_reason": "",
            },
        }
    if kind == "change":
        return {
            **base,
            "previous": {"date": intake, "amount": assessment.total - Decimal(4)},
            "difference": Decimal(4),
            "difference_due": add_months(notice_date, 1),
            "position": 2,
            "arrived": assessment.start_date,
            "cause_dog": "Luna",
            "cause_left": False,
        }
    return None


def render_preview(db: Session, m: Municipality, proc, kind: str, staff: StaffUser) -> bytes:
    """The notice of ``kind`` as ``proc`` (e.g. a draft) would render it, with sample data."""
    notice = proc.notice(kind)
    context = preview_context(db, m, proc, kind, staff, today_local())
    if context is None:
        raise ConfigurationMissing(
            Text(
                de="Für diese Bescheidart gibt es keine Vorschau mit Beispieldaten.",
                en="There is no sample preview for this kind of notice.",
            )
        )
    return render_pdf(
        notice.template,
        context,
        source=notice.source,
        title=f"Vorschau {notice.template}",
        author=m.name,
    )
