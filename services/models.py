"""Import every table so SQLModel.metadata is complete (Alembic, tests)."""

from services.accounts.models import StaffUser
from services.annual.models import NoticeRun, NoticeRunItem
from services.audit.models import AdminEvent, CaseEvent
from services.cases.models import Case, Document, Draft, RegisteredDog, Sequence
from services.fim.models import FimImport
from services.jobs.models import Job
from services.mail.models import OutboxMessage
from services.municipalities.models import DogTaxRateTable, Municipality
from services.procedures.models import ProcedureVersion
from services.uploads.models import Upload

__all__ = [
    "AdminEvent",
    "Case",
    "CaseEvent",
    "Document",
    "Job",
    "DogTaxRateTable",
    "Draft",
    "FimImport",
    "Municipality",
    "NoticeRun",
    "NoticeRunItem",
    "OutboxMessage",
    "ProcedureVersion",
    "RegisteredDog",
    "Sequence",
    "StaffUser",
    "Upload",
]
