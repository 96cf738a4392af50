"""Gap-free numbers per municipality and year: case numbers, tag numbers."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.cases.models import Sequence


def next_value(db: Session, municipality_id: int, name: str, year: int) -> int:
    """Increment and return the counter; the row stays locked until the transaction ends."""
    stmt = (
        update(Sequence)
        .where(
            Sequence.municipality_id == municipality_id,
            Sequence.name == name,
            Sequence.year == year,
        )
        .values(value=Sequence.value + 1)
        .returning(Sequence.value)
    )
    value = db.execute(stmt).scalar_one_or_none()
    if value is not None:
        return value
    try:
        with db.begin_nested():
            db.add(Sequence(municipality_id=municipality_id, name=name, year=year, value=1))
        return 1
    except IntegrityError:  # another transaction created the row first
        return db.execute(stmt).scalar_one()
