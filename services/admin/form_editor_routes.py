"""The form editor of a draft procedure version: steps and fields on pages with plain forms
(POST, redirect, GET), beside the YAML view. The model operations live in
``services.admin.form_editor``; the form loader decides what is valid; the draft is stored
with ``versions.save_draft`` like the YAML view's save, and every change is an admin event."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from forms import DefinitionError, check_text
from forms.model import Text
from services.admin import form_editor as fe
from services.admin.deps import CurrentAdmin
from services.audit.service import record_admin
from services.db import DbInt
from services.errors import Conflict, NotFound
from services.procedures import versions
from services.procedures.models import ProcedureVersion
from services.web.deps import FormDep, SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])
BASE = "/admin/procedures/{procedure_id}/versions/{number}/form"
ACTION = "procedure_form_edited"


class NotADraft(Conflict):
    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Nur Entwürfe können bearbeitet werden. Legen Sie aus dieser Version einen "
                "neuen Entwurf an.",
                en="Only drafts can be edited.",
            )
        )


class FormBroken(Conflict):
    def __init__(self, message: str) -> None:
        super().__init__(
            Text(
                de="Das Formular dieses Entwurfs enthält einen Fehler; bitte beheben Sie ihn "
                f"zuerst in der YAML-Ansicht. {message}",
                en="The draft's form has an error; fix it in the YAML view first.",
            )
        )


def _no_part() -> NotFound:
    return NotFound(Text(de="Diesen Teil des Formulars gibt es nicht.", en="No such part."))


def _base(row: ProcedureVersion) -> str:
    return BASE.format(procedure_id=row.procedure_id, number=row.version)


def _model(row: ProcedureVersion) -> dict:
    try:
        return fe.load(row.form_yaml)
    except DefinitionError as exc:
        raise FormBroken(str(exc)) from None
    except Exception as exc:  # not YAML at all
        raise FormBroken(str(exc).split("\n")[0]) from None


def _draft(db, admin, procedure_id: str, number: int) -> tuple[ProcedureVersion, dict]:
    row = versions.version(db, admin, procedure_id, number)
    if row.status != "draft":
        raise NotADraft()
    return row, _model(row)


def _posted(form) -> dict[str, Any]:
    posted: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    posted["accept"] = [v for v in form.getlist("accept") if isinstance(v, str)]
    return posted


def _refused_characters(posted: dict[str, Any], problems: fe.Problems) -> None:
    """Texts with a control or bidirectional character are refused at their input (the rule
    of the YAML view's save, ``forms.check_text``)."""
    for name, value in posted.items():
        if isinstance(value, str) and name != "csrf_token":
            refused = check_text(name, Text(de="Die Eingabe"), value, multiline=True)
            if refused:
                problems.add(name, refused.message("de"))


def _store(
    db,
    admin,
    row: ProcedureVersion,
    old: dict,
    new: dict,
    what: str,
    anchors: tuple[str, ...],
    own: str | None = None,
) -> fe.Problems | None:
    """Check ``new`` with the form loader and store it as the draft's form, with an admin
    event; the problems at their inputs when refused (nothing stored), None when stored or
    unchanged. ``own`` names the edited part as the loader does (``field "x"``): a message
    about another part (a condition reading a renamed field) is shown at the first input."""
    problems = fe.Problems()
    try:
        text, _ = fe.checked(new)
    except DefinitionError as exc:
        message = str(exc)
        about_other = own is not None and own not in message
        problems.add(anchors[0] if about_other else fe.anchor_of(message, anchors), message)
        return problems
    if new == old:
        return None
    sources = {k: versions.template_source(n) for k, n in row.notices.items()}
    try:
        versions.save_draft(db, row, text, row.workflow_yaml, sources)
    except versions.TextsRefused as exc:
        db.rollback()
        for p in exc.problems:
            problems.add(anchors[0], f"{p.where}: {p.message}")
        return problems
    record_admin(
        db,
        municipality_id=row.municipality_id,
        actor_id=admin.id,
        actor_name=admin.display_name,
        action=ACTION,
        target=f"{row.procedure_id}, Version {row.version}",
        after={"Formular": what},
    )
    return None


def _done(request: Request, url: str, message: str, changed: bool = True) -> RedirectResponse:
    request.session["flash"] = message if changed else "Es gab nichts zu ändern."
    return RedirectResponse(url, status_code=303)


# --------------------------------------------------------------------------- overview


def _overview(
    request, db, admin, row, raw, problems=None, values=None, status_code=200
) -> Response:
    check = (
        versions.check(row.procedure_id, row.version, row.form_yaml, row.workflow_yaml, row.notices)
        if row.status == "draft" and not problems
        else []
    )
    problems = problems or fe.Problems()
    return render(
        request,
        "admin/form_editor.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        row=row,
        raw=raw,
        base=_base(row),
        editable=row.status == "draft",
        problems=problems,
        errors=problems.items,
        hints=[p for p in check if p.part == "form"],
        values=values or {"type": "text", "after": (raw.get("steps") or [{}])[-1].get("id")},
        type_labels=fe.TYPE_LABELS,
        new_types=fe.NEW_FIELD_TYPES,
    )


@router.get("/procedures/{procedure_id}/versions/{number}/form")
def overview(
    request: Request, procedure_id: str, number: DbInt, admin: CurrentAdmin, db: SessionDep
) -> Response:
    row = versions.version(db, admin, procedure_id, number)
    return _overview(request, db, admin, row, _model(row))


@router.post("/procedures/{procedure_id}/versions/{number}/form")
def overview_action(
    request: Request,
    procedure_id: str,
    number: DbInt,
    form: FormDep,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    """The overview's buttons: move or remove a step or field, add a step (with its first
    field)."""
    row, raw = _draft(db, admin, procedure_id, number)
    action = str(form.get("action", ""))
    kind, _, rest = action.partition(":")
    parts = rest.split(":")
    base = _base(row)
    try:
        if kind == "add_step":
            return _add_step(request, db, admin, row, raw, _posted(form))
        moving = kind.startswith("move_")
        if moving and parts[-1] not in ("up", "down"):
            raise _no_part()
        if kind in ("move_step", "remove_step") and len(parts) == (2 if moving else 1):
            step_id = parts[0]
            title = fe.text_of(fe.step_of(raw, step_id).get("title"))[0]
            if kind == "remove_step":
                new = fe.remove_step(raw, step_id)
                what, done = f"Schritt „{step_id}“ entfernt", f"Schritt „{title}“ entfernt."
            else:
                up = parts[-1] == "up"
                new = fe.move_step(raw, step_id, -1 if up else 1)
                where = "nach oben" if up else "nach unten"
                what, done = (
                    f"Schritt „{step_id}“ {where}",
                    f"Schritt „{title}“ {where} verschoben.",
                )
            anchor = f"step-{step_id}"
        elif kind in ("move_field", "remove_field") and len(parts) == (3 if moving else 2):
            step_id, field_id = parts[0], parts[1]
            label = fe.text_of(fe.field_of(raw, step_id, field_id).get("label"))[0]
            if kind == "remove_field":
                new = fe.remove_field(raw, step_id, field_id)
                what, done = f"Feld „{field_id}“ entfernt", f"Feld „{label}“ entfernt."
            else:
                up = parts[-1] == "up"
                new = fe.move_field(raw, step_id, field_id, -1 if up else 1)
                where = "nach oben" if up else "nach unten"
                what, done = f"Feld „{field_id}“ {where}", f"Feld „{label}“ {where} verschoben."
            anchor = f"field-{step_id}-{field_id}"
        else:
            raise _no_part()
    except fe.NoSuchPart:
        raise _no_part() from None
    problems = _store(db, admin, row, raw, new, what, (anchor,))
    if problems:
        return _overview(request, db, admin, row, raw, problems, status_code=422)
    db.commit()
    return _done(request, f"{base}#{anchor}", done, new != raw)


def _add_step(request, db, admin, row, raw, posted) -> Response:
    problems = fe.Problems()
    _refused_characters(posted, problems)
    for name, label in (
        ("step_id", "die Kennung des Schritts"),
        ("title_de", "den Titel des Schritts"),
        ("field_id", "die Kennung des ersten Felds"),
        ("label_de", "die Frage oder Bezeichnung des ersten Felds"),
    ):
        if not posted.get(name, "").strip():
            problems.add(name, f"Geben Sie {label} an.")
    after = posted.get("after") or None
    try:
        new = fe.add_step(raw, fe.new_step(posted), after)
    except fe.NoSuchPart:
        problems.add("after", "Wählen Sie, nach welchem Schritt der neue Schritt kommt.")
    if not problems:
        step_id = posted["step_id"].strip()
        problems = _store(
            db,
            admin,
            row,
            raw,
            new,
            f"Schritt „{step_id}“ hinzugefügt",
            ("step_id", "title_de", "field_id", "type", "label_de"),
        )
        if problems and problems.items[0][0] in ("id", "show_field"):
            problems.items[0] = ("step_id", problems.items[0][1])
    if problems:
        return _overview(request, db, admin, row, raw, problems, posted, status_code=422)
    db.commit()
    return _done(
        request, f"{_base(row)}#step-{step_id}", f"Schritt „{posted['title_de'].strip()}“ angelegt."
    )


# --------------------------------------------------------------------------- steps


def _step_page(request, admin, row, raw, step_id, values, problems=None, status_code=200):
    problems = problems or fe.Problems()
    return render(
        request,
        "admin/form_editor_step.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        row=row,
        base=_base(row),
        step_id=step_id,
        values=values,
        problems=problems,
        errors=problems.items,
        earlier=fe.fields_before(raw, step_id),
        condition=fe.step_of(raw, step_id).get("show_if"),
    )


@router.get("/procedures/{procedure_id}/versions/{number}/form/steps/{step_id}")
def step_page(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    row, raw = _draft(db, admin, procedure_id, number)
    try:
        values = fe.step_values(fe.step_of(raw, step_id))
    except fe.NoSuchPart:
        raise _no_part() from None
    return _step_page(request, admin, row, raw, step_id, values)


@router.post("/procedures/{procedure_id}/versions/{number}/form/steps/{step_id}")
def step_save(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    form: FormDep,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    row, raw = _draft(db, admin, procedure_id, number)
    posted = _posted(form)
    try:
        new, problems = fe.apply_step(raw, step_id, posted)
    except fe.NoSuchPart:
        raise _no_part() from None
    _refused_characters(posted, problems)
    if not problems:
        problems = _store(
            db,
            admin,
            row,
            raw,
            new,
            f"Schritt „{step_id}“ geändert",
            ("id", "title_de", "intro_de", "show_field"),
            own=f'step "{posted.get("id", "").strip()}"',
        )
    if problems:
        values = {**fe.step_values(fe.step_of(raw, step_id)), **posted}
        return _step_page(request, admin, row, raw, step_id, values, problems, 422)
    db.commit()
    new_id = posted.get("id", step_id).strip()
    return _done(request, f"{_base(row)}#step-{new_id}", "Schritt gespeichert.", changed=new != raw)


# --------------------------------------------------------------------------- fields


def _field_page(
    request, admin, row, raw, step_id, field_id, values, problems=None, status_code=200
):
    problems = problems or fe.Problems()
    f_type = values.get("type") if values.get("type") in fe.ATTRS else "text"
    earlier = fe.fields_before(raw, step_id, field_id)
    if field_id is None:
        earlier = earlier + list(fe.step_of(raw, step_id).get("fields") or [])
    current = fe.field_of(raw, step_id, field_id) if field_id else {}
    lists = raw.get("code_lists") or {}
    return render(
        request,
        "admin/form_editor_field.html",
        status_code=status_code,
        lang="de",
        staff=admin,
        row=row,
        base=_base(row),
        step=fe.step_of(raw, step_id),
        field_id=field_id,
        current=current,
        values=values,
        attrs=fe.ATTRS[f_type],
        problems=problems,
        errors=problems.items,
        earlier=earlier,
        date_fields=[f for f in earlier if f.get("type") == "date"],
        iban_fields=[f for f in earlier if f.get("type") == "iban"],
        code_lists=sorted(lists),
        list_users=[
            u for u in fe.users_of_code_list(raw, values.get("options") or "") if u != field_id
        ],
        type_labels=fe.TYPE_LABELS,
        types=fe.FIELD_TYPES if current.get("type") == "group" else fe.NEW_FIELD_TYPES,
        widths=fe.WIDTHS,
        widgets=fe.WIDGETS,
        upload_labels=fe.UPLOAD_LABELS,
    )


FIELD_ANCHORS = ("id", "type", "label_de", "hint_de", "show_field", "options")


def _save_field(request, db, admin, row, raw, step_id, field_id, form) -> Response:
    posted = _posted(form)
    new, problems = fe.apply_field(raw, step_id, field_id, posted)
    _refused_characters(posted, problems)
    if not posted.get("label_de", "").strip():
        problems.add("label_de", "Geben Sie die Frage oder Bezeichnung des Felds an.")
    new_id = posted.get("id", "").strip()
    if not problems:
        anchors = FIELD_ANCHORS + tuple(fe.ATTRS.get(posted.get("type", ""), ()))
        what = f"Feld „{new_id}“ " + ("geändert" if field_id else "hinzugefügt")
        problems = _store(db, admin, row, raw, new, what, anchors, own=f'field "{new_id}"')
    if problems:
        values = {
            **(
                fe.field_values(raw, fe.field_of(raw, step_id, field_id))
                if field_id
                else fe.field_values(raw, {"type": posted.get("type", "text")})
            ),
            **posted,
        }
        values["option_rows"] = fe.posted_option_rows(posted)
        values["not_future"] = posted.get("not_future") == "yes"
        values["unique"] = posted.get("unique") == "yes"
        return _field_page(
            request, admin, row, raw, step_id, field_id, values, problems, status_code=422
        )
    db.commit()
    message = "Feld gespeichert." if field_id else "Feld hinzugefügt."
    return _done(request, f"{_base(row)}#field-{step_id}-{new_id}", message, changed=new != raw)


@router.get("/procedures/{procedure_id}/versions/{number}/form/steps/{step_id}/new-field")
def new_field_page(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    admin: CurrentAdmin,
    db: SessionDep,
    type: str = "text",
) -> Response:
    row, raw = _draft(db, admin, procedure_id, number)
    try:
        fe.step_of(raw, step_id)
    except fe.NoSuchPart:
        raise _no_part() from None
    f_type = type if type in fe.NEW_FIELD_TYPES else "text"
    values = fe.field_values(raw, {"type": f_type})
    return _field_page(request, admin, row, raw, step_id, None, values)


@router.post("/procedures/{procedure_id}/versions/{number}/form/steps/{step_id}/new-field")
def new_field_save(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    form: FormDep,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    row, raw = _draft(db, admin, procedure_id, number)
    try:
        return _save_field(request, db, admin, row, raw, step_id, None, form)
    except fe.NoSuchPart:
        raise _no_part() from None


@router.get("/procedures/{procedure_id}/versions/{number}/form/steps/{step_id}/fields/{field_id}")
def field_page(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    field_id: str,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    row, raw = _draft(db, admin, procedure_id, number)
    try:
        values = fe.field_values(raw, fe.field_of(raw, step_id, field_id))
    except fe.NoSuchPart:
        raise _no_part() from None
    return _field_page(request, admin, row, raw, step_id, field_id, values)


@router.post("/procedures/{procedure_id}/versions/{number}/form/steps/{step_id}/fields/{field_id}")
def field_save(
    request: Request,
    procedure_id: str,
    number: DbInt,
    step_id: str,
    field_id: str,
    form: FormDep,
    admin: CurrentAdmin,
    db: SessionDep,
) -> Response:
    row, raw = _draft(db, admin, procedure_id, number)
    try:
        return _save_field(request, db, admin, row, raw, step_id, field_id, form)
    except fe.NoSuchPart:
        raise _no_part() from None
