"""The form editor through the admin pages, on SQLite and PostgreSQL: a field added, moved and
saved shows in the YAML view and the step preview; pages saved unchanged change nothing;
refused changes are shown in place and not stored; only drafts, only the own municipality's
administrators; every change in the change log."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import yaml
from sqlmodel import select

from forms import parse_definition
from services.audit.models import AdminEvent
from services.procedures.models import ProcedureVersion
from services.procedures.versions import template_source
from tests.conftest import csrf_of, login

BASE = "/admin/procedures/dog_registration/versions"


class _Form(HTMLParser):
    """The fields a browser submits for the form posting to ``action`` (no button)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, []
        self._select: str | None = None
        self._first: tuple | None = None
        self._chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = html.unescape(a.get("action", "")) == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._first, self._chosen = a["name"], None, False
        elif tag == "option" and self._select:
            if self._first is None:
                self._first = (self._select, a.get("value", ""))
            if "selected" in a:
                self.fields.append((self._select, a.get("value", "")))
                self._chosen = True
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if not self._chosen and self._first:
                self.fields.append(self._first)
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.inside:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)


def form_of(page: str, action: str) -> list[tuple[str, str]]:
    parser = _Form(action)
    parser.feed(page)
    fields = [(k, v.removeprefix("\n")) for k, v in parser.fields]
    assert fields, f"no form posting to {action}"
    return fields


def replaced(fields, **changes) -> dict[str, list[str]]:
    """The posted data (a name may repeat: checkboxes) with ``changes`` applied."""
    if isinstance(fields, dict):
        fields = [(k, v) for k, values in fields.items() for v in values]
    data: dict[str, list[str]] = {}
    for k, v in fields:
        if k not in changes:
            data.setdefault(k, []).append(v)
    data.update({k: [v] for k, v in changes.items() if v is not None})
    return data


def admin_with_draft(client, db, admin) -> str:
    login(client, "admin")
    page = client.get("/admin/procedures")
    page = client.get(f"{BASE}/1")
    r = client.post(f"{BASE}/1/draft", data={"csrf_token": csrf_of(page.text)})
    assert r.url.path.endswith("/versions/2")
    return f"{BASE}/2/form"


def stored(db, number=2) -> ProcedureVersion:
    db.expire_all()
    return db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.procedure_id == "dog_registration",
            ProcedureVersion.version == number,
        )
    ).one()


def events(db) -> list[AdminEvent]:
    db.expire_all()
    return list(db.exec(select(AdminEvent).where(AdminEvent.action == "procedure_form_edited")))


