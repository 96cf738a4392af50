"""Dog-tax (Hundesteuer) assessment for one dog: pure computation, no database, no web.

Rules (see docs in /work/shared/domain.md, sections 2 and 6):

* Liability starts on the first day of the month after the dog joined the household,
  even if the intake was on the 1st of a month. A dog kept since before a year counts
  from January of that year.
* Every calendar year from the start year through the notice year is assessed with its
  own rate table (a running case keeps its version). If the liability starts after the
  notice year (intake and notice in December), the following year is assessed.
* Monthly rate = annual rate / 12. Each period is summed exactly and rounded once,
  half up, to the cent. Decimal only, never float.
* A reduction (percent) applies to non-dangerous dogs only; a dangerous dog pays the
  flat dangerous rate.
* Instalments per period: the due dates of that year on or after the liability start,
  split equally (each rounded down to the cent, the first takes the remainder). Due
  dates that are not in the future at the notice date move to one month after the
  notice date and are merged into one instalment there. A period without any due
  date left in its year is also due then. With annual payment the whole amount is
  due one month after the notice date.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
TWELVE = Decimal(12)

RateModel = Literal["by_count", "by_order"]

DEFAULT_DUE_DATES: tuple[tuple[int, int], ...] = ((2, 15), (5, 15), (8, 15), (11, 15))

_ORDINALS = {
    1: "ersten",
    2: "zweiten",
    3: "dritten",
    4: "vierten",
    5: "fünften",
    6: "sechsten",
    7: "siebten",
    8: "achten",
    9: "neunten",
    10: "zehnten",
}
_CARDINALS = {
    2: "zwei",
    3: "drei",
    4: "vier",
    5: "fünf",
    6: "sechs",
    7: "sieben",
    8: "acht",
    9: "neun",
    10: "zehn",
}


# --------------------------------------------------------------------------- errors


class DogTaxError(ValueError):
    """Base class of all dog-tax computation errors."""


class MissingRateTable(DogTaxError):  # noqa: N818 - name fixed by the public API
    """No rate table is configured for a tax year that has to be assessed."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"Für das Steuerjahr {year} ist kein Hundesteuer-Tarif hinterlegt. "
            f"Bitte hinterlegen Sie in der Verwaltung die Steuersätze für {year}."
        )


