"""Shared fixtures. Integration fixtures run once per database backend: SQLite always,
PostgreSQL when AMTSWEG_TEST_POSTGRES_URL is set (``make test`` starts a throwaway server).
Databases are built by running the Alembic migrations; rows are removed after each test."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

import services.models  # noqa: F401
from services.accounts.models import StaffUser
from services.accounts.service import hash_password
from services.app import create_app
from services.config import Settings
from services.db import metadata, migrate
from services.demo import herzberg
from services.municipalities.models import DogTaxRateTable, Municipality

PASSWORD = "correct-horse-battery-staple"
_HASH = hash_password(PASSWORD)

BACKENDS = ["sqlite"]
if os.environ.get("AMTSWEG_TEST_POSTGRES_URL"):
    BACKENDS.append("postgres")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("AMTSWEG_REQUIRE_POSTGRES") and "postgres" not in BACKENDS:
        raise pytest.UsageError("AMTSWEG_REQUIRE_POSTGRES is set but no PostgreSQL URL given")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` are about PostgreSQL only (row lock modes): their SQLite
    variants are deselected, not skipped."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (drop if on_sqlite and item.get_closest_marker("postgres") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _postgres_database(admin_url: str) -> str:
    name = f"amtsweg_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'amtsweg.db'}"
    else:
        url = _postgres_database(os.environ["AMTSWEG_TEST_POSTGRES_URL"])
    migrate(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        base_url="http://testserver",
        secret_key="test-secret-" + "x" * 40,
        # Jobs a request queues run right after its commit, in the test's thread.
        jobs="immediate",
        mail_dir=tmp_path_factory.mktemp("mail"),
    )


@pytest.fixture(scope="session")
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def db(app) -> Iterator[Session]:
    engine = app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        yield session
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def client(app, db) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def municipality(db: Session) -> Municipality:
    m = herzberg(db)
    db.commit()
    return m


@pytest.fixture
def other_municipality(db: Session) -> Municipality:
    m = Municipality(
        slug="falkenberg-elster",
        name="Stadt Falkenberg/Elster",
        authority="Der Bürgermeister",
        department="Kämmerei",
        street="Markt 5",
        postal_code="04895",
        town="Falkenberg/Elster",
        iban="DE02120300000000202051",
        bic="BYLADEM1001",
        bank_name="Testbank",
        creditor_id="DE98ZZZ09999999998",
    )
    db.add(m)
    db.flush()
    db.add(
        DogTaxRateTable(
            municipality_id=m.id,
            year=date.today().year,
            data={
                "year": date.today().year,
                "model": "by_order",
                "rates": ["60.00", "70.00", "80.00"],
                "dangerous_rate": "600.00",
            },
        )
    )
    db.commit()
    return m


def make_staff(
    db: Session, m: Municipality, username: str, name: str, roles: list[str]
) -> StaffUser:
    user = StaffUser(
        municipality_id=m.id, username=username, display_name=name, password_hash=_HASH, roles=roles
    )
    db.add(user)
    db.commit()
    return user


@pytest.fixture
def clerk(db, municipality) -> StaffUser:
    return make_staff(db, municipality, "clerk", "Petra Schulze", ["clerk"])


@pytest.fixture
def approver(db, municipality) -> StaffUser:
    return make_staff(db, municipality, "approver", "Thomas Richter", ["clerk", "approver"])


@pytest.fixture
def second_approver(db, municipality) -> StaffUser:
    return make_staff(db, municipality, "approver2", "Karin Lehmann", ["clerk", "approver"])


@pytest.fixture
def foreign_clerk(db, other_municipality) -> StaffUser:
    return make_staff(db, other_municipality, "foreign", "Uwe Fremd", ["clerk", "approver"])


# --- acting through HTTP ----------------------------------------------------------------------

URL = "/herzberg-elster/hund-anmelden"


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def answers(**overrides: Any) -> dict[str, dict[str, str]]:
    """A complete, valid filing as form posts per step (override any field by name)."""
    steps = {
        "keeper": {
            "given_names": "Erika",
            "family_name": "Mustermann",
            "birth_date": "12.08.1980",
            "street": "Torgauer Straße",
            "house_number": "12",
            "postal_code": "04916",
            "town": "Herzberg (Elster)",
            "email": "erika@example.org",
            "phone": "",
            "joint_keeping": "no",
            "moved_in": "no",
        },
        "dog": {
            "dog_name": "Bello",
            "breed": "Mischling (Schäferhund)",
            "colour": "schwarz-braun",
            "sex": "male",
            "dog_birth_date": "01.06.2021",
            "chip_number": "276 0981 0000 1234",
            "intake_date": "14.05.2026",
            "acquired_from_person": "no",
        },
        "dangerous": {"declared_dangerous": "no"},
        "dangerous_details": {
            "dangerous_decision_date": "02.02.2026",
            "dangerous_file_number": "32.1-GH-17/2026",
            "permit_number": "32.1-E-4/2026",
            "insurer": "Elster Versicherung",
            "policy_number": "HV-123456",
        },
        "reduction": {"reduction_requested": "no"},
        "payment": {"payment_method": "direct_debit", "payment_interval": "quarterly"},
        "sepa": {
            "account_holder_differs": "no",
            "iban": "DE89 3704 0044 0532 0130 00",
            "bic": "",
            "mandate_place": "Herzberg (Elster)",
            "sepa_consent": "yes",
        },
        "declarations": {"privacy_read": "yes", "truthful": "yes"},
    }
    for key, value in overrides.items():
        step = next((s for s, f in steps.items() if key in f), None) or _EXTRA_FIELDS[key]
        steps[step][key] = value
    return steps


# Conditional fields, not in the default filing: the step each belongs to.
_EXTRA_FIELDS = {
    "moved_in_date": "keeper",
    "previous_municipality": "keeper",
    "previous_address": "keeper",
    "reduction_reason": "reduction",
    "reduction_valid_until": "reduction",
    "previous_keeper_name": "dog",
    "previous_keeper_address": "dog",
    "account_holder_name": "sepa",
    "account_holder_address": "sepa",
}


# A minimal real PDF (sniffed as application/pdf by the upload service).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
    b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def pdf_file(field: str, name: str) -> tuple[str, tuple[str, bytes, str]]:
    return (field, (name, PDF, "application/pdf"))


# Evidence the default filings upload on steps with required file slots.
STEP_FILES = {
    "dangerous_details": [
        pdf_file("dangerous_decision_file", "entscheidung-ordnungsbehoerde.pdf"),
        pdf_file("permit_file", "erlaubnis.pdf"),
        pdf_file("insurance_file", "versicherung.pdf"),
    ],
    "reduction": [pdf_file("evidence_shelter", "tierheimvertrag.pdf")],
}


def start(client: TestClient) -> str:
    page = client.get(URL)
    token = csrf_of(page.text)
    r = client.post(f"{URL}/start", data={"csrf_token": token})
    assert r.status_code == 200 and r.url.path == f"{URL}/steps/keeper"
    return token


def file_registration(client: TestClient, steps: dict[str, dict[str, str]] | None = None):
    """Walk the form as a citizen: post each step the server asks for, then submit."""
    steps = steps or answers()
    token = start(client)
    r = client.get(f"{URL}/steps/keeper")
    for _ in range(20):
        step_id = r.url.path.rsplit("/", 1)[-1]
        if step_id == "check":
            break
        r = client.post(
            f"{URL}/steps/{step_id}",
            data={"csrf_token": token, **steps[step_id]},
            files=STEP_FILES.get(step_id),
        )
        assert r.status_code == 200, f"step {step_id}: {r.status_code}"
    assert r.url.path == f"{URL}/check"
    r = client.post(f"{URL}/submit", data={"csrf_token": token})
    assert r.url.path == f"{URL}/confirmation"
    return r


def status_path(confirmation_html: str) -> str:
    m = re.search(r'href="http://testserver(/status/[A-Za-z0-9_\-]+)"', confirmation_html)
    assert m, "confirmation shows no status link"
    return m.group(1)


def reference_of(html: str) -> str:
    m = re.search(r"HST-\d{4}-\d{6}", html)
    assert m
    return m.group(0)


def login(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/office/login")
    return client.post(
        "/office/login",
        data={"csrf_token": csrf_of(page.text), "username": username, "password": password},
    )


def act(
    client: TestClient, reference: str, name: str, comment: str = "", version: int | None = None
):
    if version is None:
        page = client.get(f"/office/cases/{reference}")
        m = re.search(r'name="version" value="(\d+)"', page.text)
        version = int(m.group(1)) if m else 1
    token = csrf_of(client.get("/office/").text)  # the logout form carries it
    return client.post(
        f"/office/cases/{reference}/transitions/{name}",
        data={"csrf_token": token, "version": str(version), "comment": comment},
    )


def to_review(client: TestClient, reference: str) -> None:
    """Take a filed case through the completeness check into review, as a clerk."""
    assert act(client, reference, "start_check").status_code == 200
    assert act(client, reference, "complete").status_code == 200


# --- factories --------------------------------------------------------------------------


@pytest.fixture
def case_factory(db, municipality):
    """Build cases in any state directly (no HTTP, no PDF): ``case_factory(state="in_review",
    dangerous=True, assignee=clerk, due_in=3, name="Müller, Anna")``."""
    from datetime import timedelta

    from forms import validate
    from services.audit import service as audit
    from services.cases.models import Case
    from services.cases.service import search_key
    from services.procedures.registry import get
    from services.timeutil import today_local, utcnow

    proc = get("dog_registration")
    counter = {"n": 0}

    def make(
        state: str = "submitted",
        *,
        dangerous: bool = False,
        assignee=None,
        due_in: int = 14,
        name: str = "Mustermann, Erika",
        chip: str | None = None,
        submitted_days_ago: int = 0,
        reply_by=None,
        m=None,
        email: str = "erika@example.org",
    ):
        counter["n"] += 1
        n = counter["n"]
        m = m or municipality
        family, _, given = name.partition(", ")
        flat = {
            k: v
            for step in answers(
                declared_dangerous="yes" if dangerous else "no",
                family_name=family,
                given_names=given or "Erika",
                email=email,
                chip_number=chip or f"276098{n:09d}",
            ).values()
            for k, v in step.items()
        }
        if dangerous:
            flat.update(
                {
                    f: [{"id": 0, "filename": f"{f}.pdf"}]
                    for f in ("dangerous_decision_file", "permit_file", "insurance_file")
                }
            )
        clean, errors = validate(proc.form, flat, today=today_local())
        assert errors == [], errors
        now = utcnow() - timedelta(days=submitted_days_ago)
        case = Case(
            municipality_id=m.id,
            procedure_id=proc.id,
            procedure_version=proc.version,
            reference=f"{m.case_prefix}-{now.year}-{n:06d}",
            file_number=f"20.2-HSt-{n:06d}",
            state=state,
            is_open=not proc.workflow.states[state].terminal,
            answers=clean,
            status_token_hash=f"{n:064x}",
            submission_key=f"key{n:061x}",
            owner_name=name,
            search_name=search_key(family, given or "Erika"),
            chip_number=clean["chip_number"],
            assignee_id=assignee.id if assignee else None,
            submitted_at=now,
            due_date=today_local() + timedelta(days=due_in),
            paused_since=utcnow() if state == "information_requested" else None,
            decided_at=utcnow() if proc.workflow.states[state].decided else None,
            reply_by=reply_by,
        )
        db.add(case)
        db.flush()
        audit.record(
            db,
            case_id=case.id,
            municipality_id=m.id,
            actor_kind="citizen",
            actor_id=None,
            actor_name="Antragsteller/in",
            action="filed",
            to_state="submitted",
            public=True,
        )
        if state != "submitted":
            audit.record(
                db,
                case_id=case.id,
                municipality_id=m.id,
                actor_kind="system",
                actor_id=None,
                actor_name="Testaufbau",
                action="test_setup",
                from_state="submitted",
                to_state=state,
            )
        db.commit()
        return case

    return make
