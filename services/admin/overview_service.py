"""What the administration overview (/admin/) points out: settings a notice needs that are
missing, and failed jobs. Each check asks the rule where it lives (the notice's bank-details
rule, the rate tables, the job queue)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from services.admin import municipality_service
from services.errors import ConfigurationMissing
from services.jobs import service as jobs
from services.municipalities.models import Municipality
from services.procedures.dog_registration import _require_bank_details
from services.timeutil import today_local


@dataclass(frozen=True)
class Attention:
    section: str  # the section's address, e.g. "/admin/jobs"
    text: str
    href: str  # where to act


def attention(db: Session, m: Municipality) -> list[Attention]:
    found: list[Attention] = []
    year = today_local().year
    if municipality_service.table_for(db, m.id, year) is None:
        found.append(
            Attention(
                "/admin/municipality",
                f"Für {year} sind keine Hundesteuersätze hinterlegt; Bescheide werden "
                "abgelehnt, bis sie eingetragen sind.",
                f"/admin/municipality/rates/{year}",
            )
        )
    try:
        _require_bank_details(m)
    except ConfigurationMissing as exc:
        found.append(Attention("/admin/municipality", exc.message.de, "/admin/municipality"))
    failed = jobs.counts(db, m.id)["failed"]
    if failed:
        found.append(
            Attention(
                "/admin/jobs",
                "1 Auftrag ist fehlgeschlagen."
                if failed == 1
                else f"{failed} Aufträge sind fehlgeschlagen.",
                "/admin/jobs?state=failed",
            )
        )
    return found