class InvalidAssessment(DogTaxError):  # noqa: N818 - name fixed by the public API
    """The input data do not allow an assessment (e.g. intake after the notice date). The
    message is German (``str(exc)``, ``de``) with its English translation in ``en``."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(de)
        self.de, self.en = de, en


# --------------------------------------------------------------------------- helpers


def _to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, float):
        # Floats are accepted from hand-written JSON only via their shortest repr.
        value = repr(value)
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{what}: {value!r} is not a decimal number") from exc
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


def _money(value: Decimal) -> Decimal:
    """Round once, half up, to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` months later, clamped to the end of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def liability_start(intake_date: date) -> date:
    """First day of the month after the intake (also when the intake is on the 1st)."""
    return add_months(intake_date.replace(day=1), 1)


def _fmt_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _split(amount: Decimal, parts: int) -> list[Decimal]:
    """Split equally, each part rounded down to the cent; the first takes the remainder."""
    base = (amount / parts).quantize(CENT, rounding=ROUND_DOWN)
    first = amount - base * (parts - 1)
    return [first] + [base] * (parts - 1)


# --------------------------------------------------------------------------- rate table


@dataclass(frozen=True)
class RateTable:
    """Rates of one municipality for one tax year (tenant configuration)."""

    year: int
    model: RateModel
    rates: tuple[Decimal, ...]
    dangerous_rate: Decimal
    due_dates: tuple[tuple[int, int], ...] = DEFAULT_DUE_DATES
    # Whether dangerous and exempt dogs count towards the number kept or the order
    # (domain.md §2: unconfirmed, configurable; demo: neither counts).
    counts_dangerous: bool = False
    counts_exempt: bool = False

    def __post_init__(self) -> None:
        if self.model not in ("by_count", "by_order"):
            raise ValueError(f"RateTable {self.year}: unknown model {self.model!r}")
        if not self.rates:
            raise ValueError(f"RateTable {self.year}: at least one rate is required")
        rates = tuple(_to_decimal(r, f"RateTable {self.year} rate") for r in self.rates)
        if any(r < 0 for r in rates):
            raise ValueError(f"RateTable {self.year}: rates must not be negative")
        dangerous = _to_decimal(self.dangerous_rate, f"RateTable {self.year} dangerous_rate")
        if dangerous < 0:
            raise ValueError(f"RateTable {self.year}: dangerous_rate must not be negative")
        due = tuple((int(m), int(d)) for m, d in self.due_dates)
        if not due:
            raise ValueError(f"RateTable {self.year}: at least one due date is required")
        for month, day in due:
            try:
                date(self.year, month, day)
            except ValueError as exc:
                raise ValueError(
                    f"RateTable {self.year}: invalid due date {day:02d}.{month:02d}."
                ) from exc
        if list(due) != sorted(set(due)):
            raise ValueError(f"RateTable {self.year}: due dates must be ascending and unique")
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "dangerous_rate", dangerous)
        object.__setattr__(self, "due_dates", due)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RateTable:
        return cls(
            year=int(d["year"]),
            model=d["model"],
            rates=tuple(_to_decimal(r, "rate") for r in d["rates"]),
            dangerous_rate=_to_decimal(d["dangerous_rate"], "dangerous_rate"),
            due_dates=tuple((int(m), int(day)) for m, day in d.get("due_dates", DEFAULT_DUE_DATES)),
            counts_dangerous=bool(d.get("counts_dangerous", False)),
            counts_exempt=bool(d.get("counts_exempt", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "model": self.model,
            "rates": [str(r) for r in self.rates],
            "dangerous_rate": str(self.dangerous_rate),
            "due_dates": [[m, d] for m, d in self.due_dates],
            "counts_dangerous": self.counts_dangerous,
            "counts_exempt": self.counts_exempt,
        }

    def rate_for(self, position: int) -> Decimal:
        """Annual rate for the dog at ``position`` (by_count: dogs in the household)."""
        if position < 1:
            raise ValueError("position must be at least 1")
        return self.rates[min(position, len(self.rates)) - 1]

    def due_dates_in(self, year: int) -> list[date]:
        return [date(year, m, d) for m, d in self.due_dates]

    def annual_due_date(self, year: int) -> date:
        """A yearly payer pays a full year's amount once, on the year's first due date."""
        return self.due_dates_in(year)[0]


def rate_basis_text(model: RateModel, position: int, n_rates: int, dangerous: bool) -> str:
    """Short German description of the applied rate, for the notice's Begründung."""
    if dangerous:
        return "Steuersatz für einen gefährlichen Hund"
    if position == 1:
        return "Steuersatz für den ersten Hund"
    capped = min(position, n_rates)
    if model == "by_order":
        ordinal = _ORDINALS.get(capped, f"{capped}.")
        if capped == n_rates:
            return f"Steuersatz für den {ordinal} und jeden weiteren Hund"
        return f"Steuersatz für den {ordinal} Hund"
    cardinal = _CARDINALS.get(capped, str(capped))
    if capped == n_rates:
        return f"Steuersatz je Hund bei {cardinal} oder mehr Hunden im Haushalt"
    return f"Steuersatz je Hund bei {cardinal} Hunden im Haushalt"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Period:
    """One assessed calendar year (or the part of it from the liability start)."""

    year: int
    first_month: int
    last_month: int
    months: int
    annual_rate: Decimal
    amount: Decimal
    reduction_percent: Decimal = Decimal(0)  # applied in these months

    @property
    def start_date(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end_date(self) -> date:
        return date(self.year, self.last_month, calendar.monthrange(self.year, self.last_month)[1])

    @property
    def label(self) -> str:
        """Human label, e.g. ``01.06.2026 – 31.12.2026``."""
        return f"{_fmt_date(self.start_date)} – {_fmt_date(self.end_date)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "first_month": self.first_month,
            "last_month": self.last_month,
            "months": self.months,
            "annual_rate": str(self.annual_rate),
            "amount": str(self.amount),
            "reduction_percent": str(self.reduction_percent),
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Period:
        return cls(
            year=int(d["year"]),
            first_month=int(d["first_month"]),
            last_month=int(d["last_month"]),
            months=int(d["months"]),
            annual_rate=Decimal(d["annual_rate"]),
            amount=Decimal(d["amount"]),
            reduction_percent=Decimal(d.get("reduction_percent", "0")),
        )


@dataclass(frozen=True)
class Instalment:
    due_date: date
    amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"due_date": self.due_date.isoformat(), "amount": str(self.amount)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Instalment:
        return cls(due_date=date.fromisoformat(d["due_date"]), amount=Decimal(d["amount"]))


@dataclass(frozen=True)
class Assessment:
    start_date: date
    periods: list[Period]
    total: Decimal
    instalments: list[Instalment]
    yearly_amount_next_year: Decimal
    dangerous: bool
    reduction_percent: Decimal  # the reduction actually applied (0 for dangerous dogs)
    rate_basis: str
    intake_date: date | None = None
    notice_date: date | None = None
    annual_payment: bool = False
    # Set when due dates already past at the notice date (or a period without a due date
    # left in its year) were moved to one month after the notice date.
    deferred_due_date: date | None = None
    rate_tables: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def years(self) -> list[int]:
        return [p.year for p in self.periods]

    @property
    def next_year(self) -> int:
        """The first year the standing notice covers with the full yearly amount."""
        return self.periods[-1].year + 1

    @property
    def exempt(self) -> bool:
        """Fully exempt (Steuerbefreiung): no tax in any assessed month nor in the years after
        (a 100 % reduction without end). Such a notice is an exemption notice; nothing is due."""
        return (
            bool(self.periods)
            and all(p.reduction_percent == HUNDRED for p in self.periods)
            and self.yearly_amount_next_year == 0
        )

    @property
    def yearly_due_dates(self) -> list[date]:
        """When the yearly amount is due in ``next_year`` (and, as a standing notice, every
        year after): the due dates of the last assessed year's rate table, or for a yearly
        payer its annual due date (:meth:`RateTable.annual_due_date`)."""
        table = RateTable.from_dict(self.rate_tables[self.periods[-1].year])
        if self.annual_payment:
            return [table.annual_due_date(self.next_year)]
        return table.due_dates_in(self.next_year)

    @property
    def years_label(self) -> str:
        """``2026``, ``2025 und 2026`` or ``2024 bis 2026`` for the notice's subject."""
        years = self.years
        if len(years) == 1:
            return str(years[0])
        if len(years) == 2:
            return f"{years[0]} und {years[1]}"
        return f"{years[0]} bis {years[-1]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_date": self.start_date.isoformat(),
            "periods": [p.to_dict() for p in self.periods],
            "total": str(self.total),
            "instalments": [i.to_dict() for i in self.instalments],
            "yearly_amount_next_year": str(self.yearly_amount_next_year),
            "next_year": self.next_year,
            "dangerous": self.dangerous,
            "reduction_percent": str(self.reduction_percent),
            "rate_basis": self.rate_basis,
            "intake_date": self.intake_date.isoformat() if self.intake_date else None,
            "notice_date": self.notice_date.isoformat() if self.notice_date else None,
            "annual_payment": self.annual_payment,
            "deferred_due_date": (
                self.deferred_due_date.isoformat() if self.deferred_due_date else None
            ),
            "rate_tables": {str(y): t for y, t in self.rate_tables.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Assessment:
        def opt_date(value: str | None) -> date | None:
            return date.fromisoformat(value) if value else None

        return cls(
            start_date=date.fromisoformat(d["start_date"]),
            periods=[Period.from_dict(p) for p in d["periods"]],
            total=Decimal(d["total"]),
            instalments=[Instalment.from_dict(i) for i in d["instalments"]],
            yearly_amount_next_year=Decimal(d["yearly_amount_next_year"]),
            dangerous=bool(d["dangerous"]),
            reduction_percent=Decimal(d["reduction_percent"]),
            rate_basis=d["rate_basis"],
            intake_date=opt_date(d.get("intake_date")),
            notice_date=opt_date(d.get("notice_date")),
            annual_payment=bool(d.get("annual_payment", False)),
            deferred_due_date=opt_date(d.get("deferred_due_date")),
            rate_tables={int(y): dict(t) for y, t in d.get("rate_tables", {}).items()},
        )


# --------------------------------------------------------------------------- assessment


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def assess(
    tables: Mapping[int, RateTable],
    *,
    intake_date: date,
    notice_date: date,
    dangerous: bool,
    dogs_already_kept: int = 0,
    reduction_percent: Decimal = Decimal(0),
    annual_payment: bool = False,
    reduction_until: date | None = None,
    end_date: date | None = None,
    position_changes: Sequence[tuple[date, int]] = (),
    from_year: int | None = None,
) -> Assessment:
    """Assess the dog tax of one dog from its liability start through the notice year.

    ``reduction_until``: the reduction applies through the month of this date (time-limited
    reductions, e.g. 36 months for a shelter dog); ``end_date``: liability ends at the end of
    this month (deregistration); ``position_changes``: from the month of each date the dog
    has this position in the household (another dog arrived or left; domain.md §6);
    ``from_year``: assess from January of this year (the yearly run) instead of the start.
    Months with the same rate and reduction form one period, summed exactly and rounded once.
    """
    if intake_date > notice_date:
        raise InvalidAssessment(
            f"Das Aufnahmedatum {_fmt_date(intake_date)} liegt nach dem Bescheiddatum "
            f"{_fmt_date(notice_date)}; ein Bescheid kann erst nach der Aufnahme des Hundes "
            "ergehen.",
            f"The intake date {intake_date.isoformat()} lies after the notice "
            f"date {notice_date.isoformat()}.",
        )
    if dogs_already_kept < 0:
        raise InvalidAssessment(
            "Die Zahl der bereits gehaltenen Hunde darf nicht negativ sein.",
            "The number of dogs already kept must not be negative.",
        )
    reduction = _to_decimal(reduction_percent, "reduction_percent")
    if not (0 <= reduction <= HUNDRED):
        raise InvalidAssessment(
            f"Die Ermäßigung muss zwischen 0 und 100 % liegen (erhalten: {reduction} %).",
            f"The reduction must lie between 0 and 100 % (given: {reduction} %).",
        )
    applied_reduction = Decimal(0) if dangerous else reduction

    start = liability_start(intake_date)
    if from_year is not None and start < date(from_year, 1, 1):
        start = date(from_year, 1, 1)
    last_year = max(notice_date.year, start.year) if from_year is None else start.year
    last_month_date = date(last_year, 12, 1)
    if end_date is not None:
        if end_date < intake_date:
            raise InvalidAssessment(
                f"Das Ende der Haltung {_fmt_date(end_date)} liegt vor der Aufnahme "
                f"{_fmt_date(intake_date)}.",
                "The end date lies before the intake date.",
            )
        last_month_date = _month_start(end_date)
        last_year = end_date.year
    changes = sorted((_month_start(d), p) for d, p in position_changes)

    def position_in(month: date) -> int:
        position = dogs_already_kept + 1
        for since, p in changes:
            if since <= month:
                position = p
        return position

    def reduced_in(month: date) -> Decimal:
        if applied_reduction and (reduction_until is None or month <= reduction_until):
            return applied_reduction
        return Decimal(0)

    periods: list[Period] = []
    used_tables: dict[int, RateTable] = {}
    for year in range(start.year, last_year + 1):
        table = tables.get(year)
        if table is None:
            raise MissingRateTable(year)
        if table.year != year:
            raise InvalidAssessment(
                f"Der Tarif unter dem Schlüssel {year} gilt für {table.year}.",
                f"The rate table stored under {year} is for {table.year}.",
            )
        used_tables[year] = table
        first_month = start.month if year == start.year else 1
        last_month = last_month_date.month if year == last_year else 12
        segment: list[int] = []
        key = None
        for month in range(first_month, last_month + 1):
            day = date(year, month, 1)
            annual = table.dangerous_rate if dangerous else table.rate_for(position_in(day))
            month_key = (annual, reduced_in(day))
            if key is not None and month_key != key:
                periods.append(_period(year, segment, *key))
                segment = []
            key = month_key
            segment.append(month)
        if segment:
            periods.append(_period(year, segment, *key))

    total = sum((p.amount for p in periods), Decimal("0.00"))
    last_table = used_tables[last_year]
    last_position = position_in(last_month_date)
    if end_date is not None:
        yearly_next = Decimal("0.00")
    else:
        next_annual = last_table.dangerous_rate if dangerous else last_table.rate_for(last_position)
        yearly_next = _money(
            sum(
                (
                    next_annual * (HUNDRED - reduced_in(date(last_year + 1, m, 1)))
                    for m in range(1, 13)
                ),
                Decimal(0),
            )
            / (TWELVE * HUNDRED)
        )

    moved_to = add_months(notice_date, 1)
    deferred = False
    due: dict[date, Decimal] = {}
    per_year: dict[int, tuple[date, Decimal]] = {}
    for period in periods:
        first, amount = per_year.get(period.year, (period.start_date, Decimal("0.00")))
        per_year[period.year] = (min(first, period.start_date), amount + period.amount)
    if annual_payment:
        due[moved_to] = total
    else:
        for year, (first, amount) in sorted(per_year.items()):
            dates = [d for d in used_tables[year].due_dates_in(year) if d >= first]
            if not dates:
                # No regular due date left in that year: due with the moved instalments.
                due[moved_to] = due.get(moved_to, Decimal("0.00")) + amount
                deferred = deferred or amount > 0
                continue
            for day, part in zip(dates, _split(amount, len(dates)), strict=True):
                # A due date on or before the notice date cannot be met any more.
                target = moved_to if day <= notice_date else day
                deferred = deferred or (target != day and part > 0)
                due[target] = due.get(target, Decimal("0.00")) + part
    # Zero parts (full exemption, or a cent split over several dates) are not due at all.
    instalments = [Instalment(day, due[day]) for day in sorted(due) if due[day] > 0]

    return Assessment(
        start_date=start,
        periods=periods,
        total=total,
        instalments=instalments,
        yearly_amount_next_year=yearly_next,
        dangerous=dangerous,
        reduction_percent=applied_reduction,
        rate_basis=rate_basis_text(
            last_table.model, last_position, len(last_table.rates), dangerous
        ),
        intake_date=intake_date,
        notice_date=notice_date,
        annual_payment=annual_payment,
        deferred_due_date=moved_to if deferred else None,
        rate_tables={y: t.to_dict() for y, t in used_tables.items()},
    )


def _period(year: int, months: list[int], annual: Decimal, reduction: Decimal) -> Period:
    """Months with one rate: exact sum, one division, one rounding."""
    amount = _money(Decimal(len(months)) * annual * (HUNDRED - reduction) / (TWELVE * HUNDRED))
    return Period(year, months[0], months[-1], len(months), annual, amount, reduction)
