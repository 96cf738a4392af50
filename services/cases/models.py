"""Cases, citizens' drafts, documents and per-municipality number sequences."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.timeutil import TZ, utcnow


class Draft(SQLModel, table=True):
    """A citizen's unfiled answers, kept server-side so nothing typed is lost between steps."""

    __tablename__ = "drafts"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    procedure_id: str = Field(max_length=60)
    procedure_version: int
    answers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    case_id: int | None = Field(default=None, foreign_key="cases.id")  # set once filed
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    updated_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    expires_at: datetime = Field(sa_type=TZ(), index=True)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("municipality_id", "reference"),
        # Queue views: open cases by deadline, mine/unassigned, by state, newest, all cases by
        # deadline, search (bench/queue.py measures them at a million cases).
        # ``state`` trails the open index so the capped overdue/due-soon counts, which exclude
        # cases waiting for the citizen, never read the table.
        Index("ix_cases_queue_open", "municipality_id", "is_open", "due_date", "id", "state"),
        Index(
            "ix_cases_queue_assignee", "municipality_id", "assignee_id", "is_open", "due_date", "id"
        ),
        Index("ix_cases_queue_state", "municipality_id", "state", "due_date", "id"),
        # Covers the open filter and the deadline sort for a filing date range (see queue()).
        Index(
            "ix_cases_queue_submitted",
            "municipality_id",
            "submitted_at",
            "id",
            "is_open",
            "due_date",
        ),
        Index("ix_cases_queue_due", "municipality_id", "due_date", "id"),
        # Name search covers the open filter and both date sorts: a common family name matches
        # thousands of cases, and queue() picks the page's ids from this index alone.
        Index(
            "ix_cases_search_name",
            "municipality_id",
            "search_name",
            "is_open",
            "due_date",
            "submitted_at",
            "id",
        ),
        Index("ix_cases_chip", "municipality_id", "chip_number"),
        Index("ix_cases_decided", "municipality_id", "decided_at"),  # statistics
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    procedure_id: str = Field(max_length=60)
    procedure_version: int
    reference: str = Field(max_length=40, index=True)  # Vorgangsnummer HST-2026-000123
    file_number: str = Field(max_length=60)  # Aktenzeichen
    state: str = Field(max_length=40)
    is_open: bool = Field(default=True)  # not in a terminal state
    answers: dict = Field(sa_column=Column(JSON, nullable=False))
    status_token_hash: str = Field(max_length=64, unique=True, index=True)
    submission_key: str = Field(max_length=64, unique=True)  # one filing per draft
    owner_name: str = Field(max_length=220)  # "Mustermann, Erika", for the queue
    search_name: str = Field(default="", max_length=220)  # casefolded owner name, prefix search
    chip_number: str | None = Field(default=None, max_length=15)
    assignee_id: int | None = Field(default=None, foreign_key="staff_users.id")
    submitted_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    # Statutory deadline: submitted + processing days + days spent waiting for the citizen.
    due_date: date
    paused_since: datetime | None = Field(default=None, sa_type=TZ())
    paused_days: int = Field(default=0)
    reply_by: date | None = None  # while information is requested
    reminded_at: datetime | None = Field(default=None, sa_type=TZ())
    decided_at: datetime | None = Field(default=None, sa_type=TZ())  # the clock stops here
    updated_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    version: int = Field(default=1)  # optimistic lock


class Document(SQLModel, table=True):
    """A produced document (notice, receipt), stored with its case."""

    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    kind: str = Field(max_length=30)  # notice, receipt
    filename: str = Field(max_length=200)
    media_type: str = Field(default="application/pdf", max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    template: str = Field(max_length=100)
    template_version: int = Field(default=1)
    meta: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    public: bool = Field(default=True)  # downloadable through the citizen's status link
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # While a job renders the PDF (services/cases/documents.py): the composed HTML and the
    # PDF's metadata. None once the PDF is stored; ``content`` is empty until then.
    render_source: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))

    @property
    def pending(self) -> bool:
        """The PDF is still being rendered (no content and no hash yet)."""
        return not self.sha256


class Sequence(SQLModel, table=True):
    """Gap-free counters per municipality, name and year (case numbers, tag numbers)."""

    __tablename__ = "sequences"
    __table_args__ = (UniqueConstraint("municipality_id", "name", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id")
    name: str = Field(max_length=40)
    year: int
    value: int = Field(default=0)


class RegisteredDog(SQLModel, table=True):
    """The municipality's dog register: dogs with an issued notice and tag number."""

    __tablename__ = "registered_dogs"
    __table_args__ = (UniqueConstraint("municipality_id", "tag_number"),)

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipalities.id", index=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    owner_key: str = Field(max_length=300, index=True)  # normalised name + date of birth
    chip_number: str = Field(max_length=15, index=True)
    dog_name: str = Field(max_length=60)
    tag_number: str = Field(max_length=20)
    liable_from: str = Field(max_length=10)  # ISO date
    liable_until: str | None = Field(default=None, max_length=10)
    dangerous: bool = False
    exempt: bool = False  # 100 % exemption granted
    # Lost tags: [{"tag_number", "replaced_on", "reason"}]; the current one is tag_number.
    replaced_tags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=TZ(), default_factory=utcnow)
