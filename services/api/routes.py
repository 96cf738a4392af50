"""REST API for back-office systems (read-only for now), authenticated by the staff session."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from services.review import queue as queues
from services.review import service
from services.web.deps import CurrentStaff, SessionDep

router = APIRouter(prefix="/api/v1", tags=["cases"])


class CasePublic(BaseModel):
    reference: str
    file_number: str
    procedure_id: str
    procedure_version: int
    state: str
    owner_name: str
    submitted_at: datetime
    version: int
    due_date: date
    assignee_id: int | None


class CaseDetail(CasePublic):
    answers: dict


class CaseList(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None  # pass as ?after= for the next page


@router.get("/health", tags=["system"])
def health() -> dict:
    return {"status": "ok"}


@router.get("/cases", response_model=CaseList)
def list_cases(
    staff: CurrentStaff,
    db: SessionDep,
    view: str = "all",
    state: str = "",
    q: str = "",
    after: str = "",
):
    """Cases of the caller's municipality, 50 per page in case-number order."""
    f = queues.QueueFilter(
        view=view if view in queues.VIEWS else "all",
        state=state,
        q=q,
        sort="reference",
        after=after,
    )
    result = queues.queue(db, staff, f)
    return CaseList(
        items=[CasePublic.model_validate(c, from_attributes=True) for c in result.cases],
        next_cursor=result.next_cursor,
    )


@router.get("/cases/{reference}", response_model=CaseDetail)
def get_case(reference: str, staff: CurrentStaff, db: SessionDep):
    return CaseDetail.model_validate(
        service.case_for_staff(db, staff, reference), from_attributes=True
    )
