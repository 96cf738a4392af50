"""Table-driven tests of the dog-tax computation (domain.md section 6).

Every case carries its hand calculation in a comment. Demo rates (Herzberg, by number
kept): 36 / 48 / 60 € per dog, dangerous dog 180 €; quarterly due dates 15 Feb, 15 May,
15 Aug, 15 Nov.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from services.procedures.dog_tax import (
    Assessment,
    InvalidAssessment,
    MissingRateTable,
    RateTable,
    add_months,
    assess,
    liability_start,
)

D = Decimal


def herzberg(year: int) -> RateTable:
    return RateTable.from_dict(
        {
            "year": year,
            "model": "by_count",
            "rates": ["36.00", "48.00", "60.00"],
            "dangerous_rate": "180.00",
            "due_dates": [[2, 15], [5, 15], [8, 15], [11, 15]],
        }
    )


def by_order(year: int) -> RateTable:
    # Königs Wusterhausen style: first / second / further dog 60 / 70 / 80 €.
    return RateTable(year, "by_order", (D("60.00"), D("70.00"), D("80.00")), D("300.00"))


HERZBERG = {y: herzberg(y) for y in range(2024, 2029)}
ORDER = {y: by_order(y) for y in range(2024, 2029)}
SINGLE_RATE_50 = {2026: RateTable(2026, "by_count", (D("50.00"),), D("180.00"))}


@dataclass
class Case:
    id: str
    tables: dict[int, RateTable]
    intake: date
    notice: date
    total: str
    periods: list[tuple[str, int, str]]  # (label, months, amount)
    instalments: list[tuple[date, str]]
    next_year: str
    dangerous: bool = False
    kept: int = 0
    reduction: str = "0"
    annual: bool = False
    rate_basis: str | None = None
    applied_reduction: str = "0"
    deferred: date | None = None  # where past due dates were moved, if any
    extra: dict = field(default_factory=dict)


CASES = [
    # Domain example 1: first dog, intake 14.05.2026, notice 09.06.2026.
    # Start 01.06.2026; Jun–Dec = 7 months × 36/12 = 7 × 3.00 = 21.00.
    # Due dates on/after 01.06.: 15.08. and 15.11. -> 21.00 / 2 = 10.50 each.
    # From 2027: 36.00 per year.
    Case(
        "example1_mid_month_intake",
        HERZBERG,
        date(2026, 5, 14),
        date(2026, 6, 9),
        "21.00",
        [("01.06.2026 – 31.12.2026", 7, "21.00")],
        [(date(2026, 8, 15), "10.50"), (date(2026, 11, 15), "10.50")],
        "36.00",
        rate_basis="Steuersatz für den ersten Hund",
    ),
    # Domain example 2, the second dog only (by number kept): one dog already kept,
    # intake 03.03.2026 -> start 01.04.2026; Apr–Dec = 9 × 48/12 = 9 × 4.00 = 36.00.
    # Due dates on/after 01.04.: 15.05., 15.08., 15.11. -> 12.00 each (notice 20.03.).
    # From 2027: 48.00.
    Case(
        "example2_second_dog_by_count",
        HERZBERG,
        date(2026, 3, 3),
        date(2026, 3, 20),
        "36.00",
        [("01.04.2026 – 31.12.2026", 9, "36.00")],
        [(date(2026, 5, 15), "12.00"), (date(2026, 8, 15), "12.00"), (date(2026, 11, 15), "12.00")],
        "48.00",
        kept=1,
        rate_basis="Steuersatz je Hund bei zwei Hunden im Haushalt",
    ),
    # Domain example 3: dangerous dog, the only dog, intake 27.07.2026, a 50 % reduction
    # requested -> ignored (no reduction for dangerous dogs).
    # Start 01.08.; Aug–Dec = 5 × 180/12 = 5 × 15.00 = 75.00.
    # Due dates on/after 01.08.: 15.08. (after the notice of 10.08.) and 15.11.
    # -> 37.50 each. From 2027: 180.00 (no reduction).
    Case(
        "example3_dangerous_reduction_ignored",
        HERZBERG,
        date(2026, 7, 27),
        date(2026, 8, 10),
        "75.00",
        [("01.08.2026 – 31.12.2026", 5, "75.00")],
        [(date(2026, 8, 15), "37.50"), (date(2026, 11, 15), "37.50")],
        "180.00",
        dangerous=True,
        reduction="50",
        rate_basis="Steuersatz für einen gefährlichen Hund",
    ),
    # Domain example 4: order model 60/70/80, third dog (two already kept), intake
    # 08.08.2026 -> start 01.09.; Sep–Dec = 4 × 80/12 = 26.666… -> rounded once 26.67
    # (not 4 × 6.67 = 26.68). Only due date on/after 01.09.: 15.11. -> 26.67.
    # From 2027: 80.00.
    Case(
        "example4_by_order_round_once",
        ORDER,
        date(2026, 8, 8),
        date(2026, 8, 20),
        "26.67",
        [("01.09.2026 – 31.12.2026", 4, "26.67")],
        [(date(2026, 11, 15), "26.67")],
        "80.00",
        kept=2,
        rate_basis="Steuersatz für den dritten und jeden weiteren Hund",
    ),
    # Domain example 5: first dog from a shelter, 50 % reduction, intake 20.01.2026
    # -> start 01.02.; Feb–Dec = 11 × 36/12 × 50 % = 16.50.
    # Four due dates on/after 01.02. (15.02. is after the notice of 05.02.):
    # 16.50 / 4 = 4.125 -> 4.12 each (rounded down), first takes the remainder:
    # 16.50 − 3 × 4.12 = 4.14. From 2027: 36 × 50 % = 18.00.
    Case(
        "example5_reduction_remainder_first",
        HERZBERG,
        date(2026, 1, 20),
        date(2026, 2, 5),
        "16.50",
        [("01.02.2026 – 31.12.2026", 11, "16.50")],
        [
            (date(2026, 2, 15), "4.14"),
            (date(2026, 5, 15), "4.12"),
            (date(2026, 8, 15), "4.12"),
            (date(2026, 11, 15), "4.12"),
        ],
        "18.00",
        reduction="50",
        applied_reduction="50",
    ),
    # Intake on the 1st of a month still starts the following month:
    # intake 01.06.2026 -> start 01.07.; Jul–Dec = 6 × 3.00 = 18.00;
    # due 15.08. and 15.11. at 9.00.
    Case(
        "intake_on_first_of_month",
        HERZBERG,
        date(2026, 6, 1),
        date(2026, 6, 10),
        "18.00",
        [("01.07.2026 – 31.12.2026", 6, "18.00")],
        [(date(2026, 8, 15), "9.00"), (date(2026, 11, 15), "9.00")],
        "36.00",
    ),
    # Intake in December, notice in the same December: start 01.01.2027, so 2027 is
    # assessed (not 2026): 12 × 3.00 = 36.00 in four quarters of 9.00.
    Case(
        "intake_in_december_assesses_next_year",
        HERZBERG,
        date(2026, 12, 5),
        date(2026, 12, 10),
        "36.00",
        [("01.01.2027 – 31.12.2027", 12, "36.00")],
        [
            (date(2027, 2, 15), "9.00"),
            (date(2027, 5, 15), "9.00"),
            (date(2027, 8, 15), "9.00"),
            (date(2027, 11, 15), "9.00"),
        ],
        "36.00",
        extra={"start": date(2027, 1, 1)},
    ),
    # Intake previous year, notice in January: intake 20.09.2025 -> start 01.10.2025.
    # 2025: Oct–Dec 3 × 3.00 = 9.00, due 15.11.2025 (past) -> 12.02.2026 (notice + 1 month).
    # 2026: Jan–Dec 36.00 -> 9.00 on each of the four dates, none past on 12.01.2026.
    # Total 45.00.
    Case(
        "previous_year_notice_in_january",
        HERZBERG,
        date(2025, 9, 20),
        date(2026, 1, 12),
        "45.00",
        [("01.10.2025 – 31.12.2025", 3, "9.00"), ("01.01.2026 – 31.12.2026", 12, "36.00")],
        [
            (date(2026, 2, 12), "9.00"),
            (date(2026, 2, 15), "9.00"),
            (date(2026, 5, 15), "9.00"),
            (date(2026, 8, 15), "9.00"),
            (date(2026, 11, 15), "9.00"),
        ],
        "36.00",
        deferred=date(2026, 2, 12),
    ),
    # Same dog, notice on 10.03.2026: past are 15.11.2025 (9.00) and 15.02.2026 (9.00);
    # both move to 10.04.2026 and merge into one instalment of 18.00.
    Case(
        "previous_year_notice_in_march",
        HERZBERG,
        date(2025, 9, 20),
        date(2026, 3, 10),
        "45.00",
        [("01.10.2025 – 31.12.2025", 3, "9.00"), ("01.01.2026 – 31.12.2026", 12, "36.00")],
        [
            (date(2026, 4, 10), "18.00"),
            (date(2026, 5, 15), "9.00"),
            (date(2026, 8, 15), "9.00"),
            (date(2026, 11, 15), "9.00"),
        ],
        "36.00",
        deferred=date(2026, 4, 10),
    ),
    # Brief's example: intake 03.11.2025, notice 20.02.2026 -> 2025 period December only
    # (1 × 3.00 = 3.00; no 2025 due date on/after 01.12.2025, so due 20.03.2026) and
    # 2026 Jan–Dec 36.00 (15.02.2026 is past -> 20.03.2026 as well, merged: 12.00).
    Case(
        "previous_year_december_only",
        HERZBERG,
        date(2025, 11, 3),
        date(2026, 2, 20),
        "39.00",
        [("01.12.2025 – 31.12.2025", 1, "3.00"), ("01.01.2026 – 31.12.2026", 12, "36.00")],
        [
            (date(2026, 3, 20), "12.00"),
            (date(2026, 5, 15), "9.00"),
            (date(2026, 8, 15), "9.00"),
            (date(2026, 11, 15), "9.00"),
        ],
        "36.00",
        deferred=date(2026, 3, 20),
    ),
    # Past due date within the year: intake 10.03.2026 -> start 01.04.; 9 × 3.00 = 27.00
    # over 15.05., 15.08., 15.11. (9.00 each); notice 20.06. -> 15.05. moves to 20.07.
    Case(
        "past_due_date_moves_to_notice_plus_one_month",
        HERZBERG,
        date(2026, 3, 10),
        date(2026, 6, 20),
        "27.00",
        [("01.04.2026 – 31.12.2026", 9, "27.00")],
        [(date(2026, 7, 20), "9.00"), (date(2026, 8, 15), "9.00"), (date(2026, 11, 15), "9.00")],
        "36.00",
        deferred=date(2026, 7, 20),
    ),
    # Moved instalment lands on a regular due date: notice 15.07.2026 -> 15.05. moves to
    # 15.08. and merges with that date's 9.00 -> 18.00; 15.11. stays at 9.00.
    Case(
        "moved_instalment_merges_with_regular_date",
        HERZBERG,
        date(2026, 3, 10),
        date(2026, 7, 15),
        "27.00",
        [("01.04.2026 – 31.12.2026", 9, "27.00")],
        [(date(2026, 8, 15), "18.00"), (date(2026, 11, 15), "9.00")],
        "36.00",
        deferred=date(2026, 8, 15),
    ),
    # Clamp to month end: notice 31.01.2026 + 1 month = 28.02.2026. Intake 20.09.2025:
    # 2025 Oct–Dec 9.00 (15.11.2025 past -> 28.02.2026); 2026 four times 9.00, 15.02.2026
    # is still ahead of the notice.
    Case(
        "moved_date_clamped_to_month_end",
        HERZBERG,
        date(2025, 9, 20),
        date(2026, 1, 31),
        "45.00",
        [("01.10.2025 – 31.12.2025", 3, "9.00"), ("01.01.2026 – 31.12.2026", 12, "36.00")],
        [
            (date(2026, 2, 15), "9.00"),
            (date(2026, 2, 28), "9.00"),
            (date(2026, 5, 15), "9.00"),
            (date(2026, 8, 15), "9.00"),
            (date(2026, 11, 15), "9.00"),
        ],
        "36.00",
        deferred=date(2026, 2, 28),
    ),
    # Annual payment: example 1 paid at once one month after the notice (09.07.2026).
    Case(
        "annual_payment",
        HERZBERG,
        date(2026, 5, 14),
        date(2026, 6, 9),
        "21.00",
        [("01.06.2026 – 31.12.2026", 7, "21.00")],
        [(date(2026, 7, 9), "21.00")],
        "36.00",
        annual=True,
    ),
    # Rounding remainder: single rate 50 €, intake 20.01.2026 -> Feb–Dec
    # 11 × 50/12 = 45.8333… -> 45.83; / 4 = 11.4575 -> 11.45 (down) × 3 = 34.35,
    # first instalment 45.83 − 34.35 = 11.48.
    Case(
        "rounding_remainder_to_first_instalment",
        SINGLE_RATE_50,
        date(2026, 1, 20),
        date(2026, 2, 1),
        "45.83",
        [("01.02.2026 – 31.12.2026", 11, "45.83")],
        [
            (date(2026, 2, 15), "11.48"),
            (date(2026, 5, 15), "11.45"),
            (date(2026, 8, 15), "11.45"),
            (date(2026, 11, 15), "11.45"),
        ],
        "50.00",
    ),
    # Many dogs (by number kept) are capped at the last rate: fifth dog pays 60 €.
    # Intake 10.09.2026 -> Oct–Dec 3 × 5.00 = 15.00, due 15.11.
    Case(
        "by_count_capped_at_last_rate",
        HERZBERG,
        date(2026, 9, 10),
        date(2026, 9, 15),
        "15.00",
        [("01.10.2026 – 31.12.2026", 3, "15.00")],
        [(date(2026, 11, 15), "15.00")],
        "60.00",
        kept=4,
        rate_basis="Steuersatz je Hund bei drei oder mehr Hunden im Haushalt",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_assess(case: Case) -> None:
    result = assess(
        case.tables,
        intake_date=case.intake,
        notice_date=case.notice,
        dangerous=case.dangerous,
        dogs_already_kept=case.kept,
        reduction_percent=D(case.reduction),
        annual_payment=case.annual,
    )
    assert result.total == D(case.total)
    assert [(p.label, p.months, p.amount) for p in result.periods] == [
        (label, months, D(amount)) for label, months, amount in case.periods
    ]
    assert [(i.due_date, i.amount) for i in result.instalments] == [
        (day, D(amount)) for day, amount in case.instalments
    ]
    # Instalments always add up to the total, with exact cents.
    assert sum(i.amount for i in result.instalments) == result.total
    assert all(i.amount == i.amount.quantize(D("0.01")) for i in result.instalments)
    assert result.yearly_amount_next_year == D(case.next_year)
    assert result.reduction_percent == D(case.applied_reduction)
    assert result.dangerous is case.dangerous
    if case.rate_basis:
        assert result.rate_basis == case.rate_basis
    expected_start = case.extra.get("start", liability_start(case.intake))
    assert result.start_date == expected_start
    # Anything moved to notice + 1 month is reported for the notice's Begründung.
    assert result.deferred_due_date == case.deferred


def test_liability_start_and_add_months() -> None:
    assert liability_start(date(2026, 5, 1)) == date(2026, 6, 1)
    assert liability_start(date(2026, 5, 31)) == date(2026, 6, 1)
    assert liability_start(date(2026, 12, 1)) == date(2027, 1, 1)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 9), 1) == date(2027, 1, 9)


def test_missing_rate_table_names_the_year() -> None:
    # Intake 03.11.2025 needs 2025 (December) and 2026; only 2026 is configured.
    with pytest.raises(MissingRateTable) as info:
        assess(
            {2026: herzberg(2026)},
            intake_date=date(2025, 11, 3),
            notice_date=date(2026, 2, 20),
            dangerous=False,
        )
    assert info.value.year == 2025
    assert "2025" in str(info.value)
    assert "Steuerjahr 2025" in str(info.value)
    assert "tax year" not in str(info.value)  # one language (the page picks the user's)


def test_missing_rate_table_for_following_year() -> None:
    # December intake and notice: 2027 is assessed, so 2027 must be configured.
    with pytest.raises(MissingRateTable) as info:
        assess(
            {2026: herzberg(2026)},
            intake_date=date(2026, 12, 5),
            notice_date=date(2026, 12, 10),
            dangerous=False,
        )
    assert info.value.year == 2027


def test_intake_after_notice_date_is_refused() -> None:
    with pytest.raises(InvalidAssessment, match="Aufnahmedatum 10.06.2026"):
        assess(
            HERZBERG,
            intake_date=date(2026, 6, 10),
            notice_date=date(2026, 6, 9),
            dangerous=False,
        )


@pytest.mark.parametrize("percent", ["-1", "100.01"])
def test_reduction_out_of_range_is_refused(percent: str) -> None:
    with pytest.raises(InvalidAssessment):
        assess(
            HERZBERG,
            intake_date=date(2026, 5, 14),
            notice_date=date(2026, 6, 9),
            dangerous=False,
            reduction_percent=D(percent),
        )


def test_full_exemption_has_no_instalments() -> None:
    # 100 % reduction: 0.00 € and nothing due; the notice still gets issued.
    result = assess(
        HERZBERG,
        intake_date=date(2026, 5, 14),
        notice_date=date(2026, 6, 9),
        dangerous=False,
        reduction_percent=D(100),
    )
    assert result.total == D("0.00")
    assert result.instalments == []
    assert result.yearly_amount_next_year == D("0.00")


def test_rate_table_round_trip_and_validation() -> None:
    table = herzberg(2026)
    assert table.rates == (D("36.00"), D("48.00"), D("60.00"))
    assert RateTable.from_dict(table.to_dict()) == table
    assert table.to_dict()["rates"] == ["36.00", "48.00", "60.00"]
    # Due dates default to the quarterly demo dates.
    plain = RateTable.from_dict(
        {"year": 2026, "model": "by_order", "rates": ["60", "70", "80"], "dangerous_rate": "300"}
    )
    assert plain.due_dates == ((2, 15), (5, 15), (8, 15), (11, 15))
    with pytest.raises(ValueError):
        RateTable(2026, "by_weight", (D(1),), D(1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RateTable(2026, "by_count", (), D(1))
    with pytest.raises(ValueError):
        RateTable(2026, "by_count", (D(1),), D(1), due_dates=((2, 30),))


def test_assessment_to_dict_is_json_and_round_trips() -> None:
    result = assess(
        HERZBERG,
        intake_date=date(2025, 11, 3),
        notice_date=date(2026, 2, 20),
        dangerous=False,
    )
    data = result.to_dict()
    text = json.dumps(data)  # JSON-able without a custom encoder
    assert data["total"] == "39.00"
    assert data["start_date"] == "2025-12-01"
    assert data["instalments"][0] == {"due_date": "2026-03-20", "amount": "12.00"}
    assert data["periods"][0]["label"] == "01.12.2025 – 31.12.2025"
    assert data["next_year"] == 2027
    assert result.years_label == "2025 und 2026"
    assert Assessment.from_dict(json.loads(text)) == result


# --- household changes, time-limited reductions, deregistration, yearly run ---------------
# (the engine's later options; each computation worked out by hand from domain.md §6)


def test_example_2_first_dog_changes_rate_when_the_second_arrives():
    # First dog kept since 2024 (position 1). A second dog taken in on 3 March starts in
    # April, so from April the first dog is one of two: Jan–Mar 3 × 36/12 = 9.00 and
    # Apr–Dec 9 × 48/12 = 36.00, together 45.00 (+9.00 against 36.00 for the year).
    a = assess(
        HERZBERG,
        intake_date=date(2025, 12, 1),
        notice_date=date(2026, 3, 20),
        dangerous=False,
        from_year=2026,
        position_changes=[(date(2026, 4, 1), 2)],
    )
    assert [(p.first_month, p.last_month, p.annual_rate, p.amount) for p in a.periods] == [
        (1, 3, D("36.00"), D("9.00")),
        (4, 12, D("48.00"), D("36.00")),
    ]
    assert a.total == D("45.00")
    assert a.yearly_amount_next_year == D("48.00")  # from 2027 one of two dogs


def test_example_5_shelter_reduction_for_36_months_over_four_years():
    # Half rate for 36 months from the start of liability (February 2026):
    # 2026 Feb–Dec 11 × 3.00 × 50 % = 16.50; 2027 and 2028 12 × 1.50 = 18.00 each;
    # 2029 only January is reduced: 1 × 1.50 + 11 × 3.00 = 34.50.
    tables = {y: herzberg(y) for y in range(2026, 2030)}
    totals = {}
    for year in range(2026, 2030):
        a = assess(
            tables,
            intake_date=date(2026, 1, 20),
            notice_date=date(year, 12, 31),
            dangerous=False,
            reduction_percent=D(50),
            reduction_until=date(2029, 1, 1),
            from_year=year,
        )
        totals[year] = a.total
    assert totals == {2026: D("16.50"), 2027: D("18.00"), 2028: D("18.00"), 2029: D("34.50")}


def test_reduction_ending_next_year_is_reflected_in_the_yearly_amount():
    # Reduction through January 2027: next year's amount is 1 × 1.50 + 11 × 3.00 = 34.50.
    a = assess(
        HERZBERG,
        intake_date=date(2026, 1, 20),
        notice_date=date(2026, 3, 1),
        dangerous=False,
        reduction_percent=D(50),
        reduction_until=date(2027, 1, 1),
    )
    assert a.total == D("16.50") and a.yearly_amount_next_year == D("34.50")


def test_full_exemption_is_zero_and_nothing_is_due():
    # Assistance dog, 100 % exempt: Jun–Dec 7 × 3.00 × 0 % = 0.00; no instalments.
    a = assess(
        HERZBERG,
        intake_date=date(2026, 5, 14),
        notice_date=date(2026, 6, 9),
        dangerous=False,
        reduction_percent=D(100),
    )
    assert a.total == D("0.00") and a.instalments == [] and a.yearly_amount_next_year == D("0.00")


def test_deregistration_ends_liability_with_the_month_of_the_event():
    # Registered from June, died on 10 September: liable Jun–Sep, 4 × 3.00 = 12.00.
    a = assess(
        HERZBERG,
        intake_date=date(2026, 5, 14),
        notice_date=date(2026, 9, 20),
        dangerous=False,
        end_date=date(2026, 9, 10),
    )
    assert [(p.first_month, p.last_month) for p in a.periods] == [(6, 9)]
    assert a.total == D("12.00") and a.yearly_amount_next_year == D("0.00")


def test_yearly_run_assesses_the_whole_year_from_january():
    # A dog kept since 2025, assessed for 2027 at the 2027 rate table (say 40 €):
    # 12 × 40/12 = 40.00, four quarters of 10.00.
    t2027 = RateTable(2027, "by_count", (D(40), D(52), D(64)), D(200))
    a = assess(
        {2027: t2027},
        intake_date=date(2025, 3, 3),
        notice_date=date(2027, 1, 10),
        dangerous=False,
        from_year=2027,
    )
    assert a.total == D("40.00")
    assert [(i.due_date, i.amount) for i in a.instalments] == [
        (date(2027, 2, 15), D("10.00")),
        (date(2027, 5, 15), D("10.00")),
        (date(2027, 8, 15), D("10.00")),
        (date(2027, 11, 15), D("10.00")),
    ]
