"""What the dog-registration procedure needs beyond data: facts for guards, the tax, the notice."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from forms.model import Text
from forms.summary import display
from services.accounts.models import StaffUser
from services.cases.models import Case, Document, RegisteredDog
from services.cases.sequences import next_value
from services.documents.render import render_pdf
from services.errors import ConfigurationMissing
from services.municipalities.models import Municipality
from services.municipalities.service import rate_tables
from services.procedures.dog_tax import InvalidAssessment, MissingRateTable, RateTable, assess
from services.procedures.registry import get
from services.timeutil import today_local


def facts(answers: dict[str, Any]) -> dict[str, Any]:
    """Facts the workflow guards read. Dangerous dogs, exemptions and reductions need four eyes."""
    return {
        "needs_four_eyes": bool(
            answers.get("declared_dangerous") or answers.get("reduction_requested")
        )
    }


def owner_key(answers: dict[str, Any]) -> str:
    """Identify a keeper across filings: normalised names and date of birth."""
    parts = [
        answers.get("family_name", ""),
        answers.get("given_names", ""),
        answers.get("birth_date", ""),
    ]
    return "|".join(" ".join(str(p).casefold().split()) for p in parts)


def dogs_already_kept(db: Session, case: Case) -> int:
    """Dogs of this keeper in the municipality's register that count towards the rate.

    Dangerous dogs pay their own flat rate and do not count (demo rule, domain.md §2)."""
    rows = db.exec(
        select(RegisteredDog.id).where(
            RegisteredDog.municipality_id == case.municipality_id,
            RegisteredDog.owner_key == owner_key(case.answers),
            RegisteredDog.liable_until == None,  # noqa: E711
            RegisteredDog.dangerous == False,  # noqa: E712
            RegisteredDog.case_id != case.id,
        )
    )
    return len(list(rows))


def liability_event(answers: dict[str, Any]) -> date:
    """The day the dog became taxable here: taken in, or the keeper moved in with it."""
    dates = [answers["intake_date"]]
    if answers.get("moved_in") and answers.get("moved_in_date"):
        dates.append(answers["moved_in_date"])
    return date.fromisoformat(max(dates))


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


def issue_notice(
    db: Session, case: Case, staff: StaffUser, notice_date: date | None = None
) -> Document:
    """Compute the tax, assign the tag number, render and store the Hundesteuerbescheid."""
    m = db.get(Municipality, case.municipality_id)
    _require_bank_details(m)
    a = case.answers
    notice_date = notice_date or today_local()
    tables = {year: RateTable.from_dict(data) for year, data in rate_tables(db, m.id).items()}
    reduction = False  # reductions are decided by the office; the form only requests them
    try:
        assessment = assess(
            tables,
            intake_date=liability_event(a),
            notice_date=notice_date,
            dangerous=bool(a.get("declared_dangerous")),
            dogs_already_kept=dogs_already_kept(db, case),
            annual_payment=a.get("payment_interval") == "annual",
        )
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
        raise ConfigurationMissing(Text(de=str(exc), en=str(exc))) from None

    year = assessment.start_date.year
    tag_number = f"{year}-{next_value(db, m.id, 'tag', year):04d}"
    proc = get(case.procedure_id, case.procedure_version)
    notice = proc.notice("approval")
    form = proc.form
    context = {
        "municipality": m.model_dump(),
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
        "tag_number": tag_number,
        "owner": {
            k: a.get(k, "")
            for k in ("given_names", "family_name", "street", "house_number", "postal_code", "town")
        },
        "dog": {
            "dog_name": a["dog_name"],
            "breed": a["breed"],
            "sex": a["sex"],
            "sex_label": display(form, form.field("sex"), a["sex"]),
            "dog_birth_date": date.fromisoformat(a["dog_birth_date"]),
            "colour": a["colour"],
            "chip_number": a["chip_number"],
        },
        "payment": {
            "method": a["payment_method"],
            "interval": a["payment_interval"],
            "iban": a.get("iban"),
            "account_holder": a.get("account_holder_name")
            or f"{a.get('given_names', '')} {a.get('family_name', '')}",
        },
        "reduction": {
            "requested": bool(a.get("reduction_requested")),
            "reason_label": display(form, form.field("reduction_reason"), a.get("reduction_reason"))
            or None,
            "granted": reduction,
            "percent": Decimal(0),
        },
        "assessment": assessment,
    }
    embedded = {
        "case": {
            "reference": case.reference,
            "file_number": case.file_number,
            "procedure": case.procedure_id,
            "procedure_version": case.procedure_version,
            "answers": {k: v for k, v in a.items() if k != "iban"},
        },
        "tag_number": tag_number,
        "notice_date": notice_date.isoformat(),
        "assessment": assessment.to_dict(),
        "rate_tables": {str(y): t.to_dict() for y, t in tables.items()},
        "template": {"name": notice.template, "version": notice.version},
    }
    pdf = render_pdf(
        notice.template,
        context,
        title=f"Hundesteuerbescheid {case.reference}",
        author=m.name,
        subject=f"Festsetzung der Hundesteuer, {a['dog_name']}",
        attachments=[
            (
                "hundesteuerbescheid.json",
                json.dumps(embedded, ensure_ascii=False, indent=2).encode(),
                "Vorgangs- und Berechnungsdaten (maschinenlesbar)",
            )
        ],
    )
    doc = Document(
        case_id=case.id,
        municipality_id=m.id,
        kind="notice",
        filename=f"Hundesteuerbescheid-{case.reference}.pdf",
        size=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
        template=notice.template,
        template_version=notice.version,
        meta={
            "tag_number": tag_number,
            "total": str(assessment.total),
            "assessment": assessment.to_dict(),
        },
        content=pdf,
    )
    db.add(doc)
    db.add(
        RegisteredDog(
            municipality_id=m.id,
            case_id=case.id,
            owner_key=owner_key(a),
            chip_number=a["chip_number"],
            dog_name=a["dog_name"],
            tag_number=tag_number,
            liable_from=assessment.start_date.isoformat(),
            dangerous=bool(a.get("declared_dangerous")),
        )
    )
    db.flush()
    return doc
