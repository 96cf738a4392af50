"""Administration overview (/admin/): the sections of the administration, what needs
attention now and the latest changes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.admin import overview_service
from services.admin.deps import CurrentAdmin
from services.audit.service import admin_action_label, admin_history
from services.municipalities.models import Municipality
from services.web.deps import SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])


@router.get("/")
def overview(request: Request, admin: CurrentAdmin, db: SessionDep) -> Response:
    m = db.get(Municipality, admin.municipality_id)
    response = render(
        request,
        "admin/overview.html",
        lang="de",
        staff=admin,
        m=m,
        attention=overview_service.attention(db, m),
        events=admin_history(db, m.id, limit=5),
        action_label=admin_action_label,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
