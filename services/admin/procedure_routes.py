"""Administration of procedures: versions, editors with checks, previews, diff, bundles."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from forms import fields_to_render, validate_steps, visible_steps
from forms.inputs import raw_from_form
from forms.model import Text
from services.admin.deps import CurrentAdmin
from services.db import DbInt
from services.documents.fonts import printable
from services.errors import DomainError, NotFound
from services.municipalities.models import Municipality
from services.procedures import registry, versions
from services.timeutil import today_local
from services.web.deps import FormDep, SessionDep, verify_csrf
from services.web.templating import render
from workflow.diagram import render_svg

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])
STATUS_DE = {"draft": "Entwurf", "published": "veröffentlicht", "retired": "abgelöst"}


def _built(row) -> registry.Procedure:
    return registry.build(
        row.procedure_id, row.version, row.form_yaml, row.workflow_yaml, row.notices
    )


@router.get("/procedures")
def procedures(request: Request, admin: CurrentAdmin, db: SessionDep) -> Response:
    versions.seed_builtin(db, admin.municipality_id, admin.display_name)
    db.commit()
    listing = [(p, versions.versions(db, admin, p.id)) for p in registry.all_procedures()]
    return render(request, "admin/procedures.html", staff=admin, listing=listing)


@router.get("/procedures/{procedure_id}/versions/{number}")
def version_page(
    request: Request, procedure_id: str, number: DbInt, admin: CurrentAdmin, db: SessionDep
) -> Response:
    row = versions.version(db, admin, procedure_id, number)
    return _version_page(request, db, admin, row)


def _version_page(request, db, admin, row, problems=None, status_code=200, message=None):
    problems = (
        problems
        if problems is not None
        else (
            versions.check(
                row.procedure_id, row.version, row.form_yaml, row.workflow_yaml, row.notices
            )
            if row.status == "draft"
            else []
        )
    )
    try:
        proc = _built(row)
        diagram = render_svg(proc.workflow, lang="de")
        steps = proc.form.steps
    except Exception:  # a draft with errors: the problems list says what
        proc, diagram, steps = None, None, []
    others = [
        v.version
        for v in versions.versions(db, admin, row.procedure_id)
        if v.version != row.version
    ]
    return render(
        request,
        "admin/version.html",
        status_code=status_code,
        staff=admin,
        row=row,
        problems=problems,
        diagram=diagram,
        steps=steps,
        message=message,
        sources={k: versions.template_source(n) for k, n in row.notices.items()},
        previewable=("approval", "rejection", "change"),
        others=others,
    )


@router.post("/procedures/{procedure_id}/versions/{number}/draft")
def new_draft(
    request: Request, procedure_id: str, number: DbInt, admin: CurrentAdmin, db: SessionDep
) -> Response:
    draft = versions.new_draft(db, admin, procedure_id, number)
    db.commit()
    request.session["flash"] = f"Entwurf Version {draft.version} angelegt."
    return RedirectResponse(
        f"/admin/procedures/{procedure_id}/versions/{draft.version}", status_code=303
    )


@router.post("/procedures/{procedure_id}/versions/{number}")
def save(
    request: Request,
    procedure_id: str,
    number: DbInt,
    form: FormDep,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    row = versions.version(db, admin, procedure_id, number)
    sources = {k: str(form.get(f"notice_{k}", "")) for k in row.notices}
    try:
        problems = versions.save_draft(
            db, row, str(form.get("form_yaml", "")), str(form.get("workflow_yaml", "")), sources
        )
    except versions.TextsRefused as exc:  # nothing saved: show the texts as typed
        db.rollback()
        return _version_page(request, db, admin, exc.edited, exc.problems, status_code=422)
    db.commit()
    if form.get("action") == "publish":
        try:
            versions.publish(db, admin, row)
        except versions.PublishRefused as exc:
            db.rollback()
            return _version_page(request, db, admin, row, exc.problems, status_code=422)
        db.commit()
        request.session["flash"] = (
            f"Version {row.version} ist veröffentlicht. Neue Anträge "
            "nutzen sie; laufende behalten ihre Version."
        )
        return RedirectResponse(
            f"/admin/procedures/{procedure_id}/versions/{row.version}", status_code=303
        )
    return _version_page(
        request,
        db,
        admin,
        row,
        problems,
        status_code=422 if problems else 200,
        message=None if problems else "Gespeichert. Keine Probleme gefunden.",
    )


@router.api_route(
    "/procedures/{procedure_id}/versions/{number}/preview/{step_id}", methods=["GET", "POST"]
)
def preview_step(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    form: FormDep,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    """The step as a citizen would see it, for any version (drafts included); posting shows
    the error states. Nothing is stored."""
    row = versions.version(db, admin, procedure_id, number)
    try:
        proc = _built(row)
    except Exception:
        raise NotFound(
            Text(
                de="Der Entwurf enthält Fehler; bitte beheben Sie sie zuerst.",
                en="The draft has errors; fix them first.",
            )
        ) from None
    step = next((s for s in proc.form.steps if s.id == step_id), None)
    if step is None:
        raise NotFound(Text(de="Diesen Schritt gibt es nicht.", en="No such step."))
    m = db.get(Municipality, admin.municipality_id)
    values, errors = {}, []
    if request.method == "POST":
        raw = raw_from_form(step.fields, form)
        _, errors = validate_steps(proc.form, [step], raw, today=today_local(), printable=printable)
        values = raw
    ids = [s.id for s in visible_steps(proc.form, {})] or [s.id for s in proc.form.steps]
    base = f"/admin/procedures/{procedure_id}/versions/{number}"
    return render(
        request,
        "portal/step.html",
        status_code=422 if errors else 200,
        municipality=m,
        proc=proc,
        step=step,
        fields=fields_to_render(step, {}),
        values=values,
        errors=errors,
        error_for={e.field: e.message("de") for e in errors},
        step_number=ids.index(step.id) + 1 if step.id in ids else 1,
        step_count=len(ids),
        back_url=base,
        from_check=False,
        form_action=f"{base}/preview/{step.id}",
        preview_of=f"Vorschau: Version {row.version} ({STATUS_DE[row.status]})",
    )


@router.get("/procedures/{procedure_id}/versions/{number}/notices/{kind}.pdf")
def preview_notice(
    procedure_id: str, number: DbInt, kind: str, admin: CurrentAdmin, db: SessionDep
) -> Response:
    row = versions.version(db, admin, procedure_id, number)
    if kind not in row.notices:
        raise NotFound(Text(de="Diese Bescheidvorlage gibt es nicht.", en="No such template."))
    proc = _built(row)
    m = db.get(Municipality, admin.municipality_id)
    try:
        pdf = proc.module.render_preview(db, m, proc, kind, admin)
    except AttributeError:
        raise NotFound(
            Text(
                de="Für dieses Verfahren gibt es keine Vorschau.",
                en="No preview for this procedure.",
            )
        ) from None
    except DomainError:
        raise
    except Exception as exc:  # a template that cannot render: say why, never a 500
        raise versions.PublishRefused(
            [versions.Problem(f"notice:{kind}", None, str(exc))]
        ) from None
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="vorschau-{kind}.pdf"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/procedures/{procedure_id}/diff")
def diff(
    request: Request,
    procedure_id: str,
    admin: CurrentAdmin,
    db: SessionDep,
    a: DbInt = 1,
    b: DbInt = 1,
) -> Response:
    left = versions.version(db, admin, procedure_id, a)
    right = versions.version(db, admin, procedure_id, b)
    return render(
        request,
        "admin/version_diff.html",
        staff=admin,
        left=left,
        right=right,
        parts=versions.diff(left, right),
    )


@router.get("/procedures/{procedure_id}/versions/{number}/bundle")
def export_bundle(
    procedure_id: str, number: DbInt, admin: CurrentAdmin, db: SessionDep
) -> Response:
    row = versions.version(db, admin, procedure_id, number)
    return Response(
        versions.export_bundle(row),
        media_type="application/json",
        headers={
            "Content-Disposition": "attachment; "
            f'filename="amtsweg-{procedure_id}-v{row.version}.json"'
        },
    )


@router.post("/procedures/import")
def import_bundle(request: Request, form: FormDep, admin: CurrentAdmin, db: SessionDep) -> Response:
    upload = form.get("bundle")
    data = upload.file.read(2_000_001) if isinstance(upload, UploadFile) else b""
    if not data or len(data) > 2_000_000:
        raise versions.BundleRefused(
            Text(
                de="Bitte wählen Sie eine Paketdatei (höchstens 2 MB).",
                en="Choose a bundle file (at most 2 MB).",
            )
        )
    draft = versions.import_bundle(db, admin, data)
    db.commit()
    request.session["flash"] = f"Paket als Entwurf Version {draft.version} importiert."
    return RedirectResponse(
        f"/admin/procedures/{draft.procedure_id}/versions/{draft.version}", status_code=303
    )
