"""Jobs of a case: the receipt (Eingangsbestätigung) after filing, and the PDF of a notice
composed by a decision (services/cases/documents.py)."""

from __future__ import annotations

import logging

from services.cases import documents, service
from services.cases.models import Case, Document
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


@job(
    documents.RENDER_JOB,
    label=("Bescheid als PDF erstellen", "Render a notice as PDF"),
    lease_seconds=300,
)
def render_document(ctx: JobContext, document_id: int) -> int | None:
    """Render a pending document with no transaction open and no lock held, then store it."""
    with unit_of_work(ctx.engine, lock=False) as db:
        doc = db.get(Document, document_id)
        if doc is None or not doc.pending:  # deleted meanwhile, or stored by an earlier run
            return None
        source = dict(doc.render_source or {})
    pdf = documents.render(source)
    with unit_of_work(ctx.engine) as db:
        doc = documents.store_rendered(db, document_id, pdf)
        return doc.id if doc is not None else None
