"""Administration: the municipality's jobs (and the installation's periodic ones): what is
queued, running, done or failed, with the error; a failed job can be sent round again."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from forms.model import Text
from services.admin.deps import CurrentAdmin
from services.db import DbInt
from services.errors import NotFound
from services.jobs import registry, service
from services.jobs.models import STATES
from services.web.deps import SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])

STATE_LABELS = {
    "queued": "wartet",
    "running": "läuft",
    "done": "erledigt",
    "failed": "fehlgeschlagen",
}


@router.get("/jobs")
def jobs_page(request: Request, admin: CurrentAdmin, db: SessionDep, state: str = "") -> Response:
    state = state if state in STATES else ""
    response = render(
        request,
        "admin/jobs.html",
        lang="de",
        staff=admin,
        counts=service.counts(db, admin.municipality_id),
        jobs=service.listing(db, admin.municipality_id, state or None),
        state=state,
        state_labels=STATE_LABELS,
        kinds=registry.kinds(),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, job_id: DbInt, admin: CurrentAdmin, db: SessionDep) -> Response:
    try:
        job = service.retry(db, job_id, admin.municipality_id)
    except service.JobNotRetryable:
        raise NotFound(
            Text(
                de="Diesen fehlgeschlagenen Auftrag gibt es nicht (mehr).",
                en="No such failed job.",
            )
        ) from None
    db.commit()
    request.session["flash"] = f"Auftrag {job.id} wird erneut ausgeführt."
    return RedirectResponse("/admin/jobs?state=failed", status_code=303)
