"""Tenant isolation matrix: staff of municipality B (Falkenberg) request every staff-facing
URL with A's (Herzberg's) objects. They get 404 for A's objects (403 where the page exists
but their role is wrong), nothing of A is changed, and no page body shows A's case
references, names, accounts or settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qsl, quote

import pytest
from sqlmodel import select

from services.accounts.models import StaffUser
from services.audit.models import AdminEvent
from services.cases.models import Case, Document
from services.jobs.models import Job
from services.municipalities.models import DogTaxRateTable, Municipality
from services.procedures.models import ProcedureVersion
from services.procedures.versions import seed_builtin
from services.uploads.models import Upload
from tests.conftest import PDF, csrf_of, login, make_staff

YEAR = date.today().year


@dataclass
class World:
    reference: str
    case_id: int
    upload_id: int
    document_id: int
    clerk_id: int
    admin_id: int
    job_id: int
    secrets: tuple[str, ...]  # text of A that B must never see


@pytest.fixture
def world(db, municipality, other_municipality, case_factory, clerk, foreign_clerk) -> World:
    case = case_factory(
        "in_review", name="Geheimhaus, Gisela", assignee=clerk, chip="276098765432101"
    )
    upload = Upload(
        municipality_id=municipality.id,
        case_id=case.id,
        slot="evidence_shelter",
        filename="geheimvertrag.pdf",
        media_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
        scan_status="clean",
        content=PDF,
    )
    document = Document(
        case_id=case.id,
        municipality_id=municipality.id,
        kind="receipt",
        filename="eingangsbestaetigung.pdf",
        size=len(PDF),
        sha256="1" * 64,
        template="receipt.html",
        content=PDF,
    )
    db.add(upload)
    db.add(document)
    job = Job(
        kind="cases.receipt",
        key="receipt:geheim",
        args={"case_id": case.id},
        municipality_id=municipality.id,
        case_id=case.id,
        state="failed",
        attempts=8,
        last_error="RuntimeError: Geheimhaus",
    )
    db.add(job)
    admin = make_staff(db, municipality, "hadmin", "Hanna Herzadmin", ["admin"])
    make_staff(db, other_municipality, "fadmin", "Frank Fremdadmin", ["admin"])
    # A's draft of the dog registration (version 2), with a label only A's form has.
    seed_builtin(db, municipality.id)
    v1 = db.exec(
        select(ProcedureVersion).where(
            ProcedureVersion.municipality_id == municipality.id,
            ProcedureVersion.procedure_id == "dog_registration",
        )
    ).one()
    db.add(
        ProcedureVersion(
            municipality_id=municipality.id,
            procedure_id="dog_registration",
            version=2,
            status="draft",
            form_yaml=v1.form_yaml.replace("Rufname des Hundes", "Geheimname des Hundes"),
            workflow_yaml=v1.workflow_yaml,
            notices=v1.notices,
            based_on=1,
        )
    )
    db.commit()
    return World(
        reference=case.reference,
        case_id=case.id,
        upload_id=upload.id,
        document_id=document.id,
        clerk_id=clerk.id,
        admin_id=admin.id,
        job_id=job.id,
        secrets=(
            case.reference,
            "Geheimhaus",
            "276098765432101",
            "geheimvertrag",
            "Petra Schulze",
            "Hanna Herzadmin",
            "hadmin",
            "Gisela",
            "Herzberg",
            "DE54180510000000012345",
            "36,00",
            "Geheimname",
        ),
    )


# (method, url template, expected status for B's clerk, expected status for B's admin;
# the office is open to every staff role, the admin area to administrators only).
# 200 means: the page is B's own view and must simply not show A's data.
MATRIX = [
    ("GET", "/office/", 200, 200),
    ("GET", "/office/?q={reference}", 200, 200),
    ("GET", "/office/?q=Geheimhaus", 200, 200),
    ("GET", "/office/?view=all", 200, 200),
    ("GET", "/office/cases/{reference}", 404, 404),
    ("GET", "/office/cases/{reference}/files/{upload_id}", 404, 404),
    ("GET", "/office/cases/{reference}/documents/{document_id}", 404, 404),
    ("POST", "/office/cases/{reference}/transitions/start_check", 404, 404),
    ("POST", "/office/cases/{reference}/transitions/approve", 404, 404),
    ("POST", "/office/cases/{reference}/claim", 404, 404),
    ("POST", "/office/cases/{reference}/assign", 404, 404),
    ("POST", "/office/cases/{reference}/release", 404, 404),
    ("POST", "/office/cases/{reference}/replace-tag", 404, 404),
    ("GET", "/office/runs", 200, 200),
    ("GET", "/api/v1/cases", 200, 200),
    ("GET", "/api/v1/cases?q={reference}", 200, 200),
    ("GET", "/api/v1/cases/{reference}", 404, 404),
    ("GET", "/admin/", 403, 200),
    ("GET", "/admin/municipality", 403, 200),
    ("POST", "/admin/municipality", 403, 400),
    ("GET", "/admin/municipality/rates/{year}", 403, 200),
    ("POST", "/admin/municipality/rates/{year}", 403, 400),
    ("GET", "/admin/users", 403, 200),
    ("GET", "/admin/users/{clerk_id}", 403, 404),
    ("GET", "/admin/users/{admin_id}", 403, 404),
    ("POST", "/admin/users/{clerk_id}", 403, 404),
    ("POST", "/admin/users/{clerk_id}/active", 403, 404),
    ("POST", "/admin/users/{clerk_id}/reset-password", 403, 404),
    ("POST", "/admin/users/{admin_id}/active", 403, 404),
    ("GET", "/admin/procedures", 403, 200),
    ("GET", "/admin/fim-import", 403, 200),
    ("GET", "/admin/statistics", 403, 200),
    ("GET", "/admin/statistics.csv", 403, 200),
    ("GET", "/admin/jobs", 403, 200),
    ("GET", "/admin/jobs?state=failed", 403, 200),
    ("POST", "/admin/jobs/{job_id}/retry", 403, 404),
    # The form editor of A's draft version (B has no version 2 of its own).
    ("GET", "/admin/procedures/{procedure}/versions/{draft}/form", 403, 404),
    ("POST", "/admin/procedures/{procedure}/versions/{draft}/form", 403, 404),
    ("GET", "/admin/procedures/{procedure}/versions/{draft}/form/steps/{step}", 403, 404),
    ("POST", "/admin/procedures/{procedure}/versions/{draft}/form/steps/{step}", 403, 404),
    ("GET", "/admin/procedures/{procedure}/versions/{draft}/form/steps/{step}/new-field", 403, 404),
    (
        "POST",
        "/admin/procedures/{procedure}/versions/{draft}/form/steps/{step}/new-field",
        403,
        404,
    ),
    (
        "GET",
        "/admin/procedures/{procedure}/versions/{draft}/form/steps/{step}/fields/{field}",
        403,
        404,
    ),
    (
        "POST",
        "/admin/procedures/{procedure}/versions/{draft}/form/steps/{step}/fields/{field}",
        403,
        404,
    ),
]


def _paths(routes, prefix: str = "") -> list[str]:
    """Every route path of the application, also inside included routers."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # newer FastAPI wraps includes
        if inner is not None:
            found += _paths(inner.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods") and getattr(route, "path", None):
            found.append(prefix + route.path)
    return found


def staff_paths(app) -> list[str]:
    return sorted({p for p in _paths(app.routes) if p.startswith(("/office", "/admin", "/api/v1"))})


def _route_exists(app, url: str) -> bool:
    path = url.split("?")[0]
    return any(re.fullmatch(re.sub(r"\{[a-z_]+\}", "[^/]+", p), path) for p in staff_paths(app))


def _snapshot(db) -> tuple:
    db.expire_all()
    h = db.exec(select(Municipality).where(Municipality.slug == "herzberg-elster")).one()
    case = db.exec(select(Case).where(Case.municipality_id == h.id)).one()
    users = db.exec(select(StaffUser).where(StaffUser.municipality_id == h.id)).all()
    tables = db.exec(select(DogTaxRateTable).where(DogTaxRateTable.municipality_id == h.id)).all()
    return (
        h.model_dump(),
        (case.state, case.assignee_id, case.version, case.owner_name),
        sorted((u.username, u.active, tuple(u.roles), u.password_hash) for u in users),
        sorted((t.year, str(t.data)) for t in tables),
        len(db.exec(select(Upload)).all()),
        len(db.exec(select(Document)).all()),
        len(db.exec(select(AdminEvent).where(AdminEvent.municipality_id == h.id)).all()),
        sorted((j.key, j.state) for j in db.exec(select(Job)).all()),
        sorted(
            (v.procedure_id, v.version, v.status, v.form_yaml)
            for v in db.exec(
                select(ProcedureVersion).where(ProcedureVersion.municipality_id == h.id)
            ).all()
        ),
    )


@pytest.mark.parametrize("who", ["clerk", "admin"])
@pytest.mark.parametrize(("method", "template", "as_clerk", "as_admin"), MATRIX)
def test_other_municipality_never_sees_or_changes_a(
    app, client, db, world, who, method, template, as_clerk, as_admin
):
    url = template.format(
        reference=world.reference,
        upload_id=world.upload_id,
        document_id=world.document_id,
        clerk_id=world.clerk_id,
        admin_id=world.admin_id,
        job_id=world.job_id,
        year=YEAR,
        procedure="dog_registration",
        draft=2,
        step="dog",
        field="dog_name",
    )
    assert _route_exists(app, url), f"{url} is in the matrix but not served"
    before = _snapshot(db)
    login(client, "foreign" if who == "clerk" else "fadmin")
    token = csrf_of(client.get("/office/runs").text)  # the logout form carries it
    if method == "GET":
        r = client.get(url)
    else:
        data = {
            "csrf_token": token,
            "version": "1",
            "assignee_id": str(world.clerk_id),
            "reason": "verloren",
            "active": "no",
            "display_name": "Gekapert",
            "roles": "clerk",
            "name": "Gekapert",
        }
        r = client.post(url, data=data)
    expected = as_clerk if who == "clerk" else as_admin
    assert r.status_code == expected, (url, r.status_code, r.text[:500])
    # Error pages link back to the requested address (language switch): that is B's own
    # request, not A's data.
    body = r.text
    # A search form shows B's own search term back; the results must not hold A's case.
    path, _, query = url.partition("?")
    for own in (path, quote(path, safe="/")):
        body = body.replace(own, "")
    assert f"/office/cases/{world.reference}" not in body
    for own in (v for _, v in parse_qsl(query)):
        body = body.replace(own, "")
    for secret in world.secrets:
        assert secret not in body, (url, secret)
    assert _snapshot(db) == before


# Staff routes that take no object of another municipality (nothing to forge).
NOT_ABOUT_A = {
    "/office/login",
    "/office/logout",
    "/api/v1/health",
    "/admin/users/new",
    "/admin/municipality/rates",
}
# Procedure versions and the FIM import are being built in parallel; their per-object pages
# join the matrix with that work (their list pages are covered above).
PENDING = ("/admin/procedures/", "/admin/fim-import/")


def test_matrix_covers_every_staff_route(app):
    """A new staff route must join the matrix (or NOT_ABOUT_A, with a reason)."""
    covered = {re.sub(r"\{[a-z_]+\}", "{}", t.split("?")[0]) for _, t, _, _ in MATRIX}
    covered = {c.replace("/transitions/start_check", "/transitions/{}") for c in covered}
    paths = staff_paths(app)
    assert "/office/cases/{reference}" in paths and "/admin/users/{user_id}" in paths
    missing = [
        p
        for p in paths
        if p not in NOT_ABOUT_A
        and not p.startswith(PENDING)
        and re.sub(r"\{[a-z_]+\}", "{}", p) not in covered
    ]
    assert missing == [], f"add these staff routes to the isolation matrix: {missing}"
