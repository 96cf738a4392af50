"""One rule for a dog's position in the keeper's household (domain.md §2): by number kept,
every dog pays the rate for the number of dogs counted that month; by order, the order
follows the start of keeping. Whether dangerous and exempt dogs count is the rate table's
setting (``counts_dangerous``, ``counts_exempt``; demo: neither). Registration, change,
deregistration and annual notices all use ``dog_registration.household_positions``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.cases.models import RegisteredDog
from services.procedures import dog_registration as registration
from services.procedures.dog_tax import RateTable

TABLE = RateTable.from_dict(
    {
        "year": 2026,
        "model": "by_count",
        "rates": ["36.00", "48.00", "60.00"],
        "dangerous_rate": "180.00",
    }
)


@pytest.fixture
def household(db, case_factory):
    """Erika's dogs, all liable through 2026, by start of keeping: Rex (dangerous, 01/2024),
    Mia (exempt, 02/2024), Bello (03/2024), Luna (06/2024); and a new filing of hers."""
    dogs = {}
    for name, since, flags in [
        ("Rex", "2024-01-01", {"dangerous": True}),
        ("Mia", "2024-02-01", {"exempt": True}),
        ("Bello", "2024-03-01", {}),
        ("Luna", "2024-06-01", {}),
    ]:
        case = case_factory("closed")
        dogs[name] = RegisteredDog(
            municipality_id=case.municipality_id,
            case_id=case.id,
            owner_key=registration.owner_key(case.answers),
            chip_number=case.answers["chip_number"],
            dog_name=name,
            tag_number=f"2024-000{len(dogs) + 1}",
            liable_from=since,
            **flags,
        )
        db.add(dogs[name])
    db.commit()
    return dogs, case_factory("in_review")


# (model, counts_dangerous, counts_exempt) -> positions of Bello and Luna, dogs already kept
# before a new (fifth) dog of Erika.
CASES = [
    ("by_count", False, False, 2, 2, 2),
    ("by_count", True, False, 3, 3, 3),
    ("by_count", False, True, 3, 3, 3),
    ("by_count", True, True, 4, 4, 4),
    ("by_order", False, False, 1, 2, 2),
    ("by_order", True, False, 2, 3, 3),
    ("by_order", False, True, 2, 3, 3),
    ("by_order", True, True, 3, 4, 4),
]


@pytest.mark.parametrize(("model", "dangerous", "exempt", "bello", "luna", "kept"), CASES)
def test_positions_in_a_mixed_household(db, household, model, dangerous, exempt, bello, luna, kept):
    dogs, new_case = household
    table = replace(TABLE, model=model, counts_dangerous=dangerous, counts_exempt=exempt)
    for name, expected in (("Bello", bello), ("Luna", luna)):
        positions = registration.household_positions(db, dogs[name], 2026, table)
        assert [p for _, p in positions] == [expected] * 12, name
    # A new dog of the same keeper is assessed with the same count.
    assert len(registration.dogs_already_kept(db, new_case, table)) == kept


def test_a_dog_that_leaves_counts_through_its_last_month(db, household):
    # Mia (exempt) dies in April; where exempt dogs count, Bello moves up from May.
    dogs, _ = household
    dogs["Mia"].liable_until = "2026-04-30"
    db.add(dogs["Mia"])
    db.commit()
    table = replace(TABLE, model="by_order", counts_exempt=True)
    positions = [p for _, p in registration.household_positions(db, dogs["Bello"], 2026, table)]
    assert positions == [2] * 4 + [1] * 8


def test_the_setting_travels_with_the_rate_table():
    stored = {**TABLE.to_dict(), "counts_exempt": True}
    table = RateTable.from_dict(stored)
    assert (table.counts_dangerous, table.counts_exempt) == (False, True)
    assert RateTable.from_dict(table.to_dict()) == table
