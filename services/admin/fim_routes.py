"""Administration: import a FIM XDatenfelder schema as a draft form definition.

The page maps the uploaded schema, shows the steps and fields it became, the report of what
could not be mapped, and the definition as YAML for the administrator to copy into a new
procedure version. Nothing is stored here."""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from forms.fim import MAX_BYTES, FimImportError, ImportResult, import_xdatenfelder
from forms.loader import DefinitionError, parse_definition
from services.admin.deps import CurrentAdmin
from services.web.deps import FormDep, verify_csrf
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
        levels=LEVELS,
        **context,
    )


@router.get("/fim-import")
def fim_import_form(request: Request, admin: CurrentAdmin) -> Response:
    return _page(request, admin)


@router.post("/fim-import")
def fim_import(request: Request, form: FormDep, admin: CurrentAdmin) -> Response:
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(
            request,
            admin,
            422,
            error="Bitte wählen Sie eine XDatenfelder-Datei (XML) aus.",
        )
    data = upload.file.read(MAX_BYTES + 1)  # never more than the limit into memory
    filename = upload.filename
    if len(data) > MAX_BYTES:
        return _page(
            request,
            admin,
            422,
            filename=filename,
            error=f"Die Datei ist zu groß. Eine XDatenfelder-Datei darf höchstens "
            f"{MAX_BYTES // (1024 * 1024)} MB groß sein.",
        )
    try:
        result: ImportResult = import_xdatenfelder(data, filename)
        parse_definition(result.definition, filename)  # the importer guarantees it; be sure
    except FimImportError as exc:
        return _page(request, admin, 422, filename=filename, error=exc.message.de)
    except DefinitionError as exc:  # a mapping bug: say so instead of showing a broken draft
        return _page(
            request,
            admin,
            422,
            filename=filename,
            error=f"Die Datei ließ sich nicht in eine gültige Formulardefinition übersetzen: {exc}",
        )
    return _page(
        request,
        admin,
        filename=filename,
        result=result,
        rows=_rows(result.definition),
        code_lists=result.definition.get("code_lists", {}),
        yaml_text=yaml.safe_dump(result.definition, allow_unicode=True, sort_keys=False, width=100),
    )
