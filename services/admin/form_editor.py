"""The form editor's model: pure functions on a draft's form as data (the mapping
``yaml.safe_load`` gives of its YAML), no web, no database.

Every operation returns a new mapping and leaves its argument alone. Whether the result is a
usable form is decided by one rule set only, the form loader's (``forms.loader``):
``checked`` writes the mapping as YAML and parses that text exactly as the YAML view's save
does, so the editor never stores what the YAML view would refuse, and what it stores is what
the YAML view shows. Attributes the editor has no input for (a group's sub-fields, a minimum
age, a condition that is not "field X is / is not Y") are kept as they are.

Editing a field compares every input with the field's present value and changes only what
differs, so a field saved unchanged stays exactly the same mapping (an explicit default, a
plain-string label and the key order included).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from forms.loader import parse_definition
from forms.model import FIELD_TYPES, UPLOAD_TYPES, FormDefinition
from services.admin.municipality_service import FormProblems

SOURCE = "Formular"

TYPE_LABELS: dict[str, str] = {
    "text": "Text (eine Zeile)",
    "textarea": "Text (mehrere Zeilen)",
    "integer": "Ganze Zahl",
    "money": "Geldbetrag",
    "decimal": "Dezimalzahl",
    "date": "Datum",
    "yesno": "Ja oder nein",
    "choice": "Auswahl (eine Möglichkeit)",
    "multichoice": "Auswahl (mehrere Möglichkeiten)",
    "email": "E-Mail-Adresse",
    "phone": "Telefonnummer",
    "postal_code": "Postleitzahl",
    "iban": "IBAN",
    "bic": "BIC",
    "chip": "Chipnummer (Transponder)",
    "confirm": "Bestätigung (Häkchen)",
    "info": "Hinweistext (keine Eingabe)",
    "file": "Datei-Upload (Nachweis)",
    "group": "Wiederholbare Gruppe",
}
assert set(TYPE_LABELS) == set(FIELD_TYPES), "every field type needs a label in the editor"
# A group needs its sub-fields, which only the YAML view edits: the editor adds no groups.
NEW_FIELD_TYPES = tuple(t for t in FIELD_TYPES if t != "group")
WIDTHS = {"full": "volle Breite", "half": "halbe Breite", "short": "kurz", "code": "für Codes"}
WIDGETS = {"radio": "Optionsfelder (alle sichtbar)", "select": "Auswahlliste"}
UPLOAD_LABELS = {"application/pdf": "PDF", "image/jpeg": "JPEG-Bild", "image/png": "PNG-Bild"}

# The inputs a field page offers per type, beyond id, type, label, hint, required and the
# condition. Attributes of another type are dropped when the type changes.
ATTRS: dict[str, tuple[str, ...]] = {
    "text": ("max_length", "width", "autocomplete"),
    "textarea": ("max_length",),
    "email": ("max_length", "width", "autocomplete"),
    "phone": ("max_length", "width", "autocomplete"),
    "postal_code": ("width", "autocomplete"),
    "integer": ("min", "max", "width"),
    "money": ("min", "max", "width"),
    "decimal": ("min", "max", "width"),
    "date": ("not_future", "not_before", "max_years_ago", "width", "autocomplete"),
    "yesno": (),
    "choice": ("widget", "options"),
    "multichoice": ("options",),
    "iban": ("width", "autocomplete"),
    "bic": ("derive_from", "width", "autocomplete"),
    "chip": ("unique", "width", "autocomplete"),
    "confirm": (),
    "info": (),
    "file": ("accept", "max_size_mb", "max_files"),
    "group": ("min_items", "max_items", "item_label"),
}
ALL_ATTRS = {a for attrs in ATTRS.values() for a in attrs} | {"min_age"}
INTEGERS = ("max_length", "min", "max", "max_years_ago", "max_size_mb", "max_files")
INTEGERS += ("min_items", "max_items")
DEFAULTS: dict[str, Any] = {
    "required": False,
    "show_if": None,
    "options": None,
    "widget": "radio",
    "autocomplete": None,
    "max_length": None,
    "min": None,
    "max": None,
    "width": "full",
    "not_future": True,
    "not_before": None,
    "max_years_ago": None,
    "unique": False,
    "derive_from": None,
    "accept": list(UPLOAD_TYPES),
    "max_size_mb": 10,
    "max_files": 5,
    "min_items": 0,
    "max_items": 5,
    "hint": None,
    "item_label": None,
    "intro": None,
}
OPTION_ROWS_BLANK = 3  # empty rows offered for new options
CONDITION_OPS = {"==": "ist", "!=": "ist nicht"}
YES, NO = "ja", "nein"


class NoSuchPart(KeyError):
    """A step or field the editor was asked about is not in the form."""


# Input problems of one posted editor form: (input id, message) in form order, the same kind
# as the other administration forms'.
Problems = FormProblems


# --------------------------------------------------------------------------- text <-> model


def load(text: str) -> dict:
    """The form of a YAML text as the editor's model; refused (``DefinitionError``) exactly
    when the YAML view's check refuses it."""
    raw = yaml.safe_load(text)
    parse_definition(raw, SOURCE)
    return raw


