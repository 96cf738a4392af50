"""Municipalities (tenants) and their dog-tax rate tables per year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class Municipality(SQLModel, table=True):
    __tablename__ = "municipalities"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True, index=True)
    name: str = Field(max_length=120)  # "Stadt Herzberg (Elster)"
    authority: str = Field(max_length=120)  # "Der Bürgermeister"
    department: str = Field(max_length=120)  # "20 – Kämmerei"
    street: str = Field(max_length=120)
    postal_code: str = Field(max_length=5)
    town: str = Field(max_length=120)
    phone: str = Field(default="", max_length=60)
    email: str = Field(default="", max_length=254)
    website: str = Field(default="", max_length=200)
    office_hours: str = Field(default="", max_length=300)
    bank_name: str = Field(default="", max_length=120)
    iban: str = Field(default="", max_length=34)
    bic: str = Field(default="", max_length=11)
    creditor_id: str = Field(default="", max_length=35)  # SEPA Gläubiger-ID
    case_prefix: str = Field(default="HST", max_length=8)  # Vorgangsnummer prefix
    file_number_pattern: str = Field(default="20.2-HSt-{seq:06d}/{year}", max_length=60)
    # Letterhead logo (PNG or JPEG, at most 200 KB, type sniffed from the content). Left out
    # of model_dump(): letters get it as a data: URI through municipalities.service.letterhead.
    logo: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary, nullable=True), exclude=True
    )
    logo_media_type: str = Field(default="", max_length=20)
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)


class DogTaxRateTable(SQLModel, table=True):
    """A municipality's dog-tax rates for one tax year (see services.procedures.dog_tax)."""

    __tablename__ = "dog_tax_rate_tables"
    __table_args__ = (UniqueConstraint("municipality_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    year: int
    data: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
