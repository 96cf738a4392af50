"""Demo data: Herzberg (Elster) with letterhead, bank details, dog-tax rates and three staff."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from services.accounts.service import create_user
from services.municipalities.models import DogTaxRateTable, Municipality
from services.timeutil import today_local

# Last published Herzberg figures (domain.md §2; unconfirmed, configurable).
HERZBERG_RATES = {
    "model": "by_count",
    "rates": ["36.00", "48.00", "60.00"],
    "dangerous_rate": "180.00",
    "due_dates": [[2, 15], [5, 15], [8, 15], [11, 15]],
    # Typical Brandenburg rules (domain.md §2, unconfirmed for Herzberg): percent of the
    # rate waived, optionally for a number of months from the start of liability.
    "reductions": {
        "disabled_keeper": {"percent": "100"},
        "assistance_dog": {"percent": "100"},
        "shelter_dog": {"percent": "50", "months": 36},
        "service_dog": {"percent": "100"},
        "working_dog": {"percent": "50"},
        "low_income": {"percent": "50"},
    },
    # Whether dangerous or exempt dogs count towards the number of dogs (demo: neither).
    "counts_dangerous": False,
    "counts_exempt": False,
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def herzberg(db: Session) -> Municipality:
    m = db.exec(select(Municipality).where(Municipality.slug == "herzberg-elster")).first()
    if m is None:
        m = Municipality(
            slug="herzberg-elster",
            name="Stadt Herzberg (Elster)",
            authority="Der Bürgermeister",
            department="20 – Kämmerei",
            street="Markt 1",
            postal_code="04916",
            town="Herzberg (Elster)",
            phone="(03535) 482-253",
            email="steueramt@herzberg-elster.de",
            website="www.herzberg-elster.de",
            office_hours="Di 9–12 und 13–18 Uhr, Do 9–12 und 13–15 Uhr",
            bank_name="Sparkasse Elbe-Elster",
            # Demo values: a valid-format IBAN and creditor id, not the town's real account.
            iban="DE54180510000000012345",
            bic="WELADED1EES",
            creditor_id="DE98ZZZ09999999999",
            case_prefix="HST",
        )
        db.add(m)
        db.flush()
    # Rates for the last two years, this year and next (registrations may be backdated).
    this_year = today_local().year
    for year in range(this_year - 2, this_year + 2):
        exists = db.exec(
            select(DogTaxRateTable).where(
                DogTaxRateTable.municipality_id == m.id, DogTaxRateTable.year == year
            )
        ).first()
        if exists is None:
            db.add(
                DogTaxRateTable(
                    municipality_id=m.id, year=year, data={"year": year, **HERZBERG_RATES}
                )
            )
        else:  # keep the demo current with the rules this version knows
            exists.data = {"year": year, **HERZBERG_RATES}
            db.add(exists)
    db.flush()
    return m


def load(db: Session, password: str | None = None) -> list[DemoLogin]:
    """Create (or reset) the demo municipality and staff; returns the logins to print."""
    from services.procedures.versions import seed_builtin

    m = herzberg(db)
    seed_builtin(db, m.id)  # the repository's procedures as published version 1
    logins = []
    for username, name, roles, role_label in (
        ("sachbearbeitung", "Petra Schulze", ["clerk"], "Sachbearbeitung (clerk)"),
        (
            "sachgebietsleitung",
            "Thomas Richter",
            ["clerk", "approver"],
            "Sachgebietsleitung (approver)",
        ),
        ("administration", "Anja Vogel", ["admin"], "Administration (administrator)"),
    ):
        pw = password or secrets.token_urlsafe(12)
        create_user(
            db,
            municipality_id=m.id,
            username=username,
            display_name=name,
            password=pw,
            roles=roles,
            email=f"{username}@herzberg-elster.de",
            phone="(03535) 482-253",
        )
        logins.append(DemoLogin(username, pw, role_label))
    return logins
