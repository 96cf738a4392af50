"""Clerk office: queue, case page, workflow transitions, documents."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from forms.model import Text
from forms.summary import summarize
from services.cases.routes import file_response
from services.db import DbInt
from services.errors import DomainError
from services.procedures import registry
from services.review import queue as queues
from services.review import service
from services.timeutil import today_local
from services.web.deps import CurrentStaff, SessionDep, SettingsDep, verify_csrf
from services.web.templating import render
from workflow import TransitionRefused
from workflow.diagram import render_svg

router = APIRouter(prefix="/office", dependencies=[Depends(verify_csrf)])


def _optional_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None  # a broken date filter is ignored, the form shows it empty


@router.get("/")
def queue(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    view: str = "open",
    state: str = "",
    procedure: str = "",
    assignee: str = "",
    submitted_from: str = "",
    submitted_to: str = "",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: str = "due",
    after: str = "",
    before: str = "",
) -> Response:
    f = queues.QueueFilter(
        view=view if view in queues.VIEWS else "open",
        state=state,
        procedure=procedure,
        assignee=assignee,
        submitted_from=_optional_date(submitted_from),
        submitted_to=_optional_date(submitted_to),
        q=q,
        sort=sort if sort in queues.SORTS else "due",
        after=after,
        before=before,
    )
    result = queues.queue(db, staff, f)
    procedures = registry.all_procedures()
    states = {k: v for p in procedures for k, v in p.workflow.states.items()}
    colleagues = {u.id: u for u in service.colleagues(db, staff)}
    return render(
        request,
        "office/queue.html",
        staff=staff,
        result=result,
        states=states,
        procedures=procedures,
        colleagues=colleagues,
        views=queues.VIEWS,
        sorts=queues.SORTS,
        cap=queues.COUNT_CAP,
        urlencode=urlencode,
    )


@router.post("/cases/{reference}/claim")
def claim(
    request: Request,
    reference: str,
    staff: CurrentStaff,
    db: SessionDep,
    back: Annotated[str, Form()] = "",
) -> Response:
    service.claim(db, staff, reference)
    db.commit()
    request.session["flash"] = f"Sie haben den Vorgang {reference} übernommen."
    return RedirectResponse(_back(back, reference), status_code=303)


@router.post("/cases/{reference}/assign")
def assign(
    request: Request,
    reference: str,
    staff: CurrentStaff,
    db: SessionDep,
    assignee_id: Annotated[DbInt, Form()],
) -> Response:
    case = service.assign(db, staff, reference, assignee_id)
    db.commit()
    name = next(u.display_name for u in service.colleagues(db, staff) if u.id == case.assignee_id)
    request.session["flash"] = f"Der Vorgang ist jetzt {name} zugewiesen."
    return RedirectResponse(f"/office/cases/{reference}", status_code=303)


@router.post("/cases/{reference}/release")
def release(request: Request, reference: str, staff: CurrentStaff, db: SessionDep) -> Response:
    service.release(db, staff, reference)
    db.commit()
    request.session["flash"] = "Der Vorgang ist wieder im Eingang „Nicht zugewiesen“."
    return RedirectResponse(f"/office/cases/{reference}", status_code=303)


@router.post("/cases/{reference}/replace-tag")
def replace_tag(
    request: Request,
    reference: str,
    staff: CurrentStaff,
    db: SessionDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        dog = service.replace_tag(db, staff, reference, reason)
    except DomainError as exc:
        db.rollback()
        return _case_page(
            request, db, staff, reference, error=exc.message.de, status_code=exc.status
        )
    db.commit()
    request.session["flash"] = f"Ersatzmarke Nr. {dog.tag_number} ausgegeben."
    return RedirectResponse(f"/office/cases/{reference}", status_code=303)


def _back(back: str, reference: str) -> str:
    """Return to the queue page the clerk came from (same-site paths only)."""
    return (
        back
        if back.startswith("/office/") and not back.startswith("//")
        else f"/office/cases/{reference}"
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
    view = service.view_case(db, staff, reference, record=error is None)
    if error is None:
        db.commit()  # the "viewed" event; the case's lock is not held while the page renders
    return render(
        request,
        "office/case.html",
        reply_by_default=(
            today_local() + timedelta(days=request.app.state.settings.reply_days)
        ).isoformat(),
        status_code=status_code,
        staff=staff,
        view=view,
        deciding=service.DECIDING,
        decides_reduction=view.procedure.module.facts(view.case.answers).get("decides_reduction"),
        states=view.procedure.workflow.states,
        diagram=render_svg(
            view.procedure.workflow,
            current=view.case.state,
            visited=[e.to_state for e in view.events if e.to_state],
        ),
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
    reduction: Annotated[str, Form(max_length=10)] = "",
    reduction_reason: Annotated[str, Form(max_length=2000)] = "",
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
            reduction=reduction,
            reduction_reason=reduction_reason,
        )
    except (DomainError, TransitionRefused) as exc:
        # Nothing changed: show the fresh case with the reason, so the clerk can decide anew.
        db.rollback()
        message = exc.reason if isinstance(exc, TransitionRefused) else exc.message
        return _case_page(
            request, db, staff, reference, error=message.de, comment=comment, status_code=exc.status
        )
    db.commit()
    label = registry.of(case).workflow.states[case.state]
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
def evidence_file(
    reference: str, upload_id: DbInt, staff: CurrentStaff, db: SessionDep
) -> Response:
    """An uploaded file, always as a download with its sniffed type (never rendered inline)."""
    return file_response(service.upload_for_staff(db, staff, reference, upload_id))


@router.get("/cases/{reference}/documents/{document_id}")
def document(reference: str, document_id: DbInt, staff: CurrentStaff, db: SessionDep) -> Response:
    return file_response(service.document_for_staff(db, staff, reference, document_id))
