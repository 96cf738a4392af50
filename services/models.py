"""Import every table so SQLModel.metadata is complete (Alembic, tests)."""

from services.accounts.models import StaffUser
from services.audit.models import CaseEvent
from services.cases.models import Case, Document, Draft, RegisteredDog, Sequence
from services.mail.models import OutboxMessage
from services.municipalities.models import DogTaxRateTable, Municipality
from services.uploads.models import Upload

__all__ = [
    "Case",
    "CaseEvent",
    "Document",
    "DogTaxRateTable",
    "Draft",
    "Municipality",
    "OutboxMessage",
    "RegisteredDog",
    "Sequence",
    "StaffUser",
    "Upload",
]
