"""Server-side validation, pure and deterministic: ``validate(definition, data)``
returns ``(clean, errors)``.

Raw input comes from an HTML form (strings) or an API (JSON values). Clean values are
JSON-serialisable: text as ``str``, dates as ISO ``"2026-05-14"``, yes/no as ``bool``,
integers as ``int``, IBAN and chip numbers as compact strings. Answers of fields or steps whose
condition does not hold are dropped, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import EmailNotValidError, validate_email
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from forms.conditions import holds, variables
from forms.messages import render
from forms.model import FieldDef, FormDefinition, StepDef, Text

# SEPA scheme countries (EPC list): IBANs outside it cannot be debited by a German creditor.
SEPA_COUNTRIES = frozenset(
    "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL "
    "PT RO SE SI SK SM VA".split()
)
_DATE_DE = re.compile(r"^\s*(\d{1,2})[./](\d{1,2})[./](\d{4})\s*$")  # 24.11.2026, 24/11/2026
_DATE_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_PHONE = re.compile(r"^\+?[0-9 ()/\-]{6,25}$")
# Characters nobody types on purpose and that change what is stored, shown or printed: controls
# (Unicode category Cc; PostgreSQL cannot store NUL at all), bidirectional embeddings,
# overrides, isolates and marks (with U+202E an address "04916 Herzberg" prints as
# "04916 grebzreH"), and lone surrogates (only JSON can send them). Long text keeps its tabs
# and line breaks.
_INVISIBLE = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_CONTROL_MULTILINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]")

Printable = Callable[[str], bool]
"""Whether a character can be printed on the documents (their fonts have a glyph for it)."""


@dataclass(frozen=True)
class FieldError:
    field: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "de") -> str:
        params = {k: v.get(lang) if isinstance(v, Text) else v for k, v in self.params.items()}
        return render(self.key, lang, **params)

    @property
    def anchor(self) -> str:
        """The id of the input to link to from the error summary."""
        return self.field.replace(".", "-")


class _Invalid(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "x" if any(_str(v) for v in value) else ""
    return str(value).strip()


_MONEY = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")  # 1.234,56 or 1234,5
_MONEY_DOT = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")  # 1234.56 (API, English)


def parse_decimal(text: str, places: int) -> Decimal:
    """German (1.234,56) or plain (1234.56) notation; at most ``places`` decimals."""
    compact = text.replace(" ", "").replace("\u00a0", "").replace("€", "")
    # A single dot is a thousands separator ("1.234") only where three decimals are not
    # allowed anyway; otherwise it is the decimal point, as in clean values ("0.125"), which
    # must parse back to themselves when stored answers are validated again.
    if _MONEY.fullmatch(compact) and not (
        compact.count(".") == 1
        and "," not in compact
        and (places >= 3 or len(compact.split(".")[1]) != 3)
    ):
        normal = compact.replace(".", "").replace(",", ".")
    elif _MONEY_DOT.fullmatch(compact):
        normal = compact.replace(",", "")
    else:
        raise _Invalid("decimal_invalid")
    try:
        value = Decimal(normal)
    except InvalidOperation:
        raise _Invalid("decimal_invalid") from None
    if -value.as_tuple().exponent > places:
        raise _Invalid("decimal_places", places=places)
    return value


def parse_date(text: str) -> date:
    m = _DATE_DE.match(text)
    try:
        if m:
            return date(int(m[3]), int(m[2]), int(m[1]))
        m = _DATE_ISO.match(text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    raise _Invalid("date_invalid")


def normalise_chip(text: str) -> str:
    """Strip spaces/dashes/dots; drop a leading 0 that some readers show as a 16th digit."""
    digits = re.sub(r"[\s\-.]", "", text)
    if len(digits) == 16 and digits.startswith("0"):
        digits = digits[1:]
    return digits


def check_text(
    path: str,
    label: Text,
    text: str,
    *,
    multiline: bool = False,
    printable: Printable | None = None,
) -> FieldError | None:
    """Whether free text that no form definition describes (the citizen's reply or reason, a
    clerk's comment, an administrator's setting or template) may be stored, by the rule every
    text answer of a form follows: None, or the error at ``path`` naming the first refused
    character (a control or bidirectional character; with ``printable``, one the documents
    cannot print). ``multiline`` text keeps tabs and line breaks."""
    try:
        _refuse_characters(text, multiline, printable)
    except _Invalid as exc:
        return FieldError(path, exc.key, {"label": label, **exc.params})
    return None


def _check_characters(f: FieldDef, text: str, printable: Printable | None) -> None:
    _refuse_characters(text, f.type == "textarea", printable)


def _refuse_characters(text: str, multiline: bool, printable: Printable | None) -> None:
    """Refuse invisible control characters and, with ``printable``, characters the documents
    cannot print (an emoji would come out as an empty box), naming the first one."""
    found = (_CONTROL_MULTILINE if multiline else _CONTROL).search(text)
    if found:
        raise _Invalid("char_control", code=f"U+{ord(found.group()):04X}")
    if printable is not None:
        for char in text:
            if char not in "\t\n\r" and not printable(char):
                raise _Invalid("char_unprintable", char=char, code=f"U+{ord(char):04X}")


def _coerce(f: FieldDef, raw: Any, d: FormDefinition, today: date) -> Any:
    """Turn one non-empty raw value into its clean value or raise _Invalid."""
    if f.type == "multichoice":
        values = raw if isinstance(raw, list | tuple) else [raw]
        allowed = [o.value for o in d.options(f)]
        chosen = {_str(v) for v in values if _str(v)}
        if chosen - set(allowed):
            raise _Invalid("choice_invalid")
        return [v for v in allowed if v in chosen]  # definition order, no duplicates
    if f.type == "file":
        files = raw if isinstance(raw, list | tuple) else [raw]
        if not all(
            isinstance(x, Mapping) and "id" in x and isinstance(x.get("filename"), str)
            for x in files
        ):  # the summary lists the file names
            raise _Invalid("file_invalid")
        if len(files) > f.max_files:
            raise _Invalid("file_count", max=f.max_files)
        return [dict(x) for x in files]
    text = _str(raw)
    if f.max_length and len(text) > f.max_length:
        raise _Invalid("too_long", max=f.max_length)
    match f.type:
        case "money" | "decimal":
            value = parse_decimal(text, 2 if f.type == "money" else 6)
            if f.min is not None and value < f.min:
                raise _Invalid("integer_min", min=f.min)
            if f.max is not None and value > f.max:
                raise _Invalid("integer_max", max=f.max)
            if f.type == "decimal":
                return str(value)
            try:
                return str(value.quantize(Decimal("0.01")))
            except InvalidOperation:  # more digits than the decimal context holds (28)
                raise _Invalid("decimal_invalid") from None
        case "text" | "textarea":
            return text
        case "integer":
            if not re.fullmatch(r"[+-]?\d+", text):
                raise _Invalid("integer_invalid")
            try:
                value = int(text)
            except ValueError:  # beyond Python's 4300-digit limit for int(str)
                raise _Invalid("integer_invalid") from None
            if f.min is not None and value < f.min:
                raise _Invalid("integer_min", min=f.min)
            if f.max is not None and value > f.max:
                raise _Invalid("integer_max", max=f.max)
            return value
        case "date":
            value = parse_date(text)
            if f.not_future and value > today:
                raise _Invalid("date_future")
            if f.max_years_ago is not None and _age_on(value, today) > f.max_years_ago:
                raise _Invalid("date_too_old", years=f.max_years_ago)
            return value.isoformat()
        case "yesno":
            lowered = text.lower()
            if lowered in ("yes", "true", "ja", "1"):
                return True
            if lowered in ("no", "false", "nein", "0"):
                return False
            raise _Invalid("choice_invalid")
        case "choice":
            if text not in {o.value for o in d.options(f)}:
                raise _Invalid("choice_invalid")
            return text
        case "confirm":
            if text.lower() in ("yes", "true", "on", "1", "ja"):
                return True
            raise _Invalid("required_confirm")
        case "email":
            try:
                return validate_email(text, check_deliverability=False).normalized
            except EmailNotValidError:
                raise _Invalid("email_invalid") from None
        case "phone":
            if not _PHONE.fullmatch(text) or sum(c.isdigit() for c in text) < 6:
                raise _Invalid("phone_invalid")
            return text
        case "postal_code":
            if not re.fullmatch(r"[0-9]{5}", text):  # ASCII only: \d also matches "０４９１６"
                raise _Invalid("postal_code_invalid")
            return text
        case "iban":
            try:
                iban = IBAN(text)
            except SchwiftyException:
                raise _Invalid("iban_invalid") from None
            if iban.country_code not in SEPA_COUNTRIES:
                raise _Invalid("iban_not_sepa")
            return iban.compact
        case "bic":
            try:
                return str(BIC(text.replace(" ", "")))
            except SchwiftyException:
                raise _Invalid("bic_invalid") from None
        case "chip":
            digits = normalise_chip(text)
            if not re.fullmatch(r"[0-9]{15}", digits):  # ASCII only, else uniqueness is bypassed
                raise _Invalid("chip_invalid")
            prefix = int(digits[:3])
            if prefix == 999:
                raise _Invalid("chip_test")
            if prefix == 0:
                raise _Invalid("chip_country")
            return digits
    raise _Invalid("choice_invalid")  # unreachable: types are checked at load


def _age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _is_required(f: FieldDef, answers: Mapping[str, Any]) -> bool:
    if isinstance(f.required, bool):
        return f.required
    return holds(f.required, dict(answers))


def validate_steps(
    definition: FormDefinition,
    steps: Iterable[StepDef],
    data: Mapping[str, Any],
    *,
    context: Mapping[str, Any] | None = None,
    today: date | None = None,
    lang: str = "de",
    printable: Printable | None = None,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate the given steps' fields in ``data``; ``context`` holds answers of other steps.

    Conditions see the context plus the clean answers so far, in definition order. With
    ``printable``, text answers must consist of characters the documents can print.
    """
    today = today or date.today()
    answers: dict[str, Any] = dict(context or {})
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for step in steps:
        if not holds(step.show_if, answers):
            continue
        for f in step.fields:
            answers.pop(f.id, None)
            if f.type == "info" or not holds(f.show_if, answers):
                continue
            if f.type == "group":
                value = _check_group(
                    definition, f, data.get(f.id), answers, errors, today, lang, printable
                )
            else:
                value = _check_field(
                    definition, f, f.id, data.get(f.id), answers, errors, today, lang, printable
                )
            if value is not None:
                clean[f.id] = value
                answers[f.id] = value
    return clean, errors


