"""Administration of the admin's own municipality: letterhead, bank details, contact, case
prefix, logo, and the dog-tax rate tables per year. Every change is an admin audit event."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from forms.model import Text
from services.admin import municipality_service as svc
from services.admin.deps import CurrentAdmin
from services.audit.service import admin_action_label, admin_history
from services.db import parse_int
from services.errors import NotFound
from services.municipalities.models import Municipality
from services.municipalities.service import logo_data_uri
from services.web.deps import FormDep, SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])


def _own(db, admin) -> Municipality:
    """The admin's municipality: the only one this area ever reads or writes."""
    return db.get(Municipality, admin.municipality_id)


def _year(year: int) -> int:
    if not svc.MIN_YEAR <= year <= svc.MAX_YEAR:
        raise NotFound(Text(de="Dieses Steuerjahr gibt es hier nicht.", en="No such tax year."))
    return year


def _settings_page(
    request: Request, db, admin, m: Municipality, values=None, problems=None, status_code=200
) -> Response:
    return render(
        request,
        "admin/municipality.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        m=m,
        fields=svc.SETTINGS_FIELDS,
        values=values or svc.settings_values(m),
        problems=problems or svc.FormProblems(),
        errors=problems.items if problems else [],
        logo_uri=logo_data_uri(m),
        tables=svc.tables_of(db, m.id),
        events=admin_history(db, m.id, limit=30),
        action_label=admin_action_label,
    )


@router.get("/municipality")
def municipality_page(request: Request, admin: CurrentAdmin, db: SessionDep) -> Response:
    return _settings_page(request, db, admin, _own(db, admin))


@router.post("/municipality")
def municipality_save(
    request: Request, form: FormDep, admin: CurrentAdmin, db: SessionDep
) -> Response:
    m = _own(db, admin)
    values, problems = svc.check_settings({k: str(form.get(k, "")) for k in svc.LABELS})
    logo = None
    upload = form.get("logo")
    if isinstance(upload, UploadFile) and upload.filename:
        content = upload.file.read(svc.MAX_LOGO_BYTES + 1)
        media_type, problem = svc.check_logo(content)
        if problem:
            problems.add("logo", problem)
        else:
            logo = (content, media_type)
    if problems:
        return _settings_page(request, db, admin, m, values, problems, status_code=400)
    changed = svc.save_settings(
        db, m, admin, values, logo=logo, remove_logo=form.get("remove_logo") == "yes"
    )
    db.commit()
    request.session["flash"] = (
        "Gespeichert: " + ", ".join(changed) + "." if changed else "Es gab nichts zu ändern."
    )
    return RedirectResponse("/admin/municipality", status_code=303)


@router.get("/municipality/rates")
def rates_for_year(year: str = "") -> Response:
    """The "new year" form on the settings page: go to that year's table."""
    number = parse_int(year)
    if number is None:
        return RedirectResponse("/admin/municipality#rate-tables", status_code=303)
    return RedirectResponse(f"/admin/municipality/rates/{number}", status_code=303)


def _table_page(
    request: Request, admin, year: int, values, exists: bool, problems=None, status_code=200
) -> Response:
    return render(
        request,
        "admin/rate_table.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        year=year,
        values=values,
        exists=exists,
        reasons=svc.reduction_reasons(),
        problems=problems or svc.FormProblems(),
        errors=problems.items if problems else [],
    )


@router.get("/municipality/rates/{year}")
def rate_table_page(request: Request, year: int, admin: CurrentAdmin, db: SessionDep) -> Response:
    row = svc.table_for(db, admin.municipality_id, _year(year))
    if row is None:  # a new year starts from the latest table before it, if any
        earlier = [t for t in svc.tables_of(db, admin.municipality_id) if t.year < year]
        data = {**earlier[0].data, "year": year} if earlier else None
    else:
        data = row.data
    return _table_page(request, admin, year, svc.table_form_values(data, year), row is not None)


@router.post("/municipality/rates/{year}")
def rate_table_save(
    request: Request, year: int, form: FormDep, admin: CurrentAdmin, db: SessionDep
) -> Response:
    _year(year)
    posted = {k: v for k, v in form.items() if isinstance(v, str)}
    data, problems = svc.check_table(posted, year)
    exists = svc.table_for(db, admin.municipality_id, year) is not None
    if problems:
        values = {**svc.table_form_values(None, year), **posted}
        values["counts_dangerous"] = data["counts_dangerous"]
        values["counts_exempt"] = data["counts_exempt"]
        return _table_page(request, admin, year, values, exists, problems, status_code=400)
    changed = svc.save_table(db, _own(db, admin), admin, year, data)
    db.commit()
    request.session["flash"] = (
        f"Die Steuersätze für {year} sind gespeichert. Bereits erlassene Bescheide bleiben "
        "unverändert."
        if changed
        else f"Die Steuersätze für {year} sind unverändert."
    )
    return RedirectResponse("/admin/municipality#rate-tables", status_code=303)
