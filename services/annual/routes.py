"""Office page of the yearly runs: what the last ``amtsweg notices annual`` did."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.annual import service
from services.web.deps import CurrentStaff, SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/office", dependencies=[Depends(verify_csrf)])


@router.get("/runs")
def runs(request: Request, staff: CurrentStaff, db: SessionDep) -> Response:
    found = service.runs_for(db, staff)
    return render(
        request,
        "office/runs.html",
        staff=staff,
        runs=found,
        failed=service.failed_items(db, staff, [r.id for r in found]),
        labels=service.RUN_LABELS,
    )
