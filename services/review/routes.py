"""Clerk office: queue, case page, workflow transitions, documents."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from forms.model import Text
from forms.summary import summarize
from services.cases.routes import file_response
from services.errors import DomainError
from services.procedures import registry
from services.review import service
from services.timeutil import today_local
from services.web.deps import CurrentStaff, SessionDep, SettingsDep, verify_csrf
from services.web.templating import render
from workflow import TransitionRefused

router = APIRouter(prefix="/office", dependencies=[Depends(verify_csrf)])


@router.get("/")
def queue(
    request: Request, staff: CurrentStaff, db: SessionDep, state: str = "", page: int = 1
) -> Response:
    result = service.queue(db, staff, state or None, page)
    states = {k: v for p in registry.all_procedures() for k, v in p.workflow.states.items()}
    return render(
        request, "office/queue.html", staff=staff, result=result, states=states, state=state
    )


@router.get("/cases/{reference}")
def case_page(request: Request, reference: str, staff: CurrentStaff, db: SessionDep) -> Response:
    return _case_page(request, db, staff, reference)


def _case_page(
    request: Request,
    db,
    staff,
    reference: str,
    error: str | None = None,
    comment: str = "",
    status_code: int = 200,
) -> Response:
    view = service.view_case(db, staff, reference)
    return render(
        request,
        "office/case.html",
        reply_by_default=(
            today_local() + timedelta(days=request.app.state.settings.reply_days)
        ).isoformat(),
        status_code=status_code,
        staff=staff,
        view=view,
        states=view.procedure.workflow.states,
        error=error,
        comment=comment,
        sections=summarize(view.procedure.form, view.case.answers),
    )


@router.post("/cases/{reference}/transitions/{name}")
def transition(
    request: Request,
    reference: str,
    name: str,
    staff: CurrentStaff,
    db: SessionDep,
    version: Annotated[int, Form()],
    settings: SettingsDep,
    comment: Annotated[str, Form(max_length=4000)] = "",
    reply_by: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        case = service.transition(
            db,
            staff,
            reference,
            name,
            comment,
            version,
            reply_by=_date_or_none(reply_by),
            links=service.Links(settings.base_url, settings.secret_key),
            reply_days=settings.reply_days,
        )
    except (DomainError, TransitionRefused) as exc:
        # Nothing changed: show the fresh case with the reason, so the clerk can decide anew.
        db.rollback()
        message = exc.reason if isinstance(exc, TransitionRefused) else exc.message
        return _case_page(
            request, db, staff, reference, error=message.de, comment=comment, status_code=exc.status
        )
    db.commit()
    label = registry.get(case.procedure_id, case.procedure_version).workflow.states[case.state]
    request.session["flash"] = f"Erledigt. Der Vorgang hat jetzt den Status „{label.label.de}“."
    return RedirectResponse(f"/office/cases/{reference}", status_code=303)


def _date_or_none(text: str) -> date | None:
    """The reply deadline from the office form (ISO from <input type=date>, or 24.11.2026)."""
    text = text.strip()
    if not text:
        return None
    try:
        if "." in text:
            d, m, y = text.split(".")
            return date(int(y), int(m), int(d))
        return date.fromisoformat(text)
    except ValueError:
        raise service.CommentRequired(
            Text(
                de="Die Antwortfrist ist kein gültiges Datum (Beispiel: 10.12.2026).",
                en="The reply deadline is not a valid date (example: 10.12.2026).",
            )
        ) from None


@router.get("/cases/{reference}/files/{upload_id}")
def evidence_file(reference: str, upload_id: int, staff: CurrentStaff, db: SessionDep) -> Response:
    """An uploaded file, always as a download with its sniffed type (never rendered inline)."""
    return file_response(service.upload_for_staff(db, staff, reference, upload_id))


@router.get("/cases/{reference}/documents/{document_id}")
def document(reference: str, document_id: int, staff: CurrentStaff, db: SessionDep) -> Response:
    return file_response(service.document_for_staff(db, staff, reference, document_id))
