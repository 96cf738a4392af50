"""Benchmark: the office queue page at 1,000 and at 1,000,000 cases.

Builds two databases by running the migrations (SQLite files in a temporary directory by
default), fills one municipality with ``--small`` and one with ``--large`` cases (plus a second
municipality with a twentieth as many, so the municipality condition matters) in a realistic
mix: about 97 % closed, the rest spread over the open states, three clerks, deadlines around
today. Then it requests the queue page as a logged-in clerk through the whole FastAPI app
(``TestClient``) for a set of representative views, filters, searches and keyset pages, and
prints each request's median time at both sizes and their ratio (goal: <= 2), together with
the query plan of the page's main query (full scans of ``cases`` are flagged).

    uv run python bench/queue.py                       # SQLite, 1,000 and 1,000,000 cases
    uv run python bench/queue.py --large 100000 --repeat 10
    uv run python bench/queue.py --postgres            # throwaway PostgreSQL (as run-tests.sh)
    uv run python bench/queue.py --database-url postgresql+psycopg://user@host:5432/postgres
    uv run python bench/queue.py --keep /tmp/qbench    # keep the databases, reuse them next run

Not part of the test suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is called queue.py: keep its directory off the path, or it shadows the standard
# library's ``queue`` (which anyio, under the TestClient, imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import html  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402

REPO = _HERE.parent
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore", message=".*httpx.*")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, event, insert, inspect, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

import services.models  # noqa: E402, F401  (registers every table)
from services.accounts.models import StaffUser  # noqa: E402
from services.accounts.service import hash_password  # noqa: E402
from services.app import create_app  # noqa: E402
from services.cases.models import Case  # noqa: E402
from services.cases.service import search_key  # noqa: E402
from services.config import Settings  # noqa: E402
from services.db import is_sqlite, migrate  # noqa: E402
from services.demo import herzberg  # noqa: E402
from services.municipalities.models import Municipality  # noqa: E402
from services.timeutil import today_local  # noqa: E402

PASSWORD = "bench-password-" + "x" * 12
BATCH = 20_000
PROCEDURE = "dog_registration"

FAMILY_NAMES = (
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
    "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann "
    "Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann "
    "König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert "
    "Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht "
    "Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto "
    "Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn "
    "Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer"
).split()
GIVEN_NAMES = (
    "Erika Max Anna Paul Maria Lukas Sophie Felix Emma Jonas Hannah Leon Mia Finn Lena Elias "
    "Laura Noah Julia Ben Lea Tim Sarah Jan Katharina Tobias Petra Thomas Sabine Michael Andrea "
    "Stefan Monika Frank Claudia Uwe Karin Jürgen Heike Dieter Ursula Klaus Renate Günter Ines"
).split()
DOG_NAMES = "Bello Luna Rex Balu Emma Sammy Nala Charly Lucky Kira Aika Benny Paula Rocky".split()
# Open states and their shares among open cases (with the share left unassigned).
OPEN_STATES = [
    ("submitted", 0.20, 0.85),
    ("completeness_check", 0.10, 0.05),
    ("information_requested", 0.15, 0.05),
    ("answer_received", 0.05, 0.10),
    ("in_review", 0.25, 0.05),
    ("awaiting_second_approval", 0.08, 0.0),
    ("approved", 0.07, 0.0),
    ("notice_issued", 0.07, 0.0),
    ("tag_issued", 0.03, 0.0),
]
CLOSED_STATES = [("closed", 0.85), ("rejected", 0.08), ("withdrawn", 0.07)]
YEARS = 5
RECENT_DAYS = 45  # cases filed in the last weeks are mostly still open


def log(message: str) -> None:
    print(message, flush=True)


# --- the databases ----------------------------------------------------------------------------


@dataclass
class Db:
    label: str
    size: int
    url: str
    clerk_ids: list[int]
    sample: dict  # a few real values to search for
    load_seconds: float = 0.0
    index_seconds: float = 0.0


class Postgres:
    """A throwaway PostgreSQL server, started the way scripts/run-tests.sh does."""

    def __init__(self, port: int) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not bins:
            raise SystemExit("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
        self.bin = bins[-1]
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="amtsweg-bench-pg."))
        self.as_pg: list[str] = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "amtsweg-pg"], capture_output=True).returncode != 0:
                subprocess.run(
                    [
                        "useradd",
                        "--system",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        "amtsweg-pg",
                    ],
                    check=True,
                )
            shutil.chown(self.dir, "amtsweg-pg")
            self.as_pg = ["runuser", "-u", "amtsweg-pg", "--"]
        self.dir.chmod(0o700)

    def start(self) -> str:
        data = self.dir / "data"
        subprocess.run(
            [
                *self.as_pg,
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB "
            "-c maintenance_work_mem=512MB -c shared_buffers=512MB"
        )
        subprocess.run(
            [
                *self.as_pg,
                str(self.bin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.dir / "log"),
                "-w",
                "-o",
                options,
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        log(f"Throwaway PostgreSQL {self.bin.parent.name} on 127.0.0.1:{self.port}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_pg,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "fast",
                "stop",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def _new_postgres_database(admin_url: str, size: int) -> str:
    name = f"amtsweg_bench_{size}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _raw_engine(url: str) -> Engine:
    """An engine for loading: no WAL, no fsync (SQLite); the app opens its own engine later."""
    if not is_sqlite(url):
        return create_engine(url)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=DELETE")
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA cache_size=-400000")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    return engine


def _municipalities_and_staff(engine: Engine) -> tuple[int, int, list[int]]:
    pw = hash_password(PASSWORD)
    with Session(engine, expire_on_commit=False) as db:
        home = herzberg(db)
        other = Municipality(
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
            case_prefix="FAL",
        )
        db.add(other)
        db.flush()
        clerks = []
        for username, name in (
            ("bench-clerk", "Petra Schulze"),
            ("bench-clerk2", "Thomas Richter"),
            ("bench-clerk3", "Karin Lehmann"),
        ):
            u = StaffUser(
                municipality_id=home.id,
                username=username,
                display_name=name,
                password_hash=pw,
                roles=["clerk", "approver"],
            )
            db.add(u)
            clerks.append(u)
        foreign = StaffUser(
            municipality_id=other.id,
            username="bench-foreign",
            display_name="Uwe Fremd",
            password_hash=pw,
            roles=["clerk"],
        )
        db.add(foreign)
        db.commit()
        return home.id, other.id, [u.id for u in clerks] + [foreign.id]


def _pick(rng: random.Random, table):
    r = rng.random()
    for row in table:
        r -= row[1]
        if r <= 0:
            return row
    return table[-1]


def generate_cases(
    size: int, home_id: int, other_id: int, clerk_ids: list[int], today: date, seed: int = 7
) -> Iterator[list[dict]]:
    """Batches of case rows in filing order, both municipalities interleaved."""
    rng = random.Random(seed)
    other_size = max(50, size // 20)
    total = size + other_size
    now = datetime.now(UTC).replace(microsecond=0)
    span = YEARS * 365 * 86400
    # Filing times, oldest first; evenly spread over the years with jitter.
    step = span / total
    # Share of older cases left open so that about 3 % are open overall.
    recent_share = min(1.0, RECENT_DAYS * 86400 / span)
    old_open = max(0.0, (0.03 - recent_share * 0.9) / (1 - recent_share))
    chips: set[str] = set()
    counters: dict[tuple[int, int], int] = {}
    home_clerks, foreign_clerk = clerk_ids[:3], clerk_ids[3]
    batch: list[dict] = []
    for i in range(total):
        submitted = now - timedelta(seconds=span - int(i * step + rng.random() * step))
        mid = other_id if i % 21 == 20 else home_id
        prefix = "FAL" if mid == other_id else "HST"
        year = submitted.year
        counters[(mid, year)] = number = counters.get((mid, year), 0) + 1
        age = (now - submitted).days
        is_open = rng.random() < (0.9 if age < RECENT_DAYS else old_open)
        clerks = home_clerks if mid == home_id else [foreign_clerk]
        filed = submitted.date()
        due = filed + timedelta(days=14)
        reply_by = paused_since = None
        paused_days = 0
        if is_open:
            state, _, unassigned_share = _pick(rng, OPEN_STATES)
            assignee = None if rng.random() < unassigned_share else rng.choice(clerks)
            if state == "information_requested":
                paused_since = now - timedelta(days=rng.randint(0, 20))
                reply_by = today + timedelta(days=rng.randint(-6, 14))
                paused_days = rng.randint(0, 10)
                due = due + timedelta(days=paused_days + (now - paused_since).days)
        else:
            state = _pick(rng, CLOSED_STATES)[0]
            assignee = rng.choice(clerks) if rng.random() < 0.95 else None
        family, given = rng.choice(FAMILY_NAMES), rng.choice(GIVEN_NAMES)
        owner = f"{family}, {given}"
        while True:
            chip = "276" + f"{rng.randrange(10**12):012d}"
            if chip not in chips:
                chips.add(chip)
                break
        reference = f"{prefix}-{year}-{number:06d}"
        key = f"{i + 1:064x}"
        batch.append(
            {
                "municipality_id": mid,
                "procedure_id": PROCEDURE,
                "procedure_version": 1,
                "reference": reference,
                "file_number": f"20.3-{reference}",
                "state": state,
                "is_open": is_open,
                "answers": {
                    "keeper": {"family_name": family, "given_names": given},
                    "dog": {"dog_name": rng.choice(DOG_NAMES), "chip_number": chip},
                },
                "status_token_hash": key,
                "submission_key": key,
                "owner_name": owner,
                "search_name": search_key(owner),
                "chip_number": chip,
                "assignee_id": assignee,
                "submitted_at": submitted,
                "due_date": due,
                "paused_since": paused_since,
                "paused_days": paused_days,
                "reply_by": reply_by,
                "reminded_at": None,
                "updated_at": submitted + timedelta(days=rng.randint(0, 20)),
                "version": 1,
            }
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _case_indexes(conn) -> dict[str, str]:
    """Droppable indexes on ``cases`` (not those behind a constraint): name -> DDL."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cases' "
            "AND sql IS NOT NULL"
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases' AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint)"
        )
    return {name: sql for name, sql in rows}


