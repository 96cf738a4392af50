"""Citizen portal: procedure start page, one page per step (with uploads, repeatable groups,
save and resume, language switch), check answers, filing, confirmation, status page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from forms import fields_to_render, visible_steps
from forms.inputs import input_values, raw_from_form
from forms.model import Text
from forms.summary import summarize
from forms.validate import FieldError
from services.cases import service
from services.config import ROOT
from services.db import DbInt, parse_int
from services.errors import NotFound
from services.municipalities import service as municipalities
from services.procedures import registry
from services.timeutil import today_local
from services.web import metrics
from services.web.deps import FormDep, RedirectTo, SessionDep, SettingsDep, verify_csrf
from services.web.i18n import LANGUAGES, normalise, set_language
from services.web.templating import lang_of, render

router = APIRouter(dependencies=[Depends(verify_csrf)])

EXPIRED = Text(
    de="Ihre Eingaben wurden nicht gefunden oder sind abgelaufen. Bitte beginnen Sie neu.",
    en="Your answers were not found or have expired. Please start again.",
)


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


def _remember_draft(request: Request, mun: str, proc: str, token: str) -> None:
    drafts = dict(request.session.get("drafts", {}))
    drafts[_draft_key(mun, proc)] = token
    request.session["drafts"] = drafts


@router.get("/")
def home(request: Request, db: SessionDep) -> Response:
    return render(
        request,
        "portal/home.html",
        municipalities=municipalities.all_municipalities(db),
        procedures=registry.all_procedures(),
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; the same icon as the page's."""
    return FileResponse(
        ROOT / "templates" / "static" / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/{mun}/datenschutz")
def privacy(request: Request, mun: str, db: SessionDep, settings: SettingsDep) -> Response:
    return render(
        request,
        "portal/privacy.html",
        municipality=municipalities.by_slug(db, mun),
        draft_days=settings.draft_retention_days,
    )


@router.get("/{mun}/barrierefreiheit")
def accessibility(request: Request, mun: str, db: SessionDep) -> Response:
    return render(
        request, "portal/accessibility.html", municipality=municipalities.by_slug(db, mun)
    )


@router.get("/{mun}/{proc_slug}")
def start_page(request: Request, mun: str, proc_slug: str, db: SessionDep) -> Response:
    m = municipalities.by_slug(db, mun)
    proc = registry.current(m.id, _procedure(proc_slug).id)
    draft = service.find_draft(db, _draft_token(request, mun, proc_slug), m.id)
    rates = municipalities.rate_tables(db, m.id)
    # This year's rates (a table for a future year is not advertised before its year).
    this_year = today_local().year
    past = [y for y in rates if y <= this_year]
    year = max(past) if past else (min(rates) if rates else None)
    return render(
        request,
        "portal/start.html",
        municipality=m,
        proc=proc,
        rates=rates.get(year) if year else None,
        rate_year=year,
        resumable=draft is not None and draft.case_id is None and bool(draft.answers),
    )


@router.post("/{mun}/{proc_slug}/start")
def start(
    request: Request, mun: str, proc_slug: str, db: SessionDep, settings: SettingsDep
) -> Response:
    m = municipalities.by_slug(db, mun)
    # New filings use the newest published version; the draft keeps it to the end.
    proc = registry.current(m.id, _procedure(proc_slug).id)
    _, token = service.start_draft(db, m, proc, settings.draft_retention_days)
    db.commit()
    _remember_draft(request, mun, proc_slug, token)
    first = proc.form.steps[0].id
    return RedirectResponse(f"/{mun}/{proc_slug}/steps/{first}", status_code=303)


@router.get("/{mun}/{proc_slug}/resume/{token}")
def resume(request: Request, mun: str, proc_slug: str, token: str, db: SessionDep) -> Response:
    m = municipalities.by_slug(db, mun)
    proc = _procedure(proc_slug)
    draft = service.resume(db, token)
    if draft.municipality_id != m.id or draft.procedure_id != proc.id:
        raise service.ResumeLinkInvalid()
    _remember_draft(request, mun, proc_slug, token)
    pending, _ = service.first_incomplete_step(draft_procedure(draft), draft.answers)
    target = f"steps/{pending.id}" if pending else "check"
    request.session["flash"] = {
        "de": "Willkommen zurück. Ihre gespeicherten Angaben sind wieder da.",
        "en": "Welcome back. Your saved answers are restored.",
    }
    return RedirectResponse(f"/{mun}/{proc_slug}/{target}", status_code=303)


def draft_procedure(draft) -> registry.Procedure:
    """A draft keeps the procedure version it was started with."""
    return registry.of(draft)


def _open_draft(request: Request, db, mun: str, proc_slug: str):
    """The citizen's unfiled draft, or a redirect: to the start page if there is none, to
    the confirmation if it was filed already."""
    m = municipalities.by_slug(db, mun)
    _procedure(proc_slug)
    draft = service.find_draft(db, _draft_token(request, mun, proc_slug), m.id)
    if draft is None:
        raise RedirectTo(f"/{mun}/{proc_slug}", EXPIRED)
    if draft.case_id is not None:
        raise RedirectTo(f"/{mun}/{proc_slug}/confirmation")
    return m, draft_procedure(draft), draft


def _open_step(request: Request, db, mun: str, proc_slug: str, step_id: str):
    m, proc, draft = _open_draft(request, db, mun, proc_slug)
    step = next((s for s in visible_steps(proc.form, draft.answers) if s.id == step_id), None)
    if step is None:
        # Unknown, or not asked with the answers given so far (e.g. posted out of order).
        pending, _ = service.first_incomplete_step(proc, draft.answers)
        target = f"steps/{pending.id}" if pending else "check"
        raise RedirectTo(
            f"/{mun}/{proc_slug}/{target}",
            Text(
                de="Diese Frage stellt sich nach Ihren bisherigen Angaben nicht. Bitte machen "
                "Sie hier weiter.",
                en="This question does not apply to your answers so far. Please continue here.",
            ),
        )
    return m, proc, draft, step


def _step_page(
    request, m, proc, draft, step, values, errors, status_code=200, from_check=False, lang=None
):
    lang = lang or lang_of(request)
    prev = service.step_before(proc, draft.answers, step.id)
    steps = visible_steps(proc.form, draft.answers)
    ids = [s.id for s in steps]
    base = f"/{m.slug}/{proc.slug}"
    return render(
        request,
        "portal/step.html",
        status_code=status_code,
        lang=lang,
        municipality=m,
        proc=proc,
        step=step,
        fields=fields_to_render(step, draft.answers),
        values=values,
        errors=errors,
        error_for={e.field: e.message(lang) for e in errors},
        step_number=ids.index(step.id) + 1 if step.id in ids else 1,
        step_count=len(steps),
        back_url=f"{base}/check" if from_check else f"{base}/steps/{prev.id}" if prev else base,
        from_check=from_check,
    )


@router.get("/{mun}/{proc_slug}/steps/{step_id}")
def step_page(
    request: Request, mun: str, proc_slug: str, step_id: str, db: SessionDep, change: bool = False
) -> Response:
    m, proc, draft, step = _open_step(request, db, mun, proc_slug, step_id)
    values = {**_values(proc, draft, lang_of(request)), **service.pending_inputs(draft, step.id)}
    return _step_page(request, m, proc, draft, step, values, [], from_check=change)


@router.post("/{mun}/{proc_slug}/steps/{step_id}")
def save_step(
    request: Request,
    mun: str,
    proc_slug: str,
    step_id: str,
    form: FormDep,
    db: SessionDep,
    settings: SettingsDep,
) -> Response:
    m, proc, draft, step = _open_step(request, db, mun, proc_slug, step_id)
    lang = lang_of(request)
    action = str(form.get("action") or "continue")
    from_check = form.get("from_check") == "1"
    here = f"/{mun}/{proc_slug}/steps/{step.id}" + ("?change=1" if from_check else "")
    fields = fields_to_render(step, draft.answers)
    raw = raw_from_form(fields, form)

    # Files first: whatever button was pressed, chosen files are stored (and scanned).
    errors: list[FieldError] = []
    for f in (f for f in fields if f.type == "file"):
        chosen = [x for x in form.getlist(f.id) if isinstance(x, UploadFile) and x.filename]
        if chosen:
            files = [(x.filename, x.file.read()) for x in chosen]
            errors += service.upload_files(db, draft, f, files, request.app.state.scanner)

    if action.startswith("remove_upload:"):
        service.remove_file(db, draft, _int(action.split(":", 1)[1]))
    elif action.startswith(("add_item:", "remove_item:")):
        raw = _change_items(step, raw, action)
    if action != "continue" or errors:
        # Stay on this page: keep every valid answer, show what the citizen typed.
        problems = service.save_step(db, draft, proc, step, raw, lang, partial=True)
        db.commit()
        if new_lang := lang_switch_of(form):
            if form.get("errors_shown") == "1" and (errors or problems):
                # The page showed problems: show them again, now in the chosen language.
                values = {**_values(proc, draft, new_lang), **raw}
                response = _step_page(
                    request,
                    m,
                    proc,
                    draft,
                    step,
                    values,
                    errors + problems,
                    422,
                    from_check,
                    new_lang,
                )
            else:
                response = RedirectResponse(here, status_code=303)
            set_language(response, new_lang)
            return response
        if action == "save":
            return _saved_page(request, db, m, proc, draft, settings)
        if not errors:
            if action.startswith(("add_item:", "remove_item:")):
                return _step_page(
                    request,
                    m,
                    proc,
                    draft,
                    step,
                    {
                        **_values(proc, draft, lang),
                        **{k: v for k, v in raw.items() if k in _group_ids(step)},
                    },
                    [],
                    from_check=from_check,
                )
            return RedirectResponse(here, status_code=303)
        values = {**_values(proc, draft, lang), **raw}
        return _step_page(
            request, m, proc, draft, step, values, errors, status_code=422, from_check=from_check
        )

    errors = service.save_step(db, draft, proc, step, raw, lang)
    if errors:
        values = {**_values(proc, draft, lang), **raw}
        return _step_page(
            request, m, proc, draft, step, values, errors, status_code=422, from_check=from_check
        )
    db.commit()
    nxt = service.step_after(proc, draft.answers, step.id)
    if from_check:
        # After a change, continue with a newly required step if the change revealed one.
        nxt, _ = service.first_incomplete_step(proc, draft.answers)
    target = f"steps/{nxt.id}" + ("?change=1" if from_check else "") if nxt else "check"
    return RedirectResponse(f"/{mun}/{proc_slug}/{target}", status_code=303)


def _int(text: str) -> int:
    number = parse_int(text)
    if number is None:
        raise NotFound(Text(de="Diese Datei gibt es nicht.", en="No such file."))
    return number


def _group_ids(step) -> set[str]:
    return {f.id for f in step.fields if f.type == "group"}


def _values(proc, draft, lang: str) -> dict:
    return input_values(proc.form, draft.answers, lang)


def _change_items(step, raw: dict, action: str) -> dict:
    """Add an empty item to a repeatable group, or remove one (no-JS buttons)."""
    kind, _, rest = action.partition(":")
    group_id, _, index = rest.partition(":")
    group = next((f for f in step.fields if f.type == "group" and f.id == group_id), None)
    if group is None:
        return raw
    items = list(raw.get(group_id) or [])
    if kind == "add_item" and len(items) < group.max_items:
        items = (items or [{}]) + [{}]
    elif kind == "remove_item" and (number := parse_int(index)) is not None and number < len(items):
        del items[number]
    return {**raw, group_id: items}


def _saved_page(request, db, m, proc, draft, settings) -> Response:
    token = _draft_token(request, m.slug, proc.slug)
    resume_url = f"{settings.base_url.rstrip('/')}/{m.slug}/{proc.slug}/resume/{token}"
    mailed_to = service.send_resume_link(db, draft, m, resume_url, lang_of(request))
    db.commit()
    return render(
        request,
        "portal/saved.html",
        municipality=m,
        proc=proc,
        resume_url=resume_url,
        expires_at=draft.expires_at,
        mailed_to=mailed_to,
        unfinished=bool(draft.answers.get(service.PENDING)),
    )


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
        sections=summarize(proc.form, draft.answers, lang_of(request)),
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
        filed = service.submit(
            db, m, token, settings.secret_key, settings.base_url, lang_of(request)
        )
    except service.IncompleteFiling as exc:
        target = f"steps/{exc.step.id}" if exc.step else "check"
        return RedirectResponse(f"/{mun}/{proc_slug}/{target}", status_code=303)
    except service.StatusNotFound:
        raise RedirectTo(f"/{mun}/{proc_slug}", EXPIRED) from None
    db.commit()
    if filed.first_time:
        metrics.count_filing(filed.case.procedure_id)
    return RedirectResponse(f"/{mun}/{proc_slug}/confirmation", status_code=303)


@router.get("/{mun}/{proc_slug}/confirmation")
def confirmation(
    request: Request, mun: str, proc_slug: str, db: SessionDep, settings: SettingsDep
) -> Response:
    m = municipalities.by_slug(db, mun)
    _procedure(proc_slug)
    filed = service.filed_case(db, m, _draft_token(request, mun, proc_slug), settings.secret_key)
    if filed is None:
        return RedirectResponse(f"/{mun}/{proc_slug}", status_code=303)
    proc = registry.of(filed.case)
    view = service.status(db, filed.status_token)
    receipt = next((d for d in view.documents if d.kind == "receipt"), None)
    email = filed.case.answers.get("email")
    return render(
        request,
        "portal/confirmation.html",
        municipality=m,
        proc=proc,
        case=filed.case,
        status_token=filed.status_token,
        status_url=f"{settings.base_url.rstrip('/')}/status/{filed.status_token}",
        receipt=receipt,
        receipt_pending=view.receipt_pending,
        mailed_to=email,
        due_date=filed.case.due_date,
        sections=summarize(proc.form, filed.case.answers, lang_of(request), mask=True),
    )


lang_router = APIRouter()


@lang_router.get("/sprache/{lang}")
def switch_language(lang: str, next: str = "/") -> Response:
    if lang not in LANGUAGES:
        raise NotFound(Text(de="Diese Sprache gibt es hier nicht.", en="Language not offered."))
    safe = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(safe, status_code=303)
    set_language(response, lang)
    return response


status_router = APIRouter(dependencies=[Depends(verify_csrf)])


def lang_switch_of(form) -> str | None:
    """The language chosen with the header's switch on a page that showed problems: it posts
    the page's form with ``action=lang:xx`` (base.html, ``lang_form``), so what the citizen
    typed and the problems are shown again in that language, and nothing is done."""
    action = str(form.get("action") or "")
    return normalise(action.split(":", 1)[1]) if action.startswith("lang:") else None


def _status_page(
    request: Request,
    db,
    token: str,
    errors: list[FieldError] | None = None,
    answer_text: str = "",
    status_code: int = 200,
    lang: str | None = None,
) -> Response:
    lang = lang or lang_of(request)
    view = service.status(db, token)
    proc = registry.of(view.case)
    state = proc.workflow.states[view.case.state]
    errors = errors or []
    return render(
        request,
        "portal/status.html",
        status_code=status_code,
        view=view,
        proc=proc,
        state=state,
        municipality=view.municipality,
        token=token,
        request_event=service.open_information_request(view),
        can_withdraw=service.can_withdraw(view.case),
        due_date=view.case.due_date,
        decision=service.decision(view, proc.workflow),
        errors=errors,
        error_for={e.field: e.message(lang) for e in errors},
        answer_text=answer_text,
        sections=summarize(proc.form, view.case.answers, lang, mask=True),
        lang=lang,
        # With problems shown, the language switch posts the form (lang_switch_of).
        lang_form="answer-form" if errors else None,
    )


@status_router.get("/status/{token}")
def status_page(request: Request, token: str, db: SessionDep) -> Response:
    return _status_page(request, db, token)


@status_router.post("/status/{token}/answer")
def answer(request: Request, token: str, form: FormDep, db: SessionDep) -> Response:
    text = str(form.get("answer_text") or "")
    files = [
        (x.filename, x.file.read())
        for x in form.getlist("answer_files")
        if isinstance(x, UploadFile) and x.filename
    ]
    errors = service.answer_information_request(db, token, text, files, request.app.state.scanner)
    if new_lang := lang_switch_of(form):
        db.rollback()  # a language switch never sends the answer
        response = _status_page(request, db, token, errors, text, 422 if errors else 200, new_lang)
        set_language(response, new_lang)
        return response
    if errors:
        db.rollback()
        return _status_page(request, db, token, errors, text, status_code=422)
    db.commit()
    request.session["flash"] = {
        "de": "Vielen Dank. Ihre Antwort ist eingegangen.",
        "en": "Thank you. Your answer has been received.",
    }
    return RedirectResponse(f"/status/{token}", status_code=303)


@status_router.get("/status/{token}/withdraw")
def withdraw_page(request: Request, token: str, db: SessionDep) -> Response:
    return _withdraw_page(request, db, token)


def _withdraw_page(
    request: Request,
    db,
    token: str,
    errors: list[FieldError] | None = None,
    reason: str = "",
    status_code: int = 200,
    lang: str | None = None,
) -> Response:
    lang = lang or lang_of(request)
    view = service.status(db, token)
    if not service.can_withdraw(view.case):
        raise RedirectTo(f"/status/{token}")
    errors = errors or []
    return render(
        request,
        "portal/withdraw.html",
        status_code=status_code,
        view=view,
        token=token,
        municipality=view.municipality,
        errors=errors,
        error_for={e.field: e.message(lang) for e in errors},
        reason=reason,
        lang=lang,
        lang_form="withdraw-form" if errors else None,
    )


@status_router.post("/status/{token}/withdraw")
def withdraw(request: Request, token: str, form: FormDep, db: SessionDep) -> Response:
    reason = str(form.get("reason") or "")
    errors = service.withdraw(db, token, reason)
    if new_lang := lang_switch_of(form):
        db.rollback()  # a language switch never withdraws
        response = _withdraw_page(
            request, db, token, errors, reason, 422 if errors else 200, new_lang
        )
        set_language(response, new_lang)
        return response
    if errors:
        db.rollback()
        return _withdraw_page(request, db, token, errors, reason, status_code=422)
    db.commit()
    request.session["flash"] = {
        "de": "Sie haben Ihren Antrag zurückgezogen.",
        "en": "You have withdrawn your application.",
    }
    return RedirectResponse(f"/status/{token}", status_code=303)


@status_router.get("/status/{token}/documents/{document_id}")
def status_document(token: str, document_id: DbInt, db: SessionDep) -> Response:
    doc = service.status_document(db, token, document_id)
    return file_response(doc)


def file_response(item) -> Response:
    """A stored document or upload as a download: never inline, never sniffed by the browser,
    file name RFC 6266/5987-encoded."""
    ascii_name = item.filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(
        item.content,
        media_type=item.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(item.filename)}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