def test_add_move_and_save_a_field_then_see_it_in_yaml_and_preview(client, db, admin):
    form = admin_with_draft(client, db, admin)
    overview = client.get(form)
    assert overview.status_code == 200
    assert "Schritt 2: Angaben zum Hund" in overview.text

    page = client.get(f"{form}/steps/dog/new-field", params={"type": "integer"})
    assert page.status_code == 200 and "Kleinster erlaubter Wert" in page.text
    fields = replaced(
        form_of(page.text, f"{form}/steps/dog/new-field"),
        id="dog_weight",
        label_de="Gewicht in kg",
        label_en="Weight in kg",
        required="yes",
        max="120",
    )
    r = client.post(f"{form}/steps/dog/new-field", data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("#field-dog-dog_weight")
    overview = client.get(r.headers["location"])
    assert "Feld hinzugefügt." in overview.text
    definition = parse_definition(yaml.safe_load(stored(db).form_yaml))
    assert [f.id for f in definition.step("dog").fields][-1] == "dog_weight"
    assert definition.field("dog_weight").max == 120

    r = client.post(
        form,
        data={"csrf_token": csrf_of(overview.text), "action": "move_field:dog:dog_weight:up"},
    )
    assert "Feld „Gewicht in kg“ nach oben verschoben." in r.text
    ids = [f.id for f in parse_definition(yaml.safe_load(stored(db).form_yaml)).step("dog").fields]
    assert ids[-2:] == ["dog_weight", "previous_keeper_address"]

    # The YAML view shows the same form; the step preview the new field.
    version_page = client.get(f"{BASE}/2").text
    shown = html.unescape(
        re.search(r'name="form_yaml"[^>]*>(.*?)</textarea>', version_page, re.S)[1]
    )
    assert yaml.safe_load(shown) == yaml.safe_load(stored(db).form_yaml)
    preview = client.get(f"{BASE}/2/preview/dog").text
    assert "Gewicht in kg" in preview

    # The change log names each change.
    log = events(db)
    assert [e.after for e in log] == [
        {"Formular": "Feld „dog_weight“ hinzugefügt"},
        {"Formular": "Feld „dog_weight“ nach oben"},
    ]
    assert {e.target for e in log} == {"dog_registration, Version 2"}
    assert "Formular eines Verfahrensentwurfs geändert" in client.get("/admin/municipality").text


def test_pages_saved_unchanged_change_nothing(client, db, admin):
    form = admin_with_draft(client, db, admin)
    before = stored(db).form_yaml
    # One field of each kind the dog registration has, and a step with a condition.
    for step, field in [
        ("keeper", "given_names"),
        ("keeper", "birth_date"),
        ("keeper", "co_keepers"),
        ("keeper", "moved_in_date"),
        ("dog", "sex"),
        ("dog", "chip_number"),
        ("dog", "intake_date"),
        ("dangerous", "declared_dangerous"),
        ("dangerous_details", "permit_file"),
        ("reduction", "reduction_reason"),
        ("reduction", "reduction_valid_until"),
        ("sepa", "bic"),
        ("declarations", "truthful"),
    ]:
        url = f"{form}/steps/{step}/fields/{field}"
        page = client.get(url)
        assert page.status_code == 200, (field, page.text[:300])
        r = client.post(url, data=replaced(form_of(page.text, url)))
        assert "Es gab nichts zu ändern." in r.text, (field, r.status_code, r.text[:2000])
    url = f"{form}/steps/sepa"
    r = client.post(url, data=replaced(form_of(client.get(url).text, url)))
    assert "Es gab nichts zu ändern." in r.text
    assert stored(db).form_yaml == before
    assert events(db) == []


def test_refused_changes_are_shown_in_place_and_not_stored(client, db, admin):
    form = admin_with_draft(client, db, admin)
    before = stored(db).form_yaml
    overview = client.get(form)
    # Other fields' conditions read "moved_in": the loader refuses to remove it.
    r = client.post(
        form,
        data={"csrf_token": csrf_of(overview.text), "action": "remove_field:keeper:moved_in"},
    )
    assert r.status_code == 422
    assert 'href="#field-keeper-moved_in"' in r.text
    assert 'id="field-keeper-moved_in-error"' in r.text
    assert "condition refers to" in r.text and "moved_in" in r.text

    # Renaming it too: the message is about the conditions, shown at the id.
    url = f"{form}/steps/keeper/fields/moved_in"
    r = client.post(url, data=replaced(form_of(client.get(url).text, url), id="moved"))
    assert r.status_code == 422 and 'href="#id"' in r.text
    assert re.search(r'id="id"[^>]*aria-invalid=true', r.text)

    url = f"{form}/steps/dangerous_details/fields/permit_file"
    fields = replaced(form_of(client.get(url).text, url), max_size_mb="80", max_files="drei")
    r = client.post(url, data=fields)
    assert r.status_code == 422
    assert r.text.count('class="error-summary"') == 1
    assert 'href="#max_files"' in r.text and "Geben Sie eine ganze Zahl ein." in r.text
    assert re.search(r'id="max_files"[^>]*aria-invalid=true', r.text)
    assert 'value="80"' in r.text and 'value="drei"' in r.text  # what was typed stays
    fields = replaced(fields, max_files="3")
    r = client.post(url, data=fields)
    assert r.status_code == 422 and 'href="#max_size_mb"' in r.text  # the loader's limit
    assert re.search(r'id="max_size_mb"[^>]*aria-invalid=true', r.text)

    # A control character in a label is refused at the label (the YAML view's rule).
    r = client.post(url, data=replaced(fields, max_size_mb="10", label_de="Erlaubnis\x1b"))
    assert r.status_code == 422 and 'href="#label_de"' in r.text

    # A step id that is taken, when adding a step.
    r = client.post(
        form,
        data={
            "csrf_token": csrf_of(overview.text),
            "action": "add_step",
            "step_id": "dog",
            "title_de": "Noch ein Hund",
            "after": "dog",
            "field_id": "second_dog",
            "type": "text",
            "label_de": "Name",
        },
    )
    assert r.status_code == 422 and 'href="#step_id"' in r.text
    assert "duplicate step id" in r.text
    assert stored(db).form_yaml == before
    assert events(db) == []


def test_add_a_step_with_a_choice_field_and_yaml_edits_show_in_the_editor(client, db, admin):
    form = admin_with_draft(client, db, admin)
    overview = client.get(form)
    r = client.post(
        form,
        data={
            "csrf_token": csrf_of(overview.text),
            "action": "add_step",
            "step_id": "coat",
            "title_de": "Fell",
            "title_en": "Coat",
            "after": "dog",
            "field_id": "coat_remarks",
            "type": "textarea",
            "label_de": "Besonderheiten des Fells",
        },
    )
    assert r.status_code == 200 and "Schritt „Fell“ angelegt." in r.text
    url = f"{form}/steps/coat/new-field"
    page = client.get(url, params={"type": "choice"})
    fields = replaced(
        form_of(page.text, url),
        id="coat_length",
        label_de="Felllänge",
        **{
            "option-0-value": "short",
            "option-0-de": "kurz",
            "option-1-value": "long",
            "option-1-de": "lang",
            "option-1-en": "long",
        },
    )
    r = client.post(url, data=fields)
    assert r.status_code == 200 and "Feld hinzugefügt." in r.text
    definition = parse_definition(yaml.safe_load(stored(db).form_yaml))
    assert [s.id for s in definition.steps][1:3] == ["dog", "coat"]
    assert [o.label.get("en") for o in definition.options(definition.field("coat_length"))] == [
        "kurz",
        "long",
    ]
    # The condition "show when coat_length is long", set on the step's first field? It comes
    # later, so the loader refuses; on the new field after it, it is taken.
    url = f"{form}/steps/coat/fields/coat_remarks"
    r = client.post(
        url,
        data=replaced(
            form_of(client.get(url).text, url), show_field="coat_length", show_value="long"
        ),
    )
    assert r.status_code == 422 and 'href="#show_field"' in r.text

    # Edited in the YAML view, seen in the editor.
    page = client.get(f"{BASE}/2")
    text = stored(db).form_yaml.replace("Felllänge", "Länge des Fells")
    r = client.post(
        f"{BASE}/2",
        data={
            "csrf_token": csrf_of(page.text),
            "action": "save",
            "form_yaml": text,
            "workflow_yaml": stored(db).workflow_yaml,
            **{f"notice_{k}": template_source(n) for k, n in stored(db).notices.items()},
        },
    )
    assert r.status_code == 200, re.findall(r"<li><a href=\"#[^>]*>(.*?)</a>", r.text)
    assert "Länge des Fells" in client.get(form).text


def test_published_versions_are_read_only(client, db, admin):
    login(client, "admin")
    client.get("/admin/procedures")
    page = client.get(f"{BASE}/1/form")
    assert page.status_code == 200 and "Formular ansehen" in page.text
    assert "nach oben" not in page.text and "Feld hinzufügen" not in page.text
    before = stored(db, 1).form_yaml
    r = client.post(
        f"{BASE}/1/form",
        data={"csrf_token": csrf_of(page.text), "action": "move_step:dog:up"},
    )
    assert r.status_code == 409 and "Nur Entwürfe können bearbeitet werden." in r.text
    assert client.get(f"{BASE}/1/form/steps/dog/fields/dog_name").status_code == 409
    assert client.get(f"{BASE}/1/form/steps/dog/new-field").status_code == 409
    assert stored(db, 1).form_yaml == before


def test_only_own_administrators_and_with_the_csrf_token(client, db, admin, clerk, foreign_admin):
    form = admin_with_draft(client, db, admin)
    before = stored(db).form_yaml
    r = client.post(form, data={"action": "move_step:dog:up"})
    assert r.status_code == 400 and stored(db).form_yaml == before  # CsrfFailed
    client.cookies.clear()
    login(client, "clerk")
    assert client.get(form).status_code == 403
    client.cookies.clear()
    login(client, "fadmin")
    client.get("/admin/procedures")  # their own version 1
    token = csrf_of(client.get(f"{BASE}/1/form").text)
    assert client.get(form).status_code == 404
    assert client.get(f"{form}/steps/dog/fields/dog_name").status_code == 404
    r = client.post(form, data={"csrf_token": token, "action": "move_step:dog:up"})
    assert r.status_code == 404
    assert stored(db).form_yaml == before


def test_unknown_steps_fields_and_actions_are_not_found(client, db, admin):
    form = admin_with_draft(client, db, admin)
    assert client.get(f"{form}/steps/nope").status_code == 404
    assert client.get(f"{form}/steps/dog/fields/nope").status_code == 404
    assert client.get(f"{form}/steps/nope/new-field").status_code == 404
    token = csrf_of(client.get(form).text)
    for action in (
        "move_field:dog:nope:up",
        "move_field:dog:dog_name:sideways",
        "remove_step:nope",
        "remove_step:dog:up",
        "explode",
        "move_step",
    ):
        r = client.post(form, data={"csrf_token": token, "action": action})
        assert r.status_code == 404, action
