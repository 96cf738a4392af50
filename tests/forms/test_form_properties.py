"""Property-based tests of the form engine: whatever a browser or an API client sends, every
field type answers with a validation error or a clean value, never an exception.

For each field type (except ``info``, which takes no answer) a one-step definition is fed
arbitrary values: text with control characters and odd unicode, very long strings, loosely
decoded bytes, numbers (nan, inf), None, booleans, and nested lists and dicts. Clean values
must be JSON-serialisable, must validate again to themselves (stored draft answers are
validated again when the filing is submitted), and must render in the summary and in the
form inputs. Type-specific properties check the formats citizens really type.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schwifty import IBAN

from forms import FormDefinition, parse_definition, summarize, validate
from forms.inputs import group_items, input_values, raw_from_form
from forms.model import FIELD_TYPES
from forms.summary import display
from forms.validate import normalise_chip

TODAY = date(2026, 5, 14)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

CODES = ["red", "green", "blue"]
CODE_LIST = [
    {"value": "red", "label": "Rot"},
    {"value": "green", "label": {"de": "Grün", "en": "Green"}},
    {"value": "blue", "label": {"de": "Blau", "en": "Blue"}},
]
GROUP_SUBS = ("name", "born")

# Cases: (name, field definition without id/label). The target field's id is always "answer".
CASES: dict[str, dict[str, Any]] = {
    "text": {"type": "text"},
    "text_max_length": {"type": "text", "max_length": 20},
    "textarea": {"type": "textarea", "max_length": 2000},
    "integer": {"type": "integer"},
    "integer_bounds": {"type": "integer", "min": -5, "max": 1000},
    "date": {"type": "date"},
    "date_future_allowed": {"type": "date", "not_future": False},
    "yesno": {"type": "yesno"},
    "choice": {"type": "choice", "options": "colours"},
    "choice_select": {"type": "choice", "options": "colours", "widget": "select"},
    "email": {"type": "email", "max_length": 254},
    "phone": {"type": "phone"},
    "postal_code": {"type": "postal_code"},
    "iban": {"type": "iban"},
    "bic": {"type": "bic"},
    "bic_derived": {"type": "bic", "derive_from": "account"},  # an earlier iban field
    "chip": {"type": "chip"},
    "confirm": {"type": "confirm"},
    "money": {"type": "money"},
    "money_bounds": {"type": "money", "min": 0, "max": 10000},
    "decimal": {"type": "decimal"},
    "multichoice": {"type": "multichoice", "options": "colours"},
    "file": {"type": "file"},
    "file_small": {"type": "file", "max_files": 2, "accept": ["application/pdf"]},
    "group": {
        "type": "group",
        "max_items": 3,
        "item_label": {"de": "Eintrag", "en": "Entry"},
        "fields": [
            {"id": "name", "type": "text", "label": "Name", "required": True, "max_length": 40},
            {"id": "born", "type": "date", "label": {"de": "Geboren", "en": "Born"}},
        ],
    },
    "group_optional": {
        "type": "group",
        "fields": [
            {"id": "name", "type": "text", "label": "Name"},
            {"id": "born", "type": "date", "label": "Geboren"},
        ],
    },
}
assert {spec["type"] for spec in CASES.values()} == set(FIELD_TYPES) - {"info"}


def make_definition(case: str, required: bool) -> FormDefinition:
    fields: list[dict[str, Any]] = []
    if case == "bic_derived":
        fields.append({"id": "account", "type": "iban", "label": "IBAN"})
    fields.append(
        {
            "id": "answer",
            "label": {"de": "Antwort", "en": "Answer"},
            "required": required,
            **CASES[case],
        }
    )
    fields.append({"id": "note", "type": "info", "label": "Hinweis"})
    return parse_definition(
        {
            "id": f"prop_{case}",
            "version": 1,
            "title": "Eigenschaften",
            "code_lists": {"colours": CODE_LIST},
            "steps": [{"id": "only", "title": "Schritt", "fields": fields}],
        }
    )


DEFINITIONS = {(c, r): make_definition(c, r) for c in CASES for r in (False, True)}


# --- strategies -------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(),  # every code point except surrogates: control chars, combining marks, RTL, ...
    st.text(st.characters(codec="ascii")),
    st.text(alphabet=" \t\n\r\x00\x0b\x0c\u00a0\u2007\u202f\u200b\ufeff\u2028"),
    st.text(alphabet="0123456789 .,-+/€()"),
    st.text(alphabet="٠١٢٣٤٥٦٧٨٩０１２３４５６７８９𝟎𝟏.,-"),  # non-ASCII digits
    st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary().map(lambda b: b.decode("latin-1")),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(200, 3000)),
    st.integers(4000, 6000).map(lambda n: "1" * n),  # beyond int()'s 4300-digit limit
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),  # includes nan, inf, -inf, -0.0
    st.decimals(),  # includes NaN, sNaN, Infinity
    odd_text,
)
nested = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
anything = st.one_of(scalars, nested)


def fmt_date(d: date, style: int) -> str:
    return (
        d.isoformat(),
        d.strftime("%d.%m.") + f"{d.year:04d}",
        f"{d.day}.{d.month}.{d.year:04d}",
        d.strftime("%d/%m/") + f"{d.year:04d}",
    )[style]


dates_text = st.builds(fmt_date, st.dates(), st.integers(0, 3))
ibans = st.builds(
    lambda bank, account: IBAN.generate("DE", bank_code=bank, account_code=account),
    st.from_regex(r"[0-9]{8}", fullmatch=True),
    st.from_regex(r"[0-9]{1,10}", fullmatch=True),
)
valid_ibans_text = st.one_of(
    ibans.map(str),
    ibans.map(lambda i: i.compact.lower()),
    st.sampled_from(
        [
            "DE89 3704 0044 0532 0130 00",
            "AT611904300234573201",
            "GB29NWBK60161331926819",
            "BR1500000000000010932840814P2",
            "SA0380000000608010167519",
        ]
    ),  # non-SEPA ones too
)
bics = st.one_of(
    st.sampled_from(["COBADEFFXXX", "COBADEFF", "WELADED1EES", "deutdeff", "DEUT DE FF 500"]),
    st.from_regex(r"[A-Z]{4}(DE|AT|FR|XX)[A-Z0-9]{2}([A-Z0-9]{3})?", fullmatch=True),
)
chips = st.from_regex(r"[0-9]{15,16}", fullmatch=True)
amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False)
amounts_text = st.one_of(
    amounts.map(str),
    amounts.map(lambda a: f"{a:,}"),
    amounts.map(lambda a: f"{a:,}".replace(",", "_").replace(".", ",").replace("_", ".")),
    st.from_regex(r"[+-]?[0-9]{1,40}([.,][0-9]{1,8})?", fullmatch=True),
)
descriptors = st.fixed_dictionaries(
    {"id": st.integers(1, 10**6), "filename": st.text(max_size=30)},
    optional={
        "media_type": st.sampled_from(["application/pdf", "image/png"]),
        "size": st.integers(0, 10**8),
        "sha256": st.text("0123456789abcdef", max_size=64),
        "extra": nested,
    },
)
file_values = st.one_of(
    st.lists(descriptors, max_size=7),
    descriptors,
    st.lists(st.dictionaries(st.sampled_from(["id", "filename", "size"]), anything), max_size=4),
)
group_item = st.dictionaries(
    st.sampled_from([*GROUP_SUBS, "other", ""]),
    st.one_of(odd_text, dates_text, st.none(), anything),
    max_size=4,
)
group_values = st.one_of(
    st.lists(group_item, max_size=6),
    st.lists(st.one_of(group_item, anything), max_size=4),
)

SHAPED: dict[str, st.SearchStrategy] = {
    "text": odd_text,
    "textarea": odd_text,
    "integer": st.one_of(
        st.integers().map(str), st.integers(-10, 2000).map(lambda i: f"  {i:+d} ")
    ),
    "date": st.one_of(
        dates_text, st.from_regex(r"\s*\d{1,2}[./]\d{1,2}[./]\d{4}\s*", fullmatch=True)
    ),
    "yesno": st.sampled_from(["yes", "no", "Ja", "NEIN", "true", "False", "1", "0", "on", "x"]),
    "choice": st.sampled_from([*CODES, "Red", " red ", "purple", ""]),
    "email": st.one_of(st.emails(), st.emails().map(str.upper)),
    "phone": st.from_regex(r"\+?[0-9 ()/\-]{4,30}", fullmatch=True),
    "postal_code": st.from_regex(r"\s?[0-9]{4,6}\s?", fullmatch=True),
    "iban": valid_ibans_text,
    "bic": bics,
    "chip": chips,
    "confirm": st.sampled_from(["yes", "on", "1", "ja", "no", "off", ""]),
    "money": amounts_text,
    "decimal": amounts_text,
    "multichoice": st.lists(st.sampled_from([*CODES, "", "purple"]), max_size=5),
    "file": file_values,
    "group": group_values,
}


# Answers a citizen could really give (for the round trip through the form inputs).
VALID_SHAPED = {
    **SHAPED,
    "group": st.lists(
        st.fixed_dictionaries(
            {"name": st.text(min_size=1, max_size=40).filter(str.strip)},
            optional={"born": st.builds(fmt_date, st.dates(max_value=TODAY), st.integers(0, 3))},
        ),
        max_size=3,
    ),
}


def values_for(case: str) -> st.SearchStrategy:
    # Half shaped like the type's real answers (so clean values are reached often), half
    # arbitrary. (A plain one_of would flatten ``anything`` into many equal branches.)
    shaped = SHAPED[CASES[case]["type"]]
    return st.booleans().flatmap(lambda real: shaped if real else anything)


# --- helpers ----------------------------------------------------------------------------------


def check_errors(errors: list, allowed: set[str]) -> None:
    for e in errors:
        assert e.field.split(".")[0] in allowed, e
        for lang in ("de", "en"):
            text = e.message(lang)
            assert isinstance(text, str) and text.strip(), (e, lang)
            assert "{" not in text, (e, lang, text)  # every placeholder filled


def check_renders(d: FormDefinition, clean: dict[str, Any]) -> None:
    for lang in ("de", "en"):
        for mask in (False, True):
            for section in summarize(d, clean, lang, mask=mask):
                for row in section.rows:
                    assert isinstance(row.value, str)
        values = input_values(d, clean, lang)
        assert set(values) == set(clean)


def is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def blank(value: Any) -> bool:
    """What the engine treats as no answer (mirrors forms.validate._str)."""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, list | tuple):
        return not any(not blank(v) for v in value)
    return str(value).strip() == ""


# --- 1. every field type: an error or a clean, idempotent value -----------------------------


@pytest.mark.parametrize("required", [False, True], ids=["optional", "required"])
@pytest.mark.parametrize("case", list(CASES))
@FAST
@given(data=st.data())
def test_any_value_gives_error_or_clean_value(case: str, required: bool, data: st.DataObject):
    d = DEFINITIONS[case, required]
    ftype = CASES[case]["type"]
    raw: dict[str, Any] = {"answer": data.draw(values_for(case), label="answer")}
    if case == "bic_derived":
        raw["account"] = data.draw(
            st.sampled_from([0, 1, 2]).flatmap(
                lambda kind: (valid_ibans_text, st.just(""), anything)[kind]
            )
        )

    clean, errors = validate(d, raw, today=TODAY)

    check_errors(errors, {"answer", "account"})
    mine = [e for e in errors if e.field.split(".")[0] == "answer"]
    assert set(clean) <= {"answer", "account"}
    if ftype == "group":
        # A group reports item errors and still keeps the valid parts of the items.
        pass
    else:
        assert not ("answer" in clean and mine), (clean, mine)
        if "answer" not in clean and not mine:
            # No answer: only when nothing was given (or a derived BIC had nothing to go on).
            assert blank(raw["answer"]) and (not required or case == "bic_derived")
    if required and ftype != "group":
        assert "answer" in clean or mine

    if ftype == "file":
        # File descriptors are passed through as the server built them (filled from the stored
        # uploads, never from the posted form): the engine checks their shape (id, filename
        # as text) but keeps their other contents as given. So the clean value is JSON exactly
        # when the descriptors were.
        if "answer" in clean:
            given_files = raw["answer"] if isinstance(raw["answer"], list) else [raw["answer"]]
            assert clean["answer"] == [dict(x) for x in given_files]
            assert all(isinstance(x["filename"], str) for x in clean["answer"])
        if is_json(raw["answer"]):
            json.dumps(clean)
    else:
        json.dumps(clean, allow_nan=False)  # strict JSON: no NaN or Infinity either
    if ftype == "multichoice" and "answer" in clean:
        assert clean["answer"] and set(clean["answer"]) <= set(CODES)
        assert clean["answer"] == [c for c in CODES if c in clean["answer"]]

    # Idempotence: stored clean answers are validated again on submit and must not change.
    # (Only when the input was accepted as a whole: a group keeps valid items beside errors.)
    if not errors:
        again, errors_again = validate(d, clean, today=TODAY)
        assert errors_again == []
        assert again == clean
    elif ftype == "group" and "answer" in clean:
        # What holds for a group with errors: the kept items have only clean sub-answers,
        # which are themselves stable.
        for item in clean["answer"]:
            assert set(item) <= set(GROUP_SUBS)

    check_renders(d, clean)


# --- 2. summary, inputs and the posted form never raise ----------------------------------------


class FakeForm:
    """A posted form: any ``getlist``/``keys`` mapping (as starlette's FormData)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def getlist(self, key: str) -> list[Any]:
        return [v for k, v in self.pairs if k == key]

    def keys(self):
        return list(dict.fromkeys(k for k, _ in self.pairs))


form_keys = st.one_of(
    st.sampled_from(
        [
            "answer",
            "account",
            "note",
            "answer.0.name",
            "answer.1.born",
            "answer.99.name",
            "answer.0.other",
            "answer.x.name",
            "answer.٣.name",
            "answer.0.name\n",
            "answer.00.born",
        ]
    ),
    st.from_regex(r"answer\.[0-9]{1,3}\.(name|born|[a-z]{1,5})", fullmatch=True),
    st.text(max_size=20),
)
form_values = st.one_of(
    odd_text, st.none(), st.integers(), st.binary(max_size=10), st.builds(object)
)


@pytest.mark.parametrize("case", list(CASES))
@QUICK
@given(pairs=st.lists(st.tuples(form_keys, form_values), max_size=12))
def test_raw_from_form_never_raises(case: str, pairs: list[tuple[str, Any]]):
    d = DEFINITIONS[case, True]
    fields = d.steps[0].fields
    raw = raw_from_form(fields, FakeForm(pairs))
    for f in fields:
        if f.type == "file":
            assert f.id not in raw
        elif f.type == "multichoice":
            assert all(isinstance(v, str) for v in raw[f.id])
        elif f.type == "group":
            assert len(raw[f.id]) <= f.max_items + 1
            for item in raw[f.id]:
                assert set(item) <= set(GROUP_SUBS)
                assert all(isinstance(v, str) for v in item.values())
        else:
            assert isinstance(raw[f.id], str)
    # and what the form yields validates without raising
    clean, errors = validate(d, raw, today=TODAY)
    check_errors(errors, {"answer", "account"})
    check_renders(d, clean)


def test_raw_from_form_with_starlette_formdata():
    from starlette.datastructures import FormData

    d = DEFINITIONS["group", True]
    form = FormData(
        [
            ("answer.1.name", "Bo"),
            ("answer.0.name", "Al"),
            ("answer.0.born", "1.2.2000"),
            ("answer.0.name", "second"),
            ("answer.0.x", "y"),
        ]
    )
    assert group_items(d.field("answer"), form) == [
        {"name": "Al", "born": "1.2.2000"},
        {"name": "Bo"},
    ]
    clean, errors = validate(d, raw_from_form(d.steps[0].fields, form), today=TODAY)
    assert errors == []
    assert clean == {"answer": [{"name": "Al", "born": "2000-02-01"}, {"name": "Bo"}]}


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c]["type"] != "file"])
@QUICK
@given(data=st.data())
def test_inputs_post_back_to_the_same_answer(case: str, data: st.DataObject):
    """What the form shows for a stored answer, posted again, gives that answer back.
    (File fields are left out: uploads are never posted back as text.)"""
    d = DEFINITIONS[case, False]
    ftype = CASES[case]["type"]
    raw = {"answer": data.draw(VALID_SHAPED[ftype])}
    clean, errors = validate(d, raw, today=TODAY)
    assume(not errors and "answer" in clean)
    for lang in ("de", "en"):
        shown = input_values(d, clean, lang)
        again, errors_again = validate(d, shown, today=TODAY)
        assert errors_again == [], (lang, shown)
        assert again == clean, (lang, shown)