_REQUIRED_KEYS = {
    "yesno": "required_choice",
    "choice": "required_choice",
    "multichoice": "required_choice",
    "confirm": "required_confirm",
    "file": "required_file",
}


def _check_field(
    d: FormDefinition,
    f: FieldDef,
    path: str,
    raw: Any,
    answers: dict[str, Any],
    errors: list[FieldError],
    today: date,
    lang: str,
    printable: Printable | None = None,
) -> Any:
    """Validate one field; append errors; return the clean value or None (no answer)."""
    if _str(raw) == "" and f.type == "bic" and f.derive_from and answers.get(f.derive_from):
        derived = IBAN(answers[f.derive_from]).bic
        if derived:
            return str(derived)
        # Bank not in the registry: nothing to derive, so a required BIC is still missing.
    if _str(raw) == "":
        if _is_required(f, answers):
            errors.append(
                FieldError(path, _REQUIRED_KEYS.get(f.type, "required"), {"label": f.label})
            )
        return None
    try:
        if f.type not in ("file", "multichoice"):  # every text answer, whatever its type
            _check_characters(f, _str(raw), printable)
        value = _coerce(f, raw, d, today)
        _cross_checks(d, f, value, answers, today, lang)
    except _Invalid as exc:
        errors.append(FieldError(path, exc.key, {"label": f.label, **exc.params}))
        return None
    return value