def _all_case_index_names(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name FROM pragma_index_list('cases')")
    else:
        rows = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'cases'")
    return {r[0] for r in rows}


def build(url: str, label: str, size: int) -> Db:
    log(f"[{label}] migrating {url.split('@')[-1]}")
    migrate(url)
    engine = _raw_engine(url)
    home_id, other_id, clerk_ids = _municipalities_and_staff(engine)
    today = today_local()
    started = time.perf_counter()
    with engine.begin() as conn:
        indexes = _case_indexes(conn)
        for name in indexes:
            conn.exec_driver_sql(f"DROP INDEX {name}")
        loaded = 0
        for batch in generate_cases(size, home_id, other_id, clerk_ids, today):
            conn.execute(insert(Case.__table__), batch)
            loaded += len(batch)
            if loaded % 200_000 < BATCH:
                log(f"[{label}]   {loaded:>9,} cases  {time.perf_counter() - started:6.1f} s")
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        for sql in indexes.values():
            conn.exec_driver_sql(sql)
        _add_model_indexes(conn, label)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # PostgreSQL: VACUUM sets the visibility map, without which no index-only scan happens.
        conn.exec_driver_sql("ANALYZE" if conn.dialect.name == "sqlite" else "VACUUM ANALYZE")
    index_seconds = time.perf_counter() - started
    engine.dispose()
    log(
        f"[{label}] loaded {size:,} + {max(50, size // 20):,} cases in {load_seconds:.1f} s, "
        f"indexes and ANALYZE {index_seconds:.1f} s"
    )
    db = Db(label, size, url, clerk_ids, {}, load_seconds, index_seconds)
    db.sample = _sample(url, home_id)
    return db


def _add_model_indexes(conn, label: str) -> None:
    """Make the indexes on ``cases`` match those declared on Case, so a proposed index can be
    measured before its migration exists, and say loudly that a migration is needed."""
    present = {
        i["name"]: i["column_names"]
        for i in inspect(conn).get_indexes("cases")
        if not i.get("duplicates_constraint")  # PostgreSQL: the index behind a UNIQUE
    }
    for index in Case.__table__.indexes:
        columns = [c.name for c in index.columns]
        if present.get(index.name) == columns:
            continue
        if index.name in present:
            log(
                f"[{label}] WARNING: index {index.name} is declared on Case as {columns}, the "
                f"migrations create {present[index.name]}: recreating it for the benchmark"
            )
            conn.exec_driver_sql(f"DROP INDEX {index.name}")
        else:
            log(
                f"[{label}] WARNING: index {index.name} {columns} is declared on Case but no "
                "migration creates it: creating it for the benchmark"
            )
        index.create(conn)
    declared = {i.name for i in Case.__table__.indexes}
    for name in sorted(set(present) - declared):
        log(f"[{label}] note: index {name} exists in the database but is not declared on Case")


def _sample(url: str, home_id: int) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        ref, chip = conn.execute(
            select(Case.reference, Case.chip_number)
            .where(Case.municipality_id == home_id, Case.is_open == True)  # noqa: E712
            .order_by(Case.id)
            .limit(1)
        ).one()
    engine.dispose()
    return {"reference": ref, "chip": chip}


def reuse(url: str, label: str, size: int) -> Db | None:
    """A database kept by an earlier run with --keep (SQLite only)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            home_id = conn.execute(
                text("SELECT id FROM municipalities WHERE slug = 'herzberg-elster'")
            ).scalar_one()
            n = conn.execute(
                text("SELECT count(*) FROM cases WHERE municipality_id = :m"), {"m": home_id}
            ).scalar_one()
            if n != size:
                return None
            clerk_ids = [
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM staff_users WHERE username LIKE 'bench-%' ORDER BY id")
                )
            ]
    except Exception:  # noqa: BLE001 - not a database of ours: build anew
        engine.dispose()
        return None
    log(f"[{label}] reusing {url}")
    with engine.begin() as conn:
        _add_model_indexes(conn, label)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return Db(label, size, url, clerk_ids, _sample(url, home_id))


# --- the requests -----------------------------------------------------------------------------


@dataclass
class Request:
    name: str
    query: str
    pages: int = 1  # follow "Nächste Seite" to this page


def requests(db: Db) -> list[Request]:
    today = today_local()
    me, colleague = db.clerk_ids[0], db.clerk_ids[1]
    ref = db.sample["reference"]
    chip = db.sample["chip"]
    return [
        Request("open, by deadline (default)", ""),
        Request("mine", "view=mine"),
        Request("unassigned", "view=unassigned"),
        Request("waiting for citizen", "view=waiting"),
        Request("due soon", "view=due_soon"),
        Request("overdue", "view=overdue"),
        Request("second approval", "view=second_approval"),
        Request("all, newest first", "view=all&sort=submitted"),
        Request("all, by deadline (tab link)", "view=all"),
        Request("all, by reference", "view=all&sort=reference"),
        Request("open, page 2", "", pages=2),
        Request("open, page 20", "", pages=20),
        Request("all newest, page 20", "view=all&sort=submitted", pages=20),
        Request("state in_review", "state=in_review"),
        Request(
            "state+assignee+procedure",
            f"state=in_review&assignee={colleague}&procedure={PROCEDURE}",
        ),
        Request("assignee=none, all", "view=all&assignee=none"),
        Request("mine, all, closed state", f"view=all&assignee={me}&state=closed&sort=submitted"),
        Request(
            "open, filed last 30 days",
            f"submitted_from={(today - timedelta(days=30)).isoformat()}"
            f"&submitted_to={today.isoformat()}",
        ),
        Request(
            "all newest, filed in a quarter",
            f"view=all&sort=submitted&submitted_from={today.year - 2}-01-01"
            f"&submitted_to={today.year - 2}-03-31",
        ),
        Request("search name 'Müller' (open)", "q=M%C3%BCller"),
        Request("search name 'Müller' (all)", "view=all&q=M%C3%BCller"),
        Request("search 'Müller, Anna' (all)", "view=all&q=M%C3%BCller%2C+Anna"),
        Request("search reference prefix (all)", f"view=all&q={ref[:-1]}"),
        Request("search chip (all)", f"view=all&q={chip}"),
    ]


NEXT = re.compile(r'<a href="(/office/\?[^"]*)">Nächste Seite</a>')


def resolve(client: TestClient, req: Request) -> tuple[str, int]:
    """The URL of the request's page (following keyset links) and the page reached."""
    url = "/office/" + (f"?{req.query}" if req.query else "")
    page = 1
    while page < req.pages:
        r = client.get(url)
        m = NEXT.search(r.text)
        if not m:
            break
        url = html.unescape(m.group(1))
        page += 1
    return url, page


class Recorder:
    def __init__(self, engine: Engine) -> None:
        self.statements: list[tuple[str, object]] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.statements.append((statement, parameters))


def _plan(engine: Engine, statement: str, parameters) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return [r[3] for r in rows]
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
        return [r[0] for r in rows]


def _bad(plan: list[str], sqlite: bool) -> list[str]:
    flags = []
    for line in plan:
        s = line.strip()
        if sqlite and re.match(r"SCAN (cases|anon_1)\b", s) and "anon_1" not in s:
            flags.append("FULL SCAN")
        if not sqlite and "Seq Scan on cases" in s:
            flags.append("FULL SCAN")
    if any("TEMP B-TREE FOR ORDER BY" in s or s.lstrip("-> ").startswith("Sort ") for s in plan):
        flags.append("sort")
    return sorted(set(flags))


@dataclass
class Result:
    median_ms: float
    page: int
    plan: list[str]
    flags: list[str]
    rows: int


class Client:
    """A logged-in clerk on one database's app."""

    def __init__(self, db: Db, secret: str) -> None:
        settings = Settings(
            env="test",
            database_url=db.url,
            mail_worker="off",
            secret_key=secret,
            base_url="http://testserver",
        )
        self.db = db
        self.app = create_app(settings)
        self.engine = self.app.state.engine
        self.recorder = Recorder(self.engine)
        self.client = TestClient(self.app)
        self.client.__enter__()
        page = self.client.get("/office/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = self.client.post(
            "/office/login",
            data={"csrf_token": token, "username": "bench-clerk", "password": PASSWORD},
        )
        assert r.status_code == 200 and r.url.path == "/office/", "login failed"

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.engine.dispose()

    def prepare(self, req: Request) -> tuple[str, int, list[str], int, dict]:
        """URL, page reached, plan of the main query, rows shown; count plans on the side."""
        url, reached = resolve(self.client, req)
        self.recorder.statements.clear()
        self.recorder.on = True
        r = self.client.get(url)
        self.recorder.on = False
        assert r.status_code == 200, (req.name, r.status_code)
        rows = r.text.count('<a href="/office/cases/')
        statements = self.recorder.statements
        main = [
            s
            for s in statements
            if "FROM cases" in s[0] and "ORDER BY" in s[0] and "count(" not in s[0]
        ]
        plan = _plan(self.engine, *main[0]) if main else ["(main query not captured)"]
        counts = {
            f"count #{n}": _plan(self.engine, *s)
            for n, s in enumerate(
                (s for s in statements if "count(" in s[0] and "FROM cases" in s[0]), 1
            )
        }
        return url, reached, plan, rows, counts

    def time_ms(self, url: str) -> float:
        started = time.perf_counter()
        r = self.client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert r.status_code == 200
        return elapsed


def measure(
    dbs: list[Db], secret: str, repeat: int, warmup: int
) -> tuple[list[dict[str, Result]], dict]:
    """Every request on every database, runs interleaved so that load from elsewhere on the
    machine hits both sizes alike."""
    clients = [Client(db, secret) for db in dbs]
    results: list[dict[str, Result]] = [{} for _ in dbs]
    count_plans: dict = {}
    try:
        for req in requests(dbs[-1]):
            prepared = []
            for c in clients:
                # The search samples differ per database: take each database's own.
                own = next(r for r in requests(c.db) if r.name == req.name)
                prepared.append(c.prepare(own))
            count_plans = count_plans or prepared[-1][4]
            timings: list[list[float]] = [[] for _ in clients]
            for run in range(warmup + repeat):
                for i, c in enumerate(clients):
                    ms = c.time_ms(prepared[i][0])
                    if run >= warmup:
                        timings[i].append(ms)
            line = []
            for i, c in enumerate(clients):
                url, reached, plan, rows, _ = prepared[i]
                median = statistics.median(timings[i])
                results[i][req.name] = Result(
                    median, reached, plan, _bad(plan, c.engine.dialect.name == "sqlite"), rows
                )
                line.append(f"{c.db.label} {median:7.1f} ms (page {reached}, {rows} rows)")
            log(f"  {req.name:<34} " + "  ".join(line))
    finally:
        for c in clients:
            c.close()
    return results, count_plans


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    parser.add_argument("--pg-port", type=int, default=54339)
    parser.add_argument(
        "--database-url", help="PostgreSQL server URL (a database per size is created on it)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="SQLite: keep the databases in this directory "
        "and reuse them when they have the right size",
    )
    parser.add_argument("--plans", action="store_true", help="print every query plan in full")
    args = parser.parse_args()

    secret = "bench-secret-" + "x" * 40
    server = None
    workdir = None
    try:
        if args.postgres:
            server = Postgres(args.pg_port)
            admin_url = server.start()
        else:
            admin_url = args.database_url
        dbs: list[Db] = []
        if args.keep and not admin_url:
            args.keep.mkdir(parents=True, exist_ok=True)
        elif not admin_url:
            workdir = Path(tempfile.mkdtemp(prefix="amtsweg-bench-queue."))
        for label, size in (("small", args.small), ("large", args.large)):
            if admin_url:
                dbs.append(build(_new_postgres_database(admin_url, size), label, size))
                continue
            path = (args.keep or workdir) / f"queue-{size}.db"
            url = f"sqlite:///{path}"
            existing = reuse(url, label, size) if args.keep and path.exists() else None
            if existing:
                dbs.append(existing)
                continue
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            dbs.append(build(url, label, size))

        log(f"measuring {len(requests(dbs[0]))} requests, {args.repeat} runs each per size")
        results, count_plans = measure(dbs, secret, args.repeat, args.warmup)
        report(dbs, results, count_plans, args.plans)
    finally:
        if server:
            server.stop()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def report(dbs: list[Db], results, counts_large, full_plans: bool) -> None:
    (small, large), (rs, rl) = dbs, results
    backend = "SQLite" if is_sqlite(small.url) else "PostgreSQL"
    print()
    print(f"Queue page (GET /office/ as a clerk, whole app), {backend}, median of each request")
    for db in dbs:
        if db.load_seconds:
            print(
                f"  {db.label}: {db.size:,} cases (+{max(50, db.size // 20):,} in a second "
                f"municipality): load {db.load_seconds:.1f} s, indexes+ANALYZE "
                f"{db.index_seconds:.1f} s"
            )
    head = (
        f"{'request':<34} | {f'{small.size:,} (ms)':>12} | {f'{large.size:,} (ms)':>14} | "
        f"{'ratio':>6} | plan at {large.size:,}"
    )
    print(head)
    print("-" * len(head))
    ratios = []
    for name, big in rl.items():
        little = rs[name]
        ratio = big.median_ms / little.median_ms
        ratios.append(ratio)
        note = ", ".join(big.flags) or "index"
        if little.page != big.page:
            note += f" (small db: page {little.page} is the last)"
        mark = "  <-- over 2" if ratio > 2 else ""
        print(
            f"{name:<34} | {little.median_ms:12.1f} | {big.median_ms:14.1f} | {ratio:6.2f} | "
            f"{note}{mark}"
        )
    print("-" * len(head))
    print(f"{'median ratio':<34} | {'':12} | {'':14} | {statistics.median(ratios):6.2f} |")
    print(f"{'worst ratio':<34} | {'':12} | {'':14} | {max(ratios):6.2f} |")
    print()
    print(
        f"Plans of the main queue query at {large.size:,} ("
        + ("EXPLAIN QUERY PLAN" if backend == "SQLite" else "EXPLAIN")
        + "):"
    )
    for name, big in rl.items():
        lines = big.plan if full_plans else [ln for ln in big.plan if _interesting(ln)]
        print(f"  {name}: " + " / ".join(ln.strip() for ln in lines))
    print("Plans of the view counts (same on every page):")
    for name, plan in counts_large.items():
        lines = plan if full_plans else [ln for ln in plan if _interesting(ln)]
        print(f"  {name}: " + " / ".join(ln.strip() for ln in lines))


def _interesting(line: str) -> bool:
    s = line.strip()
    return bool(
        re.match(r"(SCAN|SEARCH|USE TEMP|CO-ROUTINE|MATERIALIZE)", s)
        or re.search(r"(Scan|Sort|Limit)", s)
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