# --- 3. type-specific properties ---------------------------------------------------------------


def one(case: str, value: Any, required: bool = True) -> tuple[Any, list]:
    clean, errors = validate(DEFINITIONS[case, required], {"answer": value}, today=TODAY)
    return clean.get("answer"), errors


chip_prefix = st.one_of(st.integers(1, 899), st.integers(900, 998)).map(lambda p: f"{p:03d}")


@FAST
@given(prefix=chip_prefix, rest=st.from_regex(r"[0-9]{12}", fullmatch=True))
def test_chip_accepts_every_country_and_manufacturer_code(prefix: str, rest: str):
    chip = prefix + rest
    assert normalise_chip(chip) == chip
    assert one("chip", chip) == (chip, [])


@FAST
@given(
    prefix=chip_prefix,
    rest=st.from_regex(r"[0-9]{12}", fullmatch=True),
    cuts=st.lists(st.tuples(st.integers(0, 15), st.sampled_from([" ", "-", "  ", " - ", "."]))),
)
def test_chip_with_separators_normalises_to_the_digits(prefix, rest, cuts):
    chip = prefix + rest
    text = chip
    for position, sep in sorted(cuts, reverse=True):
        text = text[:position] + sep + text[position:]
    assert normalise_chip(text) == chip
    assert one("chip", text) == (chip, [])


