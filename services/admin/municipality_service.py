"""Municipality settings and dog-tax rate tables, as administrators edit them: parse and check
the posted form (every problem listed, in German), then save with an admin audit event that
holds the changed fields only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlmodel import Session, select

from forms import check_text
from forms.model import Text
from services.accounts.models import StaffUser
from services.audit.service import record_admin
from services.db import parse_int
from services.documents.fonts import printable
from services.municipalities.models import DogTaxRateTable, Municipality
from services.procedures.dog_tax import DEFAULT_DUE_DATES, RateTable
from services.procedures.registry import get as get_procedure
from services.uploads.sniff import JPEG, PNG, sniff

MAX_LOGO_BYTES = 200 * 1024
MIN_YEAR, MAX_YEAR = 2000, 2100

# Editable settings: (field, label, required, max length), in form order.
SETTINGS_FIELDS: tuple[tuple[str, str, bool, int], ...] = (
    ("name", "Name der Gemeinde", True, 120),
    ("authority", "Behörde (Briefkopf)", True, 120),
    ("department", "Organisationseinheit", True, 120),
    ("street", "Straße und Hausnummer", True, 120),
    ("postal_code", "Postleitzahl", True, 5),
    ("town", "Ort", True, 120),
    ("phone", "Telefon", False, 60),
    ("email", "E-Mail-Adresse", False, 254),
    ("website", "Internetadresse", False, 200),
    ("office_hours", "Sprechzeiten", False, 300),
    ("bank_name", "Kreditinstitut", False, 120),
    ("iban", "IBAN", False, 34),
    ("bic", "BIC", False, 11),
    ("creditor_id", "Gläubiger-Identifikationsnummer", False, 35),
    ("case_prefix", "Kürzel der Vorgangsnummern", True, 8),
)
LABELS = {name: label for name, label, _, _ in SETTINGS_FIELDS}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTAL_CODE = re.compile(r"^\d{5}$")
_CASE_PREFIX = re.compile(r"^[A-Z]{2,8}$")
# SEPA creditor identifier: country, 2 check digits, 3-character business code, national id
# (Germany: 11 digits, e.g. DE98ZZZ09999999999).
_CREDITOR_DE = re.compile(r"^DE\d{2}[A-Z0-9]{3}\d{11}$")
_CREDITOR_OTHER = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{3}[A-Z0-9]{1,28}$")


@dataclass
class FormProblems:
    """Problems of one posted form: (anchor id, message) in form order."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, anchor: str, message: str) -> None:
        self.items.append((anchor, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def at(self) -> dict[str, str]:
        """The first message per field, shown at the field."""
        first: dict[str, str] = {}
        for anchor, message in self.items:
            first.setdefault(anchor, message)
        return first


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def settings_values(m: Municipality) -> dict[str, str]:
    return {name: getattr(m, name) or "" for name, *_ in SETTINGS_FIELDS}


def check_settings(form: dict[str, str]) -> tuple[dict[str, str], FormProblems]:
    """Clean the posted settings; returns (values, problems)."""
    values: dict[str, str] = {}
    problems = FormProblems()
    for name, label, required, max_length in SETTINGS_FIELDS:
        text = " ".join(str(form.get(name, "")).split())
        if name in ("iban", "bic", "creditor_id", "case_prefix"):
            text = _compact(text)
        values[name] = text
        if refused := check_text(name, Text(de=label), text, printable=printable):
            problems.add(name, refused.message("de"))
            continue
        if required and not text:
            problems.add(name, f"Geben Sie „{label}“ an.")
            continue
        if len(text) > max_length:
            problems.add(name, f"„{label}“ darf höchstens {max_length} Zeichen lang sein.")
            continue
        if not text:
            continue
        if name == "postal_code" and not _POSTAL_CODE.match(text):
            problems.add(name, "Die Postleitzahl muss aus fünf Ziffern bestehen, z. B. 04916.")
        elif name == "email" and not _EMAIL.match(text):
            problems.add(name, "Geben Sie eine E-Mail-Adresse im Format name@beispiel.de an.")
        elif name == "case_prefix" and not _CASE_PREFIX.match(text):
            problems.add(
                name,
                "Das Kürzel muss aus 2 bis 8 Großbuchstaben ohne Umlaute bestehen, z. B. HST.",
            )
        elif name == "iban":
            try:
                values[name] = IBAN(text).compact
            except SchwiftyException:
                problems.add(
                    name,
                    "Die IBAN ist ungültig. Prüfen Sie Länge und Prüfziffer, "
                    "z. B. DE89 3704 0044 0532 0130 00.",
                )
        elif name == "bic":
            try:
                values[name] = str(BIC(text))
            except SchwiftyException:
                problems.add(name, "Die BIC ist ungültig (8 oder 11 Zeichen, z. B. WELADED1EES).")
        elif name == "creditor_id":
            pattern = _CREDITOR_DE if text.startswith("DE") else _CREDITOR_OTHER
            if not pattern.match(text):
                problems.add(
                    name,
                    "Die Gläubiger-Identifikationsnummer hat nicht das Format DEkkZZZ und "
                    "11 Ziffern (z. B. DE98ZZZ09999999999).",
                )
    if values.get("iban") and not problems.at.get("iban") and values.get("bic"):
        try:
            derived = IBAN(values["iban"]).bic
        except SchwiftyException:
            derived = None
        if derived is not None and str(derived)[:8] != values["bic"][:8]:
            problems.add("bic", f"Die BIC passt nicht zur IBAN (erwartet: {derived}).")
    return values, problems


def check_logo(content: bytes) -> tuple[str | None, str | None]:
    """(media type, problem) of an uploaded logo: PNG or JPEG by content, at most 200 KB."""
    if not content:
        return None, "Die ausgewählte Datei ist leer."
    if len(content) > MAX_LOGO_BYTES:
        return None, "Das Logo darf höchstens 200 KB groß sein."
    media_type = sniff(content)
    if media_type not in (PNG, JPEG):
        return None, "Das Logo muss eine PNG- oder JPEG-Datei sein."
    return media_type, None


def _logo_summary(content: bytes | None, media_type: str) -> dict[str, Any] | None:
    if not content:
        return None
    return {
        "media_type": media_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def save_settings(
    db: Session,
    m: Municipality,
    admin: StaffUser,
    values: dict[str, str],
    *,
    logo: tuple[bytes, str] | None = None,
    remove_logo: bool = False,
) -> list[str]:
    """Apply the checked values; one admin event with the changed fields. Returns the
    labels of what changed (empty: nothing to save)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        old = getattr(m, name) or ""
        if old != value:
            before[name], after[name] = old, value
            setattr(m, name, value)
    old_logo = _logo_summary(m.logo, m.logo_media_type)
    if logo is not None:
        m.logo, m.logo_media_type = logo
    elif remove_logo:
        m.logo, m.logo_media_type = None, ""
    new_logo = _logo_summary(m.logo, m.logo_media_type)
    if old_logo != new_logo:
        before["logo"], after["logo"] = old_logo, new_logo
    if not after and not before:
        return []
    db.add(m)
    record_admin(
        db,
        municipality_id=m.id,
        actor_id=admin.id,
        actor_name=admin.display_name,
        action="municipality_updated",
        target="municipality",
        before=before,
        after=after,
    )
    return [LABELS.get(name, "Logo") for name in after]


# --------------------------------------------------------------------------- rate tables


def reduction_reasons() -> list[tuple[str, str]]:
    """(code, German label) of the dog registration form's reduction reasons."""
    form = get_procedure("dog_registration").form
    return [(o.value, o.label.de) for o in form.code_lists["reduction_reason"]]


def tables_of(db: Session, municipality_id: int) -> list[DogTaxRateTable]:
    return list(
        db.exec(
            select(DogTaxRateTable)
            .where(DogTaxRateTable.municipality_id == municipality_id)
            .order_by(DogTaxRateTable.year.desc())
        )
    )


def table_for(db: Session, municipality_id: int, year: int) -> DogTaxRateTable | None:
    return db.exec(
        select(DogTaxRateTable).where(
            DogTaxRateTable.municipality_id == municipality_id, DogTaxRateTable.year == year
        )
    ).first()


def _amount_text(value: Any) -> str:
    """Stored amount "36.00" -> form text "36,00"."""
    return str(value).replace(".", ",")


def table_form_values(data: dict | None, year: int) -> dict[str, Any]:
    """The form's values for a stored table (or defaults for a new year)."""
    data = data or {}
    reductions = data.get("reductions") or {}
    values: dict[str, Any] = {
        "model": data.get("model", "by_count"),
        "rates": "\n".join(_amount_text(r) for r in data.get("rates", [])),
        "dangerous_rate": _amount_text(data.get("dangerous_rate", "")),
        "due_dates": ", ".join(
            f"{int(d):02d}.{int(m):02d}." for m, d in data.get("due_dates", DEFAULT_DUE_DATES)
        ),
        "counts_dangerous": bool(data.get("counts_dangerous")),
        "counts_exempt": bool(data.get("counts_exempt")),
    }
    for code, _ in reduction_reasons():
        rule = reductions.get(code) or {}
        values[f"reduction_{code}_percent"] = _amount_text(rule.get("percent", ""))
        values[f"reduction_{code}_months"] = str(rule.get("months") or "")
    return values


def _parse_amount(text: str) -> Decimal | None:
    """German or English decimal: "36", "36,00", "1.234,50", "36.00"; None if not a number."""
    t = text.strip().replace("€", "").replace(" ", "")
    if not t:
        return None
    if "," in t:
        t = t.replace(".", "").replace(",", ".")
    if not re.fullmatch(r"\d+(\.\d+)?", t):
        return None
    try:
        return Decimal(t)
    except InvalidOperation:
        return None


def _money_text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _percent_text(value: Decimal) -> str:
    """50 -> "50", 12.50 -> "12.5" (as the demo tables store percentages)."""
    return format(value.normalize(), "f")


def check_table(form: dict[str, Any], year: int) -> tuple[dict[str, Any], FormProblems]:
    """Build a rate table's data from the posted form, checked field by field and then by
    RateTable.from_dict; returns (data, problems)."""
    problems = FormProblems()
    model = str(form.get("model", ""))
    if model not in ("by_count", "by_order"):
        problems.add(
            "model", "Wählen Sie, wie sich der Steuersatz nach der Zahl der Hunde richtet."
        )

    rates: list[str] = []
    lines = [ln for ln in re.split(r"[\n;]+", str(form.get("rates", ""))) if ln.strip()]
    if not lines:
        problems.add("rates", "Geben Sie mindestens einen Steuersatz an (einen je Zeile).")
    for i, line in enumerate(lines, start=1):
        amount = _parse_amount(line)
        if amount is None:
            problems.add("rates", f"Zeile {i} der Steuersätze („{line.strip()}“) ist kein Betrag.")
        elif amount != amount.quantize(Decimal("0.01")):
            problems.add("rates", f"Zeile {i} der Steuersätze hat mehr als zwei Nachkommastellen.")
        else:
            rates.append(_money_text(amount))
    if len(lines) > 10:
        problems.add("rates", "Geben Sie höchstens zehn Steuersätze an.")

    dangerous_text = str(form.get("dangerous_rate", ""))
    dangerous = _parse_amount(dangerous_text)
    if not dangerous_text.strip():
        problems.add("dangerous_rate", "Geben Sie den Steuersatz für gefährliche Hunde an.")
    elif dangerous is None:
        problems.add("dangerous_rate", "Der Steuersatz für gefährliche Hunde ist kein Betrag.")
    elif dangerous != dangerous.quantize(Decimal("0.01")):
        problems.add(
            "dangerous_rate",
            "Der Steuersatz für gefährliche Hunde hat mehr als zwei Nachkommastellen.",
        )

    due_dates: list[list[int]] = []
    due_text = str(form.get("due_dates", ""))
    parts = [p for p in re.split(r"[,;\s]+", due_text) if p]
    if not parts:
        problems.add("due_dates", "Geben Sie mindestens einen Fälligkeitstag an (z. B. 15.02.).")
    for part in parts:
        m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.?", part)
        if not m:
            problems.add(
                "due_dates", f"„{part}“ ist kein Fälligkeitstag im Format TT.MM. (z. B. 15.02.)."
            )
            continue
        day, month = int(m.group(1)), int(m.group(2))
        try:
            date(year, month, day)
        except ValueError:
            problems.add("due_dates", f"Den Tag {part} gibt es im Jahr {year} nicht.")
            continue
        due_dates.append([month, day])
    if len({tuple(d) for d in due_dates}) != len(due_dates):
        problems.add("due_dates", "Jeder Fälligkeitstag darf nur einmal vorkommen.")
    due_dates = [list(d) for d in sorted({tuple(d) for d in due_dates})]

    reductions: dict[str, dict[str, Any]] = {}
    for code, label in reduction_reasons():
        percent_text = str(form.get(f"reduction_{code}_percent", "")).strip()
        months_text = str(form.get(f"reduction_{code}_months", "")).strip()
        anchor = f"reduction_{code}_percent"
        if not percent_text:
            if months_text:
                problems.add(
                    anchor, f"{label}: Geben Sie den Prozentsatz an oder leeren Sie die Monate."
                )
            continue
        percent = _parse_amount(percent_text.rstrip("%"))
        if percent is None or not (Decimal(0) <= percent <= Decimal(100)):
            problems.add(anchor, f"{label}: Der Prozentsatz muss eine Zahl von 0 bis 100 sein.")
            continue
        if percent != percent.quantize(Decimal("0.01")):
            problems.add(anchor, f"{label}: Der Prozentsatz hat mehr als zwei Nachkommastellen.")
            continue
        rule: dict[str, Any] = {"percent": _percent_text(percent)}
        if months_text:
            months = parse_int(months_text)
            if months is None or not 1 <= months <= 600:
                problems.add(
                    f"reduction_{code}_months",
                    f"{label}: Die Dauer muss eine ganze Zahl von 1 bis 600 Monaten sein.",
                )
                continue
            rule["months"] = months
        reductions[code] = rule

    data: dict[str, Any] = {
        "year": year,
        "model": model,
        "rates": rates,
        "dangerous_rate": _money_text(dangerous) if dangerous is not None else "",
        "due_dates": due_dates,
        "reductions": reductions,
        "counts_dangerous": form.get("counts_dangerous") in ("yes", "on", "true", True),
        "counts_exempt": form.get("counts_exempt") in ("yes", "on", "true", True),
    }
    if not problems:
        try:  # the computation's own check, the last word on what a valid table is
            RateTable.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            problems.add("model", f"Die Satztabelle ist ungültig: {exc}")
    return data, problems


def save_table(
    db: Session, m: Municipality, admin: StaffUser, year: int, data: dict[str, Any]
) -> bool:
    """Create or replace the year's table; one admin event with the changed keys.
    Issued notices are unaffected: each embeds the tables it used. False: nothing changed."""
    RateTable.from_dict(data)  # never store a table the computation would refuse
    row = table_for(db, m.id, year)
    old = dict(row.data) if row else {}
    before = {k: old.get(k) for k in data if old.get(k) != data[k]} if row else {}
    after = {k: data[k] for k in data if old.get(k) != data[k]} if row else dict(data)
    if row and not after:
        return False
    if row is None:
        row = DogTaxRateTable(municipality_id=m.id, year=year, data=data)
    else:
        row.data = data
    db.add(row)
    record_admin(
        db,
        municipality_id=m.id,
        actor_id=admin.id,
        actor_name=admin.display_name,
        action="rate_table_saved" if old else "rate_table_created",
        target=f"rate_table:{year}",
        before=before,
        after=after,
    )
    return True
