"""Administration: import a FIM XDatenfelder schema, with the genericode code lists it uses,
as a draft form definition.

The upload (several files, or one zip archive) is stored and parsed by a job
(services/fim/); its page shows the progress, to be reloaded until the job is done, then the
steps and fields the schema became, the report of what could not be mapped, and the
definition as YAML for the administrator to copy into a new procedure version."""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from forms.fim import MAX_BYTES
from forms.fim_bundle import MAX_FILES, MAX_TOTAL_BYTES
from services.admin.deps import CurrentAdmin
from services.db import DbInt
from services.fim import service as fim
from services.web.deps import FormDep, SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])

TEMPLATE = "admin/fim_import.html"
FIELD = "schema_file"
LEVELS = (("error", "Nicht übernommen"), ("warning", "Bitte prüfen"), ("info", "Hinweise"))


def _rows(definition: dict) -> list[dict]:
    """The mapped fields as table rows; group members follow their group."""
    rows = []
    for step in definition.get("steps", []):
        for f in step["fields"]:
            rows.append({"step": step, "field": f, "member": False})
            for sub in f.get("fields", []):
                rows.append({"step": step, "field": sub, "member": True, "group": f})
    return rows


def _page(request: Request, admin, status_code: int = 200, **context) -> Response:
    return render(
        request,
        TEMPLATE,
        status_code=status_code,
        lang="de",
        staff=admin,
        field_name=FIELD,
        max_mb=MAX_BYTES // (1024 * 1024),
        max_total_mb=MAX_TOTAL_BYTES // (1024 * 1024),
        max_files=MAX_FILES,
        levels=LEVELS,
        **context,
    )


@router.get("/fim-import")
def fim_import_form(request: Request, admin: CurrentAdmin) -> Response:
    return _page(request, admin)


@router.post("/fim-import")
def fim_import(request: Request, form: FormDep, admin: CurrentAdmin, db: SessionDep) -> Response:
    files: list[tuple[str, bytes]] = []
    budget = MAX_TOTAL_BYTES + 1  # never more than the limit into memory
    for upload in form.getlist(FIELD):
        if isinstance(upload, UploadFile) and upload.filename:
            data = upload.file.read(budget)
            budget = max(budget - len(data), 0)
            files.append((upload.filename, data))
    try:
        job = fim.start(db, admin, files)
    except fim.UploadRefused as exc:
        names = ", ".join(name for name, _ in files)
        return _page(request, admin, 422, filename=names, error=str(exc))
    db.commit()
    return RedirectResponse(f"/admin/fim-import/{job.id}", status_code=303)


@router.get("/fim-import/{import_id}")
def fim_import_result(
    request: Request, import_id: DbInt, admin: CurrentAdmin, db: SessionDep
) -> Response:
    job = fim.get(db, admin, import_id)
    result = fim.result_of(job)
    context: dict = {"job": job, "filename": job.filenames, "stages": fim.stages()}
    if job.state == "failed":
        context["error"] = job.error
    if result is not None:
        context.update(
            result=result,
            rows=_rows(result.definition),
            code_lists=result.definition.get("code_lists", {}),
            yaml_text=yaml.safe_dump(
                result.definition, allow_unicode=True, sort_keys=False, width=100
            ),
        )
    return _page(request, admin, **context)