def _check_group(
    d: FormDefinition,
    g: FieldDef,
    raw: Any,
    answers: dict[str, Any],
    errors: list[FieldError],
    today: date,
    lang: str,
    printable: Printable | None = None,
) -> list[dict] | None:
    """A repeatable group: a list of items, each validated like a small form."""
    items = [i for i in (raw if isinstance(raw, list | tuple) else []) if isinstance(i, Mapping)]
    # Ignore blank rows; keys that are no sub-field do not count (else an item of only such
    # keys would be stored as {} and vanish when the stored answers are validated again).
    items = [i for i in items if any(_str(i.get(sub.id)) for sub in g.fields)]
    required = _is_required(g, answers)
    minimum = max(g.min_items, 1 if required else 0)
    if len(items) < minimum:
        errors.append(FieldError(g.id, "group_min", {"label": g.label, "min": minimum}))
    if len(items) > g.max_items:
        errors.append(FieldError(g.id, "group_max", {"label": g.label, "max": g.max_items}))
        items = items[: g.max_items]
    clean_items = []
    for index, item in enumerate(items):
        scope = dict(answers)
        clean_item: dict[str, Any] = {}
        for sub in g.fields:
            if not holds(sub.show_if, scope):
                continue
            before = len(errors)
            path = f"{g.id}.{index}.{sub.id}"
            value = _check_field(
                d, sub, path, item.get(sub.id), scope, errors, today, lang, printable
            )
            # Say which entry: "Weitere Halterin oder weiterer Halter 2: Familienname".
            title = g.item_label or g.label
            named = Text(
                de=f"{title.de} {index + 1}: {sub.label.de}",
                en=f"{title.get('en')} {index + 1}: {sub.label.get('en')}",
            )
            errors[before:] = [
                FieldError(e.field, e.key, {**e.params, "label": named}) for e in errors[before:]
            ]
            if value is not None:
                clean_item[sub.id] = value
                scope[sub.id] = value
        clean_items.append(clean_item)
    return clean_items or None


