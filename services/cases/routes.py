"""Citizen portal: procedure start page, one page per step, check answers, filing, status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from forms import fields_to_render, visible_steps
from forms.model import FormDefinition, Text
from forms.summary import format_chip, group, summarize
from services.cases import service
from services.errors import NotFound
from services.municipalities import service as municipalities
from services.procedures import registry
from services.web.deps import RedirectTo, SessionDep, SettingsDep, verify_csrf
from services.web.templating import render

router = APIRouter(dependencies=[Depends(verify_csrf)])


def _procedure(proc_slug: str) -> registry.Procedure:
    try:
        return registry.by_slug(proc_slug)
    except registry.UnknownProcedure:
        raise NotFound(
            Text(
                de="Dieses Verfahren gibt es hier nicht.", en="This procedure is not offered here."
            )
        ) from None


def _draft_key(mun: str, proc: str) -> str:
    return f"{mun}/{proc}"


def _draft_token(request: Request, mun: str, proc: str) -> str | None:
    return request.session.get("drafts", {}).get(_draft_key(mun, proc))


def form_values(definition: FormDefinition, answers: dict[str, Any]) -> dict[str, str]:
    """Stored answers as the strings the form inputs show."""
    values: dict[str, str] = {}
    for field_id, value in answers.items():
        try:
            f = definition.field(field_id)
        except KeyError:
            continue
        if isinstance(value, bool):
            values[field_id] = "yes" if value else "no"
        elif f.type == "date" and value:
            y, m, d = value.split("-")
            values[field_id] = f"{d}.{m}.{y}"
        elif f.type == "iban":
            values[field_id] = group(value)
        elif f.type == "chip":
            values[field_id] = format_chip(value)
        else:
            values[field_id] = str(value)
    return values


@router.get("/")
def home(request: Request, db: SessionDep) -> Response:
    return render(
        request,
        "portal/home.html",
        municipalities=municipalities.all_municipalities(db),
        procedures=registry.all_procedures(),
    )


@router.get("/{mun}/{proc_slug}")
def start_page(request: Request, mun: str, proc_slug: str, db: SessionDep) -> Response:
    m = municipalities.by_slug(db, mun)
    proc = _procedure(proc_slug)
    draft = service.find_draft(db, _draft_token(request, mun, proc_slug), m.id)
    rates = municipalities.rate_tables(db, m.id)
    year = max(rates) if rates else None
    return render(
        request,
        "portal/start.html",
        municipality=m,
        proc=proc,
        rates=rates.get(year) if year else None,
        rate_year=year,
        resumable=draft is not None and draft.case_id is None and draft.answers,
    )


@router.post("/{mun}/{proc_slug}/start")
def start(
    request: Request, mun: str, proc_slug: str, db: SessionDep, settings: SettingsDep
) -> Response:
    m = municipalities.by_slug(db, mun)
    proc = _procedure(proc_slug)
    _, token = service.start_draft(db, m, proc, settings.draft_retention_days)
    db.commit()
    drafts = dict(request.session.get("drafts", {}))
    drafts[_draft_key(mun, proc_slug)] = token
    request.session["drafts"] = drafts
    first = proc.form.steps[0].id
    return RedirectResponse(f"/{mun}/{proc_slug}/steps/{first}", status_code=303)


EXPIRED = "Ihre Eingaben wurden nicht gefunden oder sind abgelaufen. Bitte beginnen Sie neu."


def _open_draft(request: Request, db, mun: str, proc_slug: str):
    """The citizen's unfiled draft, or a redirect: to the start page if there is none, to
    the confirmation if it was filed already."""
    m = municipalities.by_slug(db, mun)
    proc = _procedure(proc_slug)
    draft = service.find_draft(db, _draft_token(request, mun, proc_slug), m.id)
    if draft is None:
        raise RedirectTo(f"/{mun}/{proc_slug}", EXPIRED)
    if draft.case_id is not None:
        raise RedirectTo(f"/{mun}/{proc_slug}/confirmation")
    return m, proc, draft


def _open_step(request: Request, db, mun: str, proc_slug: str, step_id: str):
    m, proc, draft = _open_draft(request, db, mun, proc_slug)
    step = next((s for s in visible_steps(proc.form, draft.answers) if s.id == step_id), None)
    if step is None:
        raise NotFound(Text(de="Diesen Schritt gibt es nicht.", en="No such step."))
    return m, proc, draft, step


def _step_page(
    request, m, proc, draft, step, values, errors, status_code=200, from_check=False
) -> Response:
    prev = service.step_before(proc, draft.answers, step.id)
    steps = visible_steps(proc.form, {**draft.answers})
    return render(
        request,
        "portal/step.html",
        status_code=status_code,
        municipality=m,
        proc=proc,
        step=step,
        fields=fields_to_render(step, draft.answers),
        values=values,
        errors=errors,
        error_for={e.field: e.message("de") for e in errors},
        step_number=[s.id for s in steps].index(step.id) + 1 if step in steps else 1,
        step_count=len(steps),
        back_url=(
            f"/{m.slug}/{proc.slug}/check"
            if from_check
            else f"/{m.slug}/{proc.slug}/steps/{prev.id}"
            if prev
            else f"/{m.slug}/{proc.slug}"
        ),
        from_check=from_check,
    )


@router.get("/{mun}/{proc_slug}/steps/{step_id}")
def step_page(
    request: Request, mun: str, proc_slug: str, step_id: str, db: SessionDep, change: bool = False
) -> Response:
    m, proc, draft, step = _open_step(request, db, mun, proc_slug, step_id)
    return _step_page(
        request, m, proc, draft, step, form_values(proc.form, draft.answers), [], from_check=change
    )


@router.post("/{mun}/{proc_slug}/steps/{step_id}")
async def save_step(
    request: Request, mun: str, proc_slug: str, step_id: str, db: SessionDep
) -> Response:
    m, proc, draft, step = _open_step(request, db, mun, proc_slug, step_id)
    form = await request.form()
    raw = {f.id: str(form.get(f.id, "")) for f in step.fields}
    from_check = form.get("from_check") == "1"
    errors = service.save_step(db, draft, proc, step, raw)
    if errors:
        return _step_page(
            request, m, proc, draft, step, raw, errors, status_code=422, from_check=from_check
        )
    db.commit()
    nxt = service.step_after(proc, draft.answers, step.id)
    if from_check:
        # After a change, continue with a newly required step if the change revealed one.
        pending, _ = service.first_incomplete_step(proc, draft.answers)
        nxt = pending
    target = f"steps/{nxt.id}" + ("?change=1" if from_check else "") if nxt else "check"
    return RedirectResponse(f"/{mun}/{proc_slug}/{target}", status_code=303)


@router.get("/{mun}/{proc_slug}/check")
def check_page(request: Request, mun: str, proc_slug: str, db: SessionDep) -> Response:
    m, proc, draft = _open_draft(request, db, mun, proc_slug)
    pending, _ = service.first_incomplete_step(proc, draft.answers)
    if pending is not None:
        return RedirectResponse(f"/{mun}/{proc_slug}/steps/{pending.id}", status_code=303)
    return render(
        request,
        "portal/check.html",
        municipality=m,
        proc=proc,
        sections=summarize(proc.form, draft.answers),
    )


@router.post("/{mun}/{proc_slug}/submit")
def submit(
    request: Request, mun: str, proc_slug: str, db: SessionDep, settings: SettingsDep
) -> Response:
    m = municipalities.by_slug(db, mun)
    _procedure(proc_slug)
    token = _draft_token(request, mun, proc_slug)
    if token is None:
        raise RedirectTo(f"/{mun}/{proc_slug}", EXPIRED)
    try:
        service.submit(db, m, token, settings.secret_key)
    except service.IncompleteFiling as exc:
        target = f"steps/{exc.step.id}" if exc.step else "check"
        return RedirectResponse(f"/{mun}/{proc_slug}/{target}", status_code=303)
    except service.StatusNotFound:
        raise RedirectTo(f"/{mun}/{proc_slug}", EXPIRED) from None
    db.commit()
    return RedirectResponse(f"/{mun}/{proc_slug}/confirmation", status_code=303)


@router.get("/{mun}/{proc_slug}/confirmation")
def confirmation(
    request: Request, mun: str, proc_slug: str, db: SessionDep, settings: SettingsDep
) -> Response:
    m = municipalities.by_slug(db, mun)
    proc = _procedure(proc_slug)
    filed = service.filed_case(db, m, _draft_token(request, mun, proc_slug), settings.secret_key)
    if filed is None:
        return RedirectResponse(f"/{mun}/{proc_slug}", status_code=303)
    status_url = f"{settings.base_url.rstrip('/')}/status/{filed.status_token}"
    return render(
        request,
        "portal/confirmation.html",
        municipality=m,
        proc=proc,
        case=filed.case,
        status_url=status_url,
        sections=summarize(proc.form, filed.case.answers, mask=True),
    )


status_router = APIRouter()


@status_router.get("/status/{token}")
def status_page(request: Request, token: str, db: SessionDep) -> Response:
    view = service.status(db, token)
    proc = registry.get(view.case.procedure_id, view.case.procedure_version)
    state = proc.workflow.states[view.case.state]
    return render(
        request,
        "portal/status.html",
        view=view,
        proc=proc,
        state=state,
        municipality=view.municipality,
        token=token,
        sections=summarize(proc.form, view.case.answers, mask=True),
    )


@status_router.get("/status/{token}/documents/{document_id}")
def status_document(token: str, document_id: int, db: SessionDep) -> Response:
    doc = service.status_document(db, token, document_id)
    return pdf_response(doc)


def pdf_response(doc) -> Response:
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
