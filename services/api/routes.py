"""REST API for back-office systems (read-only for now), authenticated by the staff session."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel

from services.review import queue as queues
from services.review import service
from services.timeutil import aware
from services.web.deps import (
    CurrentStaff,
    NotLoggedIn,
    SessionDep,
    SettingsDep,
    current_staff,
)
from services.web.templating import render

# Timestamps are stored in UTC; SQLite hands them back without a zone. In answers they are
# RFC 3339 date-times with their offset ("2026-11-24T09:30:00Z").
UtcDateTime = Annotated[datetime, AfterValidator(aware)]


class ErrorDetail(BaseModel):
    detail: str  # German / English message


def errors(*statuses: int) -> dict[int | str, dict]:
    """The error answers an operation gives, for the API description."""
    return {status: {"model": ErrorDetail, "description": ERRORS[status]} for status in statuses}


ERRORS = {
    400: "Ungültige Anfrage (z. B. ein unzulässiges Zeichen) / bad request",
    401: "Nicht angemeldet / not logged in (a staff session is required)",
    404: "Diesen Vorgang gibt es nicht, oder Sie dürfen ihn nicht sehen / no such case",
}

# Query values never contain NUL (refused with 400 for every address, see
# services.web.deps.refuse_nul); the description says so.
QueryText = Annotated[str, Query(pattern="^[^\x00]*$")]

router = APIRouter(prefix="/api/v1", tags=["cases"])


class CasePublic(BaseModel):
    reference: str
    file_number: str
    procedure_id: str
    procedure_version: int
    state: str
    owner_name: str
    submitted_at: UtcDateTime
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


@router.get("/cases", response_model=CaseList, responses=errors(400, 401))
def list_cases(
    staff: CurrentStaff,
    db: SessionDep,
    view: QueryText = "all",
    state: QueryText = "",
    q: QueryText = "",
    after: QueryText = "",
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


@router.get("/cases/{reference}", response_model=CaseDetail, responses=errors(400, 401, 404))
def get_case(reference: str, staff: CurrentStaff, db: SessionDep):
    return CaseDetail.model_validate(
        service.case_for_staff(db, staff, reference), from_attributes=True
    )


# --- the API description (OpenAPI) and its viewer ----------------------------------------

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"


def docs_visible(request: Request, db: SessionDep, settings: SettingsDep) -> None:
    """In production only logged-in staff see the API description and its viewer (the API
    serves staff only; nobody else needs its map). Everyone else gets "not found", as for
    an address that does not exist. In development and tests they are open."""
    if settings.is_production:
        try:
            current_staff(request, db, settings)
        except NotLoggedIn:
            raise HTTPException(404) from None


docs_router = APIRouter(include_in_schema=False, dependencies=[Depends(docs_visible)])


@docs_router.get(OPENAPI_URL)
def openapi_description(request: Request) -> Response:
    return JSONResponse(request.app.openapi())


@docs_router.get(DOCS_URL)
def docs_page(request: Request) -> Response:
    """Swagger UI from the application's own static files (package ``swagger-ui-bundle-v2``,
    mounted at /static/swagger-ui/), started by /static/api-docs.js: no CDN, no inline
    script, so it works offline and under the Content-Security-Policy."""
    return render(request, "api/docs.html", openapi_url=OPENAPI_URL)


def describe_api(app: FastAPI) -> None:
    """Make ``app.openapi()`` (served above) tell the truth about error answers: FastAPI
    declares 422 for every operation with parameters, but this application answers a
    malformed request with 400 (declared per operation with ``errors``), never 422."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
