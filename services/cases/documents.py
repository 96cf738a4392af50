"""Documents of a case that are composed in a transaction and rendered to PDF by a job.

A notice is decided, numbered and composed (its HTML, a few milliseconds) in the transaction
of the decision, so that the decision, its tag number and its document exist together or
not at all. Typesetting the PDF (WeasyPrint, about a second) runs afterwards in the job
``documents.render``, with no transaction open and no lock held; the PDF is then stored
once, under the case's lock, and its SHA-256 is appended to the case's audit chain
("document_stored"). Until then the document is *pending*: pages say "wird erstellt" and
its download answers that it is being made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlmodel import Session

from services.audit import service as audit
from services.cases import lifecycle
from services.cases.models import Document
from services.documents.render import html_to_pdf
from services.jobs import service as jobs

RENDER_JOB = "documents.render"


def store(
    db: Session,
    doc: Document,
    *,
    html: str,
    title: str,
    author: str,
    subject: str = "",
    lang: str = "de",
    attachments: Iterable[tuple[str, bytes, str]] = (),
    render_now: bool = False,
) -> Document:
    """Add ``doc`` (its metadata set, no content) with the PDF of ``html``: rendered by the
    job after the caller's commit, or here with ``render_now`` (for callers that run
    outside any transaction and lock, such as the yearly run's job)."""
    source = {
        "html": html,
        "title": title,
        "author": author,
        "subject": subject,
        "lang": lang,
        "attachments": [[name, data.decode(), text] for name, data, text in attachments],
    }
    if render_now:
        _fill(doc, render(source))
        db.add(doc)
        db.flush()
        return doc
    doc.content, doc.size, doc.sha256, doc.render_source = b"", 0, "", source
    db.add(doc)
    db.flush()
    jobs.enqueue(
        db,
        RENDER_JOB,
        {"document_id": doc.id},
        key=f"document:{doc.id}",
        municipality_id=doc.municipality_id,
        case_id=doc.case_id,
    )
    return doc


def render(source: dict) -> bytes:
    """The PDF/A-3a of a stored render source."""
    return html_to_pdf(
        source["html"],
        title=source["title"],
        author=source["author"],
        subject=source.get("subject", ""),
        lang=source.get("lang", "de"),
        attachments=[(name, data.encode(), text) for name, data, text in source["attachments"]],
    )


def store_rendered(db: Session, document_id: int, pdf: bytes) -> Document | None:
    """Keep the rendered PDF of a pending document, once (a job run again after a crash
    finds it stored), and record its hash in the case's audit chain."""
    doc = db.get(Document, document_id)
    if doc is None:
        return None
    lifecycle.lock(db, doc.case_id)
    db.refresh(doc)
    if not doc.pending:
        return doc
    _fill(doc, pdf)
    audit.record(
        db,
        case_id=doc.case_id,
        municipality_id=doc.municipality_id,
        actor_kind="system",
        actor_id=None,
        actor_name="System",
        action="document_stored",
        data={"document_id": doc.id, "kind": doc.kind, "sha256": doc.sha256, "size": doc.size},
    )
    return doc


def _fill(doc: Document, pdf: bytes) -> None:
    doc.content = pdf
    doc.size = len(pdf)
    doc.sha256 = hashlib.sha256(pdf).hexdigest()
    doc.render_source = None