def _flow(value: Any) -> str:
    """One value in YAML flow style on one line (``{de: Rüde, en: Male}``)."""
    text = yaml.safe_dump(
        [value], default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**9
    ).strip()
    return text[1:-1]


def _block(mapping: dict, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in mapping.items():
        if key in ("fields", "steps") and isinstance(value, list):
            lines.append(f"{pad}{_flow(key)}:")
            lines += _items(value, indent + 2, blank=key == "steps")
        elif key == "code_lists" and isinstance(value, dict) and value:
            lines.append(f"{pad}code_lists:")
            for name, options in value.items():
                if isinstance(options, list) and options:
                    lines.append(f"{pad}  {_flow(name)}:")
                    lines += [f"{pad}    - {_flow(o)}" for o in options]
                else:
                    lines.append(f"{pad}  {_flow(name)}: {_flow(options)}")
        else:
            lines.append(f"{pad}{_flow(key)}: {_flow(value)}")
    return lines


def _items(items: list, indent: int, blank: bool) -> list[str]:
    """A list of steps or fields: a field on one line; a step, or a field with fields of its
    own (a group), as a block."""
    pad = " " * indent
    lines = []
    for i, item in enumerate(items):
        nested = isinstance(item, dict) and ("fields" in item or "title" in item)
        if not nested:
            lines.append(f"{pad}- {_flow(item)}")
            continue
        if blank and i:
            lines.append("")
        block = _block(item, indent + 2) if item else [f"{pad}  {{}}"]
        lines.append(f"{pad}- {block[0].lstrip()}")
        lines += block[1:]
    return lines


def dump(raw: dict) -> str:
    """The form as YAML in the layout of the built-in definitions: texts in flow style, one
    line per field and per option. ``yaml.safe_load(dump(raw)) == raw``."""
    lines: list[str] = []
    for key, value in raw.items():
        if key in ("code_lists", "steps") and lines and lines[-1] != "":
            lines.append("")
        lines += _block({key: value}, 0)
    return "\n".join(lines) + "\n"


def checked(raw: dict) -> tuple[str, FormDefinition]:
    """The YAML the editor would store and its definition, parsed by the form loader from that
    very text; ``DefinitionError`` names what is wrong."""
    text = dump(raw)
    return text, parse_definition(yaml.safe_load(text), SOURCE)


# --------------------------------------------------------------------------- finding parts


def step_of(raw: dict, step_id: str) -> dict:
    for step in raw.get("steps") or []:
        if isinstance(step, dict) and step.get("id") == step_id:
            return step
    raise NoSuchPart(step_id)


def field_of(raw: dict, step_id: str, field_id: str) -> dict:
    for f in step_of(raw, step_id).get("fields") or []:
        if isinstance(f, dict) and f.get("id") == field_id:
            return f
    raise NoSuchPart(field_id)


def _step_index(raw: dict, step_id: str) -> int:
    return raw["steps"].index(step_of(raw, step_id))


def _field_index(step: dict, field_id: str) -> int:
    for i, f in enumerate(step.get("fields") or []):
        if isinstance(f, dict) and f.get("id") == field_id:
            return i
    raise NoSuchPart(field_id)


def fields_before(raw: dict, step_id: str, field_id: str | None = None) -> list[dict]:
    """The fields asked before a step (``field_id`` None) or before a field of it (the end
    of the step for a new field): what a condition may read."""
    found = []
    for step in raw.get("steps") or []:
        for f in step.get("fields") or []:
            if step.get("id") == step_id and (field_id is None or f.get("id") == field_id):
                return found
            found.append(f)
        if step.get("id") == step_id:
            return found
    return found


def users_of_code_list(raw: dict, name: str) -> list[str]:
    """Ids of the fields that use a code list."""
    return [
        f.get("id")
        for step in raw.get("steps") or []
        for f in step.get("fields") or []
        if f.get("options") == name
    ]


# --------------------------------------------------------------------------- operations


def add_step(raw: dict, step: dict, after: str | None = None) -> dict:
    """Insert a step after the step ``after`` (default: at the end)."""
    new = copy.deepcopy(raw)
    steps = new.setdefault("steps", [])
    position = _step_index(new, after) + 1 if after else len(steps)
    steps.insert(position, copy.deepcopy(step))
    return new


def remove_step(raw: dict, step_id: str) -> dict:
    new = copy.deepcopy(raw)
    del new["steps"][_step_index(new, step_id)]
    return new


def move_step(raw: dict, step_id: str, delta: int) -> dict:
    """Move a step up (-1) or down (+1); at either end it stays."""
    new = copy.deepcopy(raw)
    steps = new["steps"]
    i = _step_index(new, step_id)
    j = min(max(i + delta, 0), len(steps) - 1)
    steps.insert(j, steps.pop(i))
    return new


def replace_step(raw: dict, step_id: str, step: dict) -> dict:
    new = copy.deepcopy(raw)
    new["steps"][_step_index(new, step_id)] = copy.deepcopy(step)
    return new


def add_field(raw: dict, step_id: str, f: dict) -> dict:
    """Append a field to a step."""
    new = copy.deepcopy(raw)
    step_of(new, step_id).setdefault("fields", []).append(copy.deepcopy(f))
    return new


def remove_field(raw: dict, step_id: str, field_id: str) -> dict:
    new = copy.deepcopy(raw)
    step = step_of(new, step_id)
    del step["fields"][_field_index(step, field_id)]
    return new


def move_field(raw: dict, step_id: str, field_id: str, delta: int) -> dict:
    """Move a field up (-1) or down (+1) within its step; at either end it stays."""
    new = copy.deepcopy(raw)
    fields = step_of(new, step_id)["fields"]
    i = _field_index(step_of(new, step_id), field_id)
    j = min(max(i + delta, 0), len(fields) - 1)
    fields.insert(j, fields.pop(i))
    return new


def replace_field(raw: dict, step_id: str, field_id: str, f: dict) -> dict:
    new = copy.deepcopy(raw)
    step = step_of(new, step_id)
    step["fields"][_field_index(step, field_id)] = copy.deepcopy(f)
    return new


def set_code_list(raw: dict, name: str, options: list[dict]) -> dict:
    """Set a code list's options (value + label); a list not used by any field afterwards
    may stay (the loader allows unused lists)."""
    new = copy.deepcopy(raw)
    lists = new.get("code_lists") or {}
    lists[name] = copy.deepcopy(options)
    new["code_lists"] = lists
    return new


# --------------------------------------------------------------------------- conditions


def condition(field_id: str, op: str, value: Any) -> dict:
    """ "Show when field X is (not) Y" as JsonLogic."""
    if op not in CONDITION_OPS:
        raise ValueError(op)
    return {op: [{"var": field_id}, value]}


def simple_condition(cond: Any) -> tuple[str, str, Any] | None:
    """(field, op, value) of a condition "field X is / is not Y"; None for anything else."""
    if not isinstance(cond, dict) or len(cond) != 1:
        return None
    ((op, args),) = cond.items()
    if op not in CONDITION_OPS or not isinstance(args, list) or len(args) != 2:
        return None
    var, value = args
    if not (isinstance(var, dict) and set(var) == {"var"} and isinstance(var["var"], str)):
        return None
    if isinstance(value, dict | list):
        return None
    return var["var"], op, value


def shown_value(value: Any) -> str:
    if value is True:
        return YES
    if value is False:
        return NO
    return "" if value is None else str(value)


def typed_value(text: str, field_type: str | None) -> Any:
    """A condition's value as typed, in the type of the field it compares: yes/no fields
    compare with true/false, whole numbers with numbers, everything else with text."""
    text = text.strip()
    if field_type in ("yesno", "confirm"):
        lowered = text.lower()
        if lowered in (YES, "true", "yes", "1"):
            return True
        if lowered in (NO, "false", "no", "0"):
            return False
    if field_type == "integer" and re.fullmatch(r"[+-]?\d{1,18}", text):
        return int(text)
    return text


def _condition_values(cond: Any, prefix: str = "show") -> dict[str, str]:
    simple = simple_condition(cond)
    if cond is None:
        return {f"{prefix}_field": "", f"{prefix}_op": "==", f"{prefix}_value": ""}
    if simple is None:
        return {f"{prefix}_field": "__keep__", f"{prefix}_op": "==", f"{prefix}_value": ""}
    name, op, value = simple
    return {f"{prefix}_field": name, f"{prefix}_op": op, f"{prefix}_value": shown_value(value)}


def _posted_condition(raw: dict, current: Any, posted: dict[str, str], problems: Problems) -> Any:
    name = posted.get("show_field", "").strip()
    if name == "__keep__":
        return current
    if not name:
        return None
    op = posted.get("show_op", "==")
    if op not in CONDITION_OPS:
        problems.add("show_op", "Wählen Sie „ist“ oder „ist nicht“.")
        return current
    value_text = posted.get("show_value", "")
    if not value_text.strip():
        problems.add("show_value", "Geben Sie den Wert an, mit dem verglichen wird.")
        return current
    types = {
        f.get("id"): f.get("type") for s in raw.get("steps") or [] for f in s.get("fields") or []
    }
    value = typed_value(value_text, types.get(name))
    # An unchanged condition keeps its value as written (e.g. a choice value that looks
    # like a number).
    simple = simple_condition(current)
    if simple and simple[0] == name and simple[1] == op and shown_value(simple[2]) == value_text:
        return current
    return condition(name, op, value)


# --------------------------------------------------------------------------- field pages


def text_of(value: Any) -> tuple[str, str]:
    if value is None:
        return "", ""
    if isinstance(value, str):
        return value, ""
    return str(value.get("de") or ""), str(value.get("en") or "")


def _posted_text(posted: dict[str, str], name: str) -> tuple[str, str]:
    return posted.get(f"{name}_de", "").strip(), posted.get(f"{name}_en", "").strip()


def _set(target: dict, key: str, value: Any, same: bool | None = None) -> None:
    """Set ``key`` to ``value`` only when it differs from the present value; a value equal to
    the default removes the key."""
    default = DEFAULTS.get(key)
    current = target.get(key, default)
    if same if same is not None else current == value:
        return
    if value == default:
        target.pop(key, None)
    else:
        target[key] = value


def _set_text(target: dict, key: str, de: str, en: str) -> None:
    if text_of(target.get(key)) == (de, en):
        return
    if not de and not en:
        target.pop(key, None)
    else:
        target[key] = {"de": de, "en": en} if en else {"de": de}


def field_values(raw: dict, f: dict) -> dict[str, Any]:
    """The inputs of a field page for a field (its present values as text)."""
    label, hint, item = (
        text_of(f.get("label")),
        text_of(f.get("hint")),
        text_of(f.get("item_label")),
    )
    required = f.get("required", False)
    values: dict[str, Any] = {
        "id": f.get("id", ""),
        "type": f.get("type", "text"),
        "label_de": label[0],
        "label_en": label[1],
        "hint_de": hint[0],
        "hint_en": hint[1],
        "item_label_de": item[0],
        "item_label_en": item[1],
        "required": "keep" if isinstance(required, dict) else ("yes" if required else "no"),
        **_condition_values(f.get("show_if")),
    }
    for key in INTEGERS:
        value = f.get(key, DEFAULTS[key])
        values[key] = "" if value is None else str(value)
    for key in ("width", "widget", "autocomplete", "not_before", "derive_from", "options"):
        value = f.get(key, DEFAULTS[key])
        values[key] = "" if value is None else str(value)
    values["not_future"] = bool(f.get("not_future", True))
    values["unique"] = bool(f.get("unique", False))
    values["accept"] = list(f.get("accept", UPLOAD_TYPES))
    values["option_rows"] = option_rows(raw, f.get("options"))
    return values


def option_rows(raw: dict, name: str | None, blank: int = OPTION_ROWS_BLANK) -> list[dict]:
    rows = []
    for o in (raw.get("code_lists") or {}).get(name or "", None) or []:
        de, en = text_of(o.get("label"))
        rows.append({"value": str(o.get("value", "")), "de": de, "en": en})
    return rows + [{"value": "", "de": "", "en": ""} for _ in range(blank)]


def posted_option_rows(posted: dict[str, str]) -> list[dict]:
    """The option rows as posted (for showing them again)."""
    try:
        count = min(int(posted.get("option_count", "0")), 500)
    except ValueError:
        count = 0
    return [
        {
            "value": posted.get(f"option-{i}-value", ""),
            "de": posted.get(f"option-{i}-de", ""),
            "en": posted.get(f"option-{i}-en", ""),
            "remove": posted.get(f"option-{i}-remove") == "yes",
        }
        for i in range(count)
    ]


def _posted_options(posted: dict[str, str], problems: Problems) -> list[dict]:
    options = []
    for i, row in enumerate(posted_option_rows(posted)):
        value, de, en = row["value"].strip(), row["de"].strip(), row["en"].strip()
        if row["remove"] or not (value or de or en):
            continue
        if not value:
            problems.add(f"option-{i}-value", f"Option {i + 1}: Geben Sie den Wert an.")
            continue
        if not de:
            problems.add(f"option-{i}-de", f"Option {i + 1}: Geben Sie die Bezeichnung an.")
            continue
        options.append({"value": value, "label": {"de": de, "en": en} if en else {"de": de}})
    return options


def _same_options(current: list | None, new: list[dict]) -> bool:
    def norm(options):
        return [(str(o.get("value")), text_of(o.get("label"))) for o in options or []]

    return norm(current) == norm(new)


def apply_field(
    raw: dict, step_id: str, field_id: str | None, posted: dict[str, str]
) -> tuple[dict, Problems]:
    """The form with a field page's inputs applied to the field ``field_id`` of a step (a new
    field at the step's end when None). Input that cannot be read (a word where a number
    belongs) is a problem at its input; everything else is the loader's to judge."""
    problems = Problems()
    old = field_of(raw, step_id, field_id) if field_id else {}
    f = copy.deepcopy(old)
    new_id = posted.get("id", "").strip()
    f_type = posted.get("type", "").strip() or old.get("type", "text")
    old_type = old.get("type", f_type)
    if not field_id:
        f["id"], f["type"] = new_id, f_type
    else:
        _set(f, "id", new_id, same=old.get("id") == new_id)
        _set(f, "type", f_type, same=old_type == f_type)
        if f_type != old_type:  # what only the old type has would be refused
            for key in set(ATTRS.get(old_type, ())) - set(ATTRS.get(f_type, ())):
                f.pop(key, None)
    de, en = _posted_text(posted, "label")
    if not field_id:
        f["label"] = {"de": de, "en": en} if en else {"de": de}
    else:
        _set_text(f, "label", de, en)
    _set_text(f, "hint", *_posted_text(posted, "hint"))
    required = posted.get("required", "no")
    if required != "keep" or not isinstance(old.get("required"), dict):
        _set(f, "required", required == "yes")
    _set(f, "show_if", _posted_condition(raw, old.get("show_if"), posted, problems))
    attrs = ATTRS.get(f_type, ())
    for key in INTEGERS:
        if key not in attrs:
            continue
        text = posted.get(key, "").strip()
        if not text:
            value = DEFAULTS[key]
        elif re.fullmatch(r"[+-]?\d{1,9}", text):
            value = int(text)
        else:
            problems.add(key, "Geben Sie eine ganze Zahl ein.")
            continue
        _set(f, key, value)
    for key in ("width", "widget", "autocomplete", "not_before", "derive_from"):
        if key in attrs:
            _set(f, key, posted.get(key, "").strip() or DEFAULTS[key])
    for key in ("not_future", "unique"):
        if key in attrs:
            _set(f, key, posted.get(key) == "yes")
    if "accept" in attrs:
        chosen = [t for t in UPLOAD_TYPES if t in (posted.get("accept") or ())]
        _set(f, "accept", chosen, same=set(chosen) == set(f.get("accept", UPLOAD_TYPES)))
    if "item_label" in attrs:
        _set_text(f, "item_label", *_posted_text(posted, "item_label"))
    new_raw = copy.deepcopy(raw)
    if "options" in attrs:
        new_raw = _apply_options(new_raw, f, old, posted, problems)
    if field_id:
        new_raw = replace_field(new_raw, step_id, field_id, f)
    else:
        new_raw = add_field(new_raw, step_id, f)
    return new_raw, problems


def _apply_options(raw: dict, f: dict, old: dict, posted: dict, problems: Problems) -> dict:
    """The field's code list: another existing list is just chosen; the field's own (or a
    new) list takes the posted rows."""
    lists = raw.get("code_lists") or {}
    name = posted.get("options", "").strip()
    rows = _posted_options(posted, problems)
    if not name and rows:
        name = f.get("id") or "options"
        while name in lists and name != old.get("options"):
            name += "_1"
    _set(f, "options", name or None)
    if not name:
        return raw
    if name != old.get("options") and name in lists:
        return raw  # an existing list chosen: its options stay as they are
    if name in lists and _same_options(lists[name], rows):
        return raw
    return set_code_list(raw, name, rows)


def apply_step(raw: dict, step_id: str, posted: dict[str, str]) -> tuple[dict, Problems]:
    """The form with a step page's inputs (id, title, intro, condition) applied."""
    problems = Problems()
    old = step_of(raw, step_id)
    step = copy.deepcopy(old)
    new_id = posted.get("id", "").strip()
    _set(step, "id", new_id, same=old.get("id") == new_id)
    _set_text(step, "title", *_posted_text(posted, "title"))
    _set_text(step, "intro", *_posted_text(posted, "intro"))
    _set(step, "show_if", _posted_condition(raw, old.get("show_if"), posted, problems))
    return replace_step(raw, step_id, step), problems


def step_values(step: dict) -> dict[str, str]:
    title, intro = text_of(step.get("title")), text_of(step.get("intro"))
    return {
        "id": step.get("id", ""),
        "title_de": title[0],
        "title_en": title[1],
        "intro_de": intro[0],
        "intro_en": intro[1],
        **_condition_values(step.get("show_if")),
    }


def new_step(posted: dict[str, str]) -> dict:
    """A step with its first field, from the overview's "add a step" inputs."""
    title_de, title_en = _posted_text(posted, "title")
    label_de, label_en = _posted_text(posted, "label")
    return {
        "id": posted.get("step_id", "").strip(),
        "title": {"de": title_de, "en": title_en} if title_en else {"de": title_de},
        "fields": [
            {
                "id": posted.get("field_id", "").strip(),
                "type": posted.get("type", "text").strip(),
                "label": {"de": label_de, "en": label_en} if label_en else {"de": label_de},
            }
        ],
    }


# --------------------------------------------------------------------------- loader errors


def anchor_of(message: str, anchors: tuple[str, ...]) -> str:
    """The input a loader message is about (the first of ``anchors`` when none is named)."""
    tail = message.split(": ", 1)[-1]
    for pattern, anchor in (
        (r"unknown type", "type"),
        (r"duplicate (field|step) id|^id\b|\bid: ", "id"),
        (r"condition refers", "show_field"),
        (r"code list|options|choice field", "options"),
        (r"\bmin_items\b", "min_items"),
        (r"\bmax_items\b", "max_items"),
        (r"\baccept\b", "accept"),
        (r"\bnot_before\b", "not_before"),
        (r"\bderive_from\b", "derive_from"),
        (r"\bmax_years_ago\b", "max_years_ago"),
        (r"\bmax_length\b", "max_length"),
        (r"\bmax_size_mb\b", "max_size_mb"),
        (r"\bmax_files\b", "max_files"),
        (r"\btitle\b", "title_de"),
        (r"\blabel\b", "label_de"),
        (r"\bhint\b", "hint_de"),
        (r"has no fields|a group needs fields", "id"),
    ):
        if re.search(pattern, tail) and anchor in anchors:
            return anchor
    return anchors[0]