def _cross_checks(
    d: FormDefinition, f: FieldDef, value: Any, answers: Mapping[str, Any], today: date, lang: str
) -> None:
    if f.not_before and answers.get(f.not_before):
        if value < answers[f.not_before]:  # ISO dates compare correctly as strings
            raise _Invalid("date_before", other=d.field(f.not_before).label)
    rule = f.min_age
    if rule and holds(rule.when, {**answers, f.id: value}):
        birth = value if rule.of is None else answers.get(rule.of)
        if birth and _age_on(date.fromisoformat(birth), today) < rule.years:
            if rule.message:
                raise _Invalid("custom", text=rule.message)
            raise _Invalid("min_age", years=rule.years)


def validate(
    definition: FormDefinition,
    data: Mapping[str, Any],
    *,
    today: date | None = None,
    lang: str = "de",
    printable: Printable | None = None,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate a whole filing; returns the clean answers of every asked field and all errors."""
    return validate_steps(
        definition, definition.steps, data, today=today, lang=lang, printable=printable
    )


def visible_steps(definition: FormDefinition, answers: Mapping[str, Any]) -> list[StepDef]:
    """Steps whose condition holds for ``answers`` (in order)."""
    return [s for s in definition.steps if holds(s.show_if, dict(answers))]


def prune(definition: FormDefinition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Drop answers of fields and steps that are no longer asked (e.g. after a change)."""
    kept: dict[str, Any] = {}
    for step in definition.steps:
        if not holds(step.show_if, kept):
            continue
        for f in step.fields:
            if f.id in answers and holds(f.show_if, kept):
                kept[f.id] = answers[f.id]
    return kept


def fields_to_render(step: StepDef, answers: Mapping[str, Any]) -> list:
    """Fields a step page shows: those whose condition holds on earlier answers, plus those
    that depend on answers in this same step (the page reveals them as the citizen answers)."""
    own = {f.id for f in step.fields}
    shown = []
    for f in step.fields:
        deps = variables(f.show_if)
        if deps & own or holds(f.show_if, dict(answers)):
            shown.append(f)
    return shown