@FAST
@given(rest=st.from_regex(r"[0-9]{12}", fullmatch=True), prefix=st.sampled_from(["000", "999"]))
def test_chip_refuses_zero_and_test_codes(prefix, rest):
    value, errors = one("chip", prefix + rest)
    assert value is None and [e.key for e in errors] == [
        "chip_country" if prefix == "000" else "chip_test"
    ]


@FAST
@given(
    text=st.one_of(
        st.from_regex(r"[0-9]{5}", fullmatch=True),
        st.text(max_size=7),
        st.from_regex(r"[0-9٠-٩０-９]{4,6}", fullmatch=True),
    )
)
def test_postal_code_accepts_exactly_five_ascii_digits(text: str):
    assume(text == text.strip())  # surrounding whitespace is stripped, as for every field
    value, errors = one("postal_code", text)
    if re.fullmatch(r"[0-9]{5}", text):
        assert (value, errors) == (text, [])
    else:
        assert value is None and len(errors) == 1


def german(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


@FAST
@given(amount=st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_money_german_and_english_notation_give_the_same_amount(amount: Decimal):
    expected = str(amount.quantize(Decimal("0.01")))
    for text in (german(amount), f"{amount:.2f}", f"{amount:,.2f}", str(amount)):
        assert one("money", text) == (expected, []), text
    assert one("money", german(amount) + " €") == (expected, [])


@FAST
@given(amount=st.decimals(min_value=-(10**12), max_value=10**12, places=3, allow_nan=False))
def test_money_refuses_more_than_two_places(amount: Decimal):
    assume(amount != amount.quantize(Decimal("0.01")))
    value, errors = one("money", f"{amount:.3f}".replace(".", ","))
    assert value is None and [e.key for e in errors] == ["decimal_places"]


@FAST
@given(amount=st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False))
def test_decimal_plain_notation_is_kept_exactly(amount: Decimal):
    value, errors = one("decimal", str(amount))
    assert errors == [] and Decimal(value) == amount
    assert one("decimal", value) == (value, [])


@FAST
@given(day=st.dates(max_value=TODAY))
def test_date_accepts_every_real_date_up_to_today(day: date):
    for text in (f"{day.day:02d}.{day.month:02d}.{day.year:04d}", day.isoformat()):
        assert one("date", text) == (day.isoformat(), []), text


@FAST
@given(day=st.dates(min_value=date(2026, 5, 15)))
def test_date_refuses_the_future_unless_allowed(day: date):
    text = f"{day.day:02d}.{day.month:02d}.{day.year:04d}"
    value, errors = one("date", text)
    assert value is None and [e.key for e in errors] == ["date_future"]
    assert one("date_future_allowed", text) == (day.isoformat(), [])


@FAST
@given(iban=ibans, style=st.sampled_from(["compact", "grouped", "lower"]))
def test_iban_accepts_every_generated_german_iban(iban: IBAN, style: str):
    text = {"compact": iban.compact, "grouped": iban.formatted, "lower": iban.formatted.lower()}
    assert one("iban", text[style]) == (iban.compact, [])


@FAST
@given(iban=ibans)
def test_bic_is_derived_from_the_iban_or_left_out(iban: IBAN):
    d = DEFINITIONS["bic_derived", False]
    clean, errors = validate(d, {"account": iban.formatted, "answer": ""}, today=TODAY)
    assert errors == []
    assert clean["account"] == iban.compact
    assert clean.get("answer") == (str(iban.bic) if iban.bic else None)


@FAST
@given(number=st.integers(-(10**30), 10**30))
def test_integer_accepts_whole_numbers(number: int):
    assert one("integer", str(number)) == (number, [])
    assert one("integer", f" {number} ") == (number, [])


@QUICK
@given(email=st.emails())
def test_email_clean_value_is_stable(email: str):
    value, errors = one("email", email)
    if not errors:
        assert one("email", value) == (value, [])


def test_every_value_kind_is_json_serialisable_in_a_sample():
    """A fixed smoke sample, so a failure here names the value kind at once."""
    for case in CASES:
        for value in (
            None,
            True,
            False,
            0,
            -1,
            1.5,
            math.nan,
            math.inf,
            "",
            " ",
            "\x00",
            [],
            {},
            [[]],
            [{}],
            {"a": [1, {"b": None}]},
            "1" * 5000,
            "١٢٣",
        ):
            for required in (False, True):
                d = DEFINITIONS[case, required]
                clean, errors = validate(d, {"answer": value}, today=TODAY)
                json.dumps(clean, allow_nan=False)
                check_errors(errors, {"answer", "account"})
                check_renders(d, clean)
                for section in summarize(d, clean):
                    for row in section.rows:
                        display(d, d.field(row.field), clean[row.field])


# --- regressions found by the properties above ---------------------------------------------------


def test_regression_integer_beyond_python_digit_limit_is_an_error():
    value, errors = one("integer", "1" * 5000)
    assert value is None and [e.key for e in errors] == ["integer_invalid"]


def test_regression_money_beyond_decimal_precision_is_an_error():
    value, errors = one("money", "1" + "0" * 30)
    assert value is None and [e.key for e in errors] == ["decimal_invalid"]


@pytest.mark.parametrize("text", ["0,000", "1,234", "-12,5", "0.125", "1.234"])
def test_regression_decimal_clean_value_parses_back_to_itself(text: str):
    value, errors = one("decimal", text)
    assert errors == [] and one("decimal", value) == (value, [])
    assert Decimal(value) == Decimal(text.replace(",", "."))  # one separator: decimal point


def test_money_single_dot_with_three_digits_is_still_thousands():
    assert one("money", "1.234") == ("1234.00", [])


def test_regression_required_bic_without_derivable_bank_is_missing():
    d = DEFINITIONS["bic_derived", True]
    clean, errors = validate(d, {"account": "DE36000000000000000000", "answer": ""}, today=TODAY)
    assert "answer" not in clean and [(e.field, e.key) for e in errors] == [("answer", "required")]


def test_regression_group_row_of_unknown_keys_is_blank():
    d = DEFINITIONS["group_optional", True]
    clean, errors = validate(d, {"answer": [{"other": "x"}, {"name": "Al"}]}, today=TODAY)
    assert (clean, errors) == ({"answer": [{"name": "Al"}]}, [])
    assert validate(d, clean, today=TODAY) == (clean, [])


def test_regression_file_descriptor_needs_a_text_filename():
    value, errors = one("file", [{"id": 1, "filename": 7}])
    assert value is None and [e.key for e in errors] == ["file_invalid"]
