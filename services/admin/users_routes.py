"""Staff accounts of the admin's municipality: list, create, edit roles, disable/enable,
reset password. Generated passwords are shown once, on the page that answers the POST."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from services.admin import users_service as svc
from services.admin.deps import CurrentAdmin
from services.admin.municipality_service import FormProblems
from services.db import DbInt
from services.web.deps import FormDep, SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])


def _form_dict(form) -> dict:
    return {
        **{k: v for k, v in form.items() if isinstance(v, str)},
        "roles": [r for r in form.getlist("roles") if isinstance(r, str)],
    }


@router.get("/users")
def users(request: Request, admin: CurrentAdmin, db: SessionDep) -> Response:
    return render(
        request,
        "admin/users.html",
        lang="de",
        staff=admin,
        users=svc.users_of(db, admin.municipality_id),
        role_labels=svc.ROLE_LABELS,
    )


def _new_page(request, admin, values=None, problems=None, status_code=200) -> Response:
    return render(
        request,
        "admin/user_new.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        values=values or {"roles": ["clerk"], "generate": True},
        problems=problems or FormProblems(),
        errors=problems.items if problems else [],
        role_labels=svc.ROLE_LABELS,
        min_password=svc.MIN_PASSWORD,
    )


@router.get("/users/new")
def new_user_page(request: Request, admin: CurrentAdmin) -> Response:
    return _new_page(request, admin)


def _password_once(request, admin, user, password: str, created: bool) -> Response:
    response = render(
        request,
        "admin/password_once.html",
        lang="de",
        staff=admin,
        user=user,
        password=password,
        created=created,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/users/new")
def new_user(request: Request, posted: FormDep, admin: CurrentAdmin, db: SessionDep) -> Response:
    form = _form_dict(posted)
    values, problems = svc.check_new_user(db, form)
    if problems:
        shown = {**values, "generate": form.get("generate") == "yes", "password": ""}
        return _new_page(request, admin, shown, problems, status_code=400)
    user = svc.create(db, admin, values)
    db.commit()
    if values["generated"]:
        return _password_once(request, admin, user, values["password"], created=True)
    request.session["flash"] = f"Das Benutzerkonto {user.username} ist angelegt."
    return RedirectResponse("/admin/users", status_code=303)


def _user_page(request, admin, user, values=None, problems=None, status_code=200) -> Response:
    return render(
        request,
        "admin/user.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        user=user,
        values=values
        or {"display_name": user.display_name, "email": user.email, "roles": user.roles},
        problems=problems or FormProblems(),
        errors=problems.items if problems else [],
        role_labels=svc.ROLE_LABELS,
        is_self=user.id == admin.id,
    )


@router.get("/users/{user_id}")
def user_page(request: Request, user_id: DbInt, admin: CurrentAdmin, db: SessionDep) -> Response:
    return _user_page(request, admin, svc.user_of(db, admin, user_id))


@router.post("/users/{user_id}")
def user_update(
    request: Request, user_id: DbInt, form: FormDep, admin: CurrentAdmin, db: SessionDep
) -> Response:
    user = svc.user_of(db, admin, user_id)
    values, problems = svc.check_update(_form_dict(form))
    if not problems:
        try:
            changed = svc.update(db, admin, user, values)
        except svc.SelfLockout as exc:
            db.rollback()
            problems.add("roles", str(exc))
    if problems:
        return _user_page(request, admin, user, values, problems, status_code=400)
    db.commit()
    request.session["flash"] = (
        f"Das Benutzerkonto {user.username} ist geändert."
        if changed
        else "Es gab nichts zu ändern."
    )
    return RedirectResponse(f"/admin/users/{user.id}", status_code=303)


@router.post("/users/{user_id}/active")
def user_active(
    request: Request, user_id: DbInt, form: FormDep, admin: CurrentAdmin, db: SessionDep
) -> Response:
    user = svc.user_of(db, admin, user_id)
    active = form.get("active") == "yes"
    try:
        svc.set_active(db, admin, user, active)
    except svc.SelfLockout as exc:
        db.rollback()
        problems = FormProblems()
        problems.add("active", str(exc))
        return _user_page(request, admin, user, problems=problems, status_code=400)
    db.commit()
    request.session["flash"] = (
        f"Das Benutzerkonto {user.username} ist wieder aktiv."
        if active
        else f"Das Benutzerkonto {user.username} ist deaktiviert; die Person kann sich nicht "
        "mehr anmelden."
    )
    return RedirectResponse(f"/admin/users/{user.id}", status_code=303)


@router.post("/users/{user_id}/reset-password")
def user_reset_password(
    request: Request, user_id: DbInt, admin: CurrentAdmin, db: SessionDep
) -> Response:
    user = svc.user_of(db, admin, user_id)
    password = svc.reset_password(db, admin, user)
    db.commit()
    return _password_once(request, admin, user, password, created=False)
