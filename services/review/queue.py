"""The office's queues: views (mine, unassigned, waiting, due soon, overdue, second approval),
filters, prefix search and keyset pagination that stays fast at a million cases.

Every query starts from the actor's municipality and runs along one of the indexes declared
on ``Case`` (see ``services/cases/models.py``); counts are capped so that a tab never counts
more than ``COUNT_CAP`` rows.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, tuple_
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms.model import Text
from services.accounts.models import StaffUser
from services.cases.models import Case
from services.cases.service import search_key
from services.db import INT_MAX, INT_MIN, parse_int
from services.timeutil import BERLIN, today_local

PAGE_SIZE = 50
COUNT_CAP = 999
DUE_SOON_DAYS = 3
WAITING = "information_requested"

VIEWS: dict[str, Text] = {
    "open": Text(de="Alle offenen", en="All open"),
    "mine": Text(de="Meine Vorgänge", en="My cases"),
    "unassigned": Text(de="Nicht zugewiesen", en="Unassigned"),
    "waiting": Text(de="Wartet auf Antwort", en="Waiting for the applicant"),
    "due_soon": Text(de="Bald fällig", en="Due soon"),
    "overdue": Text(de="Überfällig", en="Overdue"),
    "second_approval": Text(de="Zweitprüfung", en="Second approval"),
    "all": Text(de="Alle, auch abgeschlossene", en="All, including closed"),
}
SORTS = {
    "due": Text(de="Frist, früheste zuerst", en="Deadline, earliest first"),
    "submitted": Text(de="Eingang, neueste zuerst", en="Received, newest first"),
    "reference": Text(de="Vorgangsnummer", en="Case number"),
}


@dataclass(frozen=True)
class QueueFilter:
    view: str = "open"
    state: str = ""
    procedure: str = ""
    assignee: str = ""  # staff id, "none" for unassigned, "" for anyone
    submitted_from: date | None = None
    submitted_to: date | None = None
    q: str = ""
    sort: str = "due"
    after: str = ""  # keyset cursor of the last row of the previous page
    before: str = ""  # keyset cursor of the first row of the next page

    def params(self, **changes: str) -> dict[str, str]:
        """Query parameters for a link to this filter with ``changes`` (cursor reset)."""
        fields = {k: v for k, v in changes.items() if k not in ("after", "before")}
        f = replace(self, after="", before="", **fields)
        out = {
            "view": f.view,
            "state": f.state,
            "procedure": f.procedure,
            "assignee": f.assignee,
            "q": f.q,
            "sort": f.sort,
            "submitted_from": f.submitted_from.isoformat() if f.submitted_from else "",
            "submitted_to": f.submitted_to.isoformat() if f.submitted_to else "",
        }
        out.update({k: v for k, v in changes.items() if k in ("after", "before")})
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class QueuePage:
    cases: list[Case]
    filter: QueueFilter
    counts: dict[str, int]  # per view, capped at COUNT_CAP + 1
    next_cursor: str | None
    prev_cursor: str | None
    today: date = field(default_factory=today_local)


# "= true" rather than "IS TRUE": PostgreSQL serves only the former from a B-tree index.
IS_OPEN = Case.is_open == True  # noqa: E712


def _view_clause(view: str, staff: StaffUser, today: date):
    match view:
        case "mine":
            return and_(Case.assignee_id == staff.id, IS_OPEN)
        case "unassigned":
            return and_(Case.assignee_id.is_(None), IS_OPEN)
        case "waiting":
            return Case.state == WAITING
        case "due_soon":
            return and_(
                IS_OPEN,
                Case.decided_at.is_(None),
                Case.state != WAITING,
                Case.due_date >= today,
                Case.due_date <= today + timedelta(days=DUE_SOON_DAYS),
            )
        case "overdue":
            return and_(
                IS_OPEN,
                Case.decided_at.is_(None),
                Case.state != WAITING,
                Case.due_date < today,
            )
        case "second_approval":
            return Case.state == "awaiting_second_approval"
        case "all":
            return None
    return IS_OPEN  # "open", the default


def _prefix(column, text: str):
    """``column`` starts with ``text``, as a range any B-tree index serves (SQLite and
    PostgreSQL alike, whatever the collation)."""
    return and_(column >= text, column < text + "\uffff")


def _search_kind(q: str) -> str:
    """What a search text looks for: "", "reference", "chip" or "name"."""
    q = q.strip()
    if not q:
        return ""
    digits = re.sub(r"[\s\-.]", "", q)
    if re.fullmatch(r"[A-Za-z]{2,8}-\d{4}(-\d{0,6})?", q):
        return "reference"
    if digits.isdigit() and len(digits) >= 4:
        return "chip"
    return "name"


def _is_name_search(q: str) -> bool:
    return _search_kind(q) == "name"


def _search_clause(q: str, staff: StaffUser):
    q = q.strip()
    match _search_kind(q):
        case "":
            return None
        case "reference":
            return _prefix(Case.reference, q.upper())
        case "chip":
            return _prefix(Case.chip_number, re.sub(r"[\s\-.]", "", q))
    return _prefix(Case.search_name, search_key(q))


def _conditions(db: Session, staff: StaffUser, f: QueueFilter, today: date) -> list:
    clauses = [Case.municipality_id == staff.municipality_id]
    for clause in (_view_clause(f.view, staff, today), _search_clause(f.q, staff)):
        if clause is not None:
            clauses.append(clause)
    if f.state:
        clauses.append(Case.state == f.state)
    if f.procedure:
        clauses.append(Case.procedure_id == f.procedure)
    if f.assignee == "none":
        clauses.append(Case.assignee_id.is_(None))
    elif (assignee := parse_int(f.assignee)) is not None:
        clauses.append(Case.assignee_id == assignee)
    if f.submitted_from:
        clauses.append(Case.submitted_at >= _utc(f.submitted_from))
    if f.submitted_to:
        clauses.append(Case.submitted_at < _utc(f.submitted_to + timedelta(days=1)))
    return clauses


def _utc(day: date) -> datetime:
    """Midnight in Berlin as UTC: timestamps are stored in UTC (SQLite keeps no zone)."""
    return datetime.combine(day, time(), BERLIN).astimezone(UTC)


def _sort_key(sort: str):
    """(column, ascending) of the sort order; ties are broken by id in the same direction."""
    return {"submitted": (Case.submitted_at, False), "reference": (Case.reference, True)}.get(
        sort, (Case.due_date, True)
    )


def encode_cursor(case: Case, sort: str) -> str:
    column, _ = _sort_key(sort)
    value = getattr(case, column.key)
    raw = json.dumps([value.isoformat() if hasattr(value, "isoformat") else value, case.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str):
    """The (sort value, id) of a cursor; None for a broken or tampered cursor."""
    try:
        value, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        column, _ = _sort_key(sort)
        if column is Case.due_date:
            value = date.fromisoformat(value)
        elif column is Case.submitted_at:
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str) or "\x00" in value:
            return None
        case_id = int(case_id)
        return (value, case_id) if INT_MIN <= case_id <= INT_MAX else None
    except (ValueError, TypeError):
        return None


def queue(db: Session, staff: StaffUser, f: QueueFilter, today: date | None = None) -> QueuePage:
    today = today or today_local()
    column, ascending = _sort_key(f.sort)
    clauses = _conditions(db, staff, f, today)
    key = tuple_(column, Case.id)
    backwards = bool(f.before) and not f.after
    cursor = (
        decode_cursor(f.before if backwards else f.after, f.sort) if (f.after or f.before) else None
    )
    if cursor is not None:
        forward_gt = ascending != backwards
        clauses.append(key > tuple_(*cursor) if forward_gt else key < tuple_(*cursor))
    order_asc = ascending != backwards
    order = (column.asc(), Case.id.asc()) if order_asc else (column.desc(), Case.id.desc())
    if _is_name_search(f.q) or f.submitted_from or f.submitted_to:
        # A common family name or a date range matches thousands of cases that must be sorted:
        # pick the page's ids from the covering search (or filing date) index first, then read
        # only those rows.
        ids = list(db.exec(select(Case.id).where(*clauses).order_by(*order).limit(PAGE_SIZE + 1)))
        found = {
            c.id: c
            for c in db.exec(select(Case).options(defer(Case.answers)).where(Case.id.in_(ids)))
        }
        rows = [found[i] for i in ids if i in found]
    else:
        rows = list(
            db.exec(
                select(Case)
                .options(defer(Case.answers))
                .where(*clauses)
                .order_by(*order)
                .limit(PAGE_SIZE + 1)
            )
        )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = (cursor is not None) if not backwards else more
    return QueuePage(
        cases=rows,
        filter=f,
        counts=view_counts(db, staff, today),
        next_cursor=encode_cursor(rows[-1], f.sort) if rows and has_next else None,
        prev_cursor=encode_cursor(rows[0], f.sort) if rows and has_prev else None,
        today=today,
    )


def view_counts(db: Session, staff: StaffUser, today: date) -> dict[str, int]:
    """Cases per view, each count stopping at COUNT_CAP + 1 ("999+"); one statement with a
    capped count per view, each along its view's index."""
    counts = []
    for view in VIEWS:
        clauses = [Case.municipality_id == staff.municipality_id]
        clause = _view_clause(view, staff, today)
        if clause is not None:
            clauses.append(clause)
        capped = select(Case.id).where(*clauses).limit(COUNT_CAP + 1).subquery()
        counts.append(select(func.count()).select_from(capped).scalar_subquery().label(view))
    return dict(db.exec(select(*counts)).one()._mapping)
