"""Municipalities and their rate tables."""

from __future__ import annotations

import base64

from sqlmodel import Session, select

from forms.model import Text
from services.config import get_settings
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


def logo_data_uri(m: Municipality) -> str:
    """The letterhead logo as a data: URI for the letter's HTML ("" without a logo)."""
    if not m.logo or m.logo_media_type not in ("image/png", "image/jpeg"):
        return ""
    return f"data:{m.logo_media_type};base64,{base64.b64encode(m.logo).decode('ascii')}"


def privacy_url(m: Municipality) -> str:
    """The portal's privacy page (Art. 13 GDPR information) under the public base URL."""
    return f"{get_settings().base_url.rstrip('/')}/{m.slug}/datenschutz"


def letterhead(m: Municipality) -> dict:
    """What letters show of the sender: the municipality's fields plus ``logo_uri`` and the
    portal's ``privacy_url`` (their data-protection pointer)."""
    return {**m.model_dump(), "logo_uri": logo_data_uri(m), "privacy_url": privacy_url(m)}
