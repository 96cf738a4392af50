"""Jobs of the citizen's side: the receipt (Eingangsbestätigung) after filing."""

from __future__ import annotations

import logging

from services.cases import service
from services.cases.models import Case
from services.db import unit_of_work
from services.documents.receipt import render_receipt
from services.jobs.registry import JobContext, job

log = logging.getLogger("amtsweg.cases")


@job(
    "cases.receipt",
    label=("Eingangsbestätigung erstellen", "Create receipt"),
    lease_seconds=120,
)
def make_receipt(ctx: JobContext, case_id: int) -> int | None:
    """Render the receipt with no transaction open and no lock held, then store it once."""
    with unit_of_work(ctx.engine, lock=False) as db:
        case = db.get(Case, case_id)
        if case is None:  # deleted meanwhile (retention): nothing to confirm any more
            return None
        if service.receipt_of(db, case_id) is not None:
            return None
        context = service.receipt_context(db, case)
    pdf = render_receipt(context)
    with unit_of_work(ctx.engine) as db:
        case = db.get(Case, case_id)
        if case is None:
            return None
        doc = service.store_receipt(db, case, pdf, len(context["attachments"]))
        return doc.id
