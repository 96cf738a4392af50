"""REST API for back-office systems (read-only for now), authenticated by the staff session."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

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


class CaseDetail(CasePublic):
    answers: dict


class CaseList(BaseModel):
    items: list[CasePublic]
    total: int
    page: int
    pages: int


@router.get("/health", tags=["system"])
def health() -> dict:
    return {"status": "ok"}


@router.get("/cases", response_model=CaseList)
def list_cases(staff: CurrentStaff, db: SessionDep, state: str | None = None, page: int = 1):
    result = service.queue(db, staff, state, page)
    return CaseList(
        items=[CasePublic.model_validate(c, from_attributes=True) for c in result.cases],
        total=result.total,
        page=result.page,
        pages=result.pages,
    )


@router.get("/cases/{reference}", response_model=CaseDetail)
def get_case(reference: str, staff: CurrentStaff, db: SessionDep):
    return CaseDetail.model_validate(
        service.case_for_staff(db, staff, reference), from_attributes=True
    )
