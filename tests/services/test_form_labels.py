"""What screen readers hear on every step of every built-in form, rendered as without
JavaScript (every conditional field shown, a repeatable group with two items): each form
control has its own accessible name, and every optional field says it is optional."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from services.procedures import registry
from services.web.i18n import gettext_for
from services.web.templating import env

STEP = env.from_string(
    '{% import "macros/forms.html" as forms with context %}'
    "{% for f in fields %}{% if f.type != 'info' %}"
    "{{ forms.field(f, definition, values, {}) }}{% endif %}{% endfor %}"
)


class Controls(HTMLParser):
    """Accessible names of the form controls: a text field's label, a radio group's legend
    (its options' labels name options, not controls)."""

    def __init__(self) -> None:
        super().__init__()
        self.fieldsets: list[str] = []  # class of each open fieldset
        self.capture: str | None = None  # "label" or "legend" while inside one
        self.text = ""
        self.target = ""
        self.labels: dict[str, str] = {}  # control id -> label text
        self.legends: list[str] = []  # legends of choice groups
        self.options: set[str] = set()  # ids of radios and checkboxes of a choice group

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "fieldset":
            self.fieldsets.append(a.get("class", ""))
        elif tag == "legend" and self.fieldsets and self.fieldsets[-1] == "fieldset":
            self.capture, self.text = "legend", ""
        elif tag == "label":
            self.capture, self.text, self.target = "label", "", a.get("for", "")
        elif tag == "input" and a.get("type") in ("radio", "checkbox"):
            if a.get("type") == "radio" or (self.fieldsets and self.fieldsets[-1] == "fieldset"):
                self.options.add(a.get("id", ""))

    def handle_endtag(self, tag):
        if tag == "fieldset":
            self.fieldsets.pop()
        elif tag == "legend" and self.capture == "legend":
            self.legends.append(" ".join(self.text.split()))
            self.capture = None
        elif tag == "label" and self.capture == "label":
            self.labels[self.target] = " ".join(self.text.split())
            self.capture = None

    def handle_data(self, data):
        if self.capture:
            self.text += data

    def names(self) -> list[str]:
        return [t for i, t in self.labels.items() if i not in self.options] + self.legends


def rendered_steps(lang: str):
    for proc in registry.all_procedures():
        form = proc.form
        # A repeatable group shows two items, as after "add another".
        groups = {f.id: [{}, {}] for s in form.steps for f in s.fields if f.type == "group"}
        for step in form.steps:
            html = STEP.render(
                fields=step.fields, definition=form, values=groups, lang=lang, _=gettext_for(lang)
            )
            yield proc, step, html


@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_form_control_has_its_own_accessible_name(lang):
    for proc, step, html in rendered_steps(lang):
        parser = Controls()
        parser.feed(html)
        names = parser.names()
        assert names, (proc.id, step.id)
        twice = sorted({n for n in names if names.count(n) > 1})
        assert twice == [], f"{proc.id}, step {step.id}: {twice}"


@pytest.mark.parametrize(
    ("lang", "markers"),
    [("de", ("(freiwillig)", "(empfohlen)")), ("en", ("(optional)", "(recommended)"))],
)
def test_every_optional_field_says_so(lang, markers):
    checked = 0
    for proc, step, html in rendered_steps(lang):
        parser = Controls()
        parser.feed(html)
        shown = set(parser.names())
        for f in step.fields:
            if f.required is False and f.type not in ("info", "group"):
                label = f.label.get(lang)
                name = next((n for n in shown if n.startswith(label)), None)
                assert name is not None, (proc.id, f.id)
                assert name.endswith(markers), f"{proc.id}, {f.id}: {name!r}"
                checked += 1
    assert checked >= 5  # phone, BIC, reduction_valid_until, refund fields ...
