"""Municipalities and their rate tables."""

from __future__ import annotations

from sqlmodel import Session, select

from forms.model import Text
from services.errors import NotFound
from services.municipalities.models import DogTaxRateTable, Municipality


def by_slug(db: Session, slug: str) -> Municipality:
    m = db.exec(select(Municipality).where(Municipality.slug == slug)).first()
    if m is None:
        raise NotFound(
            Text(
                de="Diese Gemeinde gibt es hier nicht.", en="This municipality is not served here."
            )
        )
    return m


def all_municipalities(db: Session) -> list[Municipality]:
    return list(db.exec(select(Municipality).order_by(Municipality.name)))


def rate_tables(db: Session, municipality_id: int) -> dict[int, dict]:
    rows = db.exec(
        select(DogTaxRateTable).where(DogTaxRateTable.municipality_id == municipality_id)
    )
    return {r.year: r.data for r in rows}
