"""Shared helpers of bench/load.py and bench/faults.py (not a benchmark itself).

- processes: every server the benchmarks start runs in its own process group and is ended
  (SIGTERM, then SIGKILL) by ``Processes.stop_all`` in a ``finally``, also on Ctrl+C/SIGTERM;
- a throwaway PostgreSQL started like scripts/run-tests.sh (as user ``amtsweg-pg`` when
  root), but with durable defaults (no ``fsync=off``);
- ``amtsweg serve`` / ``amtsweg worker`` with a fresh environment, start-to-first-answer time,
  resident memory of process trees from /proc;
- the citizen: whole dog registrations through the portal pages with aiohttp (a fresh cookie
  jar per filing, keep-alive per client, every request timed);
- the ceiling app (a bare FastAPI insert endpoint) and the bare receipt render.

Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# bench/queue.py would shadow the standard library's queue when this file is run directly.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import asyncio
import contextlib
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urljoin

URL = "/herzberg-elster/hund-anmelden"
DEMO_PASSWORD = "bench-" + "x" * 20

# --------------------------------------------------------------------------------------------
# Output


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float | None:
    """Percentile by nearest rank (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


def fmt(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "–" if value is None else f"{value * scale:,.{digits}f}"


def write_json(path: str | None, data: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")
        log(f"figures written to {path}")


# --------------------------------------------------------------------------------------------
# Machine


def pg_bin() -> Path | None:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return bins[-1] if bins else None


def machine() -> dict[str, Any]:
    import aiohttp
    import uvicorn

    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": "",
        "memory_gb": None,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "postgresql": None,
        "uvicorn": uvicorn.__version__,
        "aiohttp": aiohttp.__version__,
        "load_average": os.getloadavg(),
        "commit": "",
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        info["memory_gb"] = round(kb / 1024 / 1024, 1)
    b = pg_bin()
    if b:
        out = subprocess.run([str(b / "postgres"), "--version"], capture_output=True, text=True)
        info["postgresql"] = out.stdout.strip().replace("postgres (PostgreSQL) ", "")
    with contextlib.suppress(OSError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        info["commit"] = out.stdout.strip() + (" (modified)" if dirty.stdout.strip() else "")
    return info


def machine_line(info: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    return (
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB, "
        f"{info['system']}; Python {info['python']}; PostgreSQL {info['postgresql'] or '–'}; "
        f"uvicorn {info['uvicorn']}; aiohttp {info['aiohttp']}; load average {load}; "
        f"commit {info['commit'] or '–'}"
    )


# --------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def amtsweg_command() -> list[str]:
    script = Path(sys.executable).with_name("amtsweg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "services.cli"]


def ppid_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    tree = ppid_map()
    out, stack = [], list(tree.get(pid, []))
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(tree.get(p, []))
    return out


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each process of these trees (the pids and their descendants)."""
    out: dict[int, float] = {}
    for pid in pids:
        for p in [pid, *descendants(pid)]:
            out[p] = cpu_s(p)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def role_of(pid: int) -> str:
    """What a process of a server tree is: web worker (uvicorn's spawned child), job worker,
    multiprocessing's resource tracker, or other."""
    cmd = cmdline(pid)
    if "resource_tracker" in cmd:
        return "tracker"
    if "spawn_main" in cmd:
        return "web"
    if re.search(r"(services\.cli|amtsweg)\s+worker\b", cmd):
        return "job"
    return "other"


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def log_problems(path: Path) -> int:
    """Lines of a server log that report an error (level ERROR/CRITICAL or a traceback)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return 0
    return len(re.findall(r"\b(ERROR|CRITICAL)\b|^Traceback", text, flags=re.MULTILINE))


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    started: float  # time.monotonic() at start

    @property
    def pid(self) -> int:
        return self.popen.pid


class Processes:
    """Every process started here, each in its own process group; ``stop_all`` ends them."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> Proc:
        log_file = open(log_path, "ab")  # noqa: SIM115 - the child keeps it
        try:
            popen = subprocess.Popen(
                cmd,
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log_file.close()
        proc = Proc(name, popen, log_path, time.monotonic())
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 20.0) -> None:
        if proc in self.procs:
            self.procs.remove(proc)
        pgid = proc.popen.pid
        # Everything in the process group (uvicorn's workers, serve's job worker) gets TERM.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(5)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies count as gone.
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[3]) == pgid and stat[0] != "Z":
                return True
    return False


def wait_http(url: str, proc: Proc, timeout: float = 180.0) -> float:
    """Poll ``url`` until it answers 200; returns seconds from the process start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log_path)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - proc.started
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(
        f"{proc.name} did not answer {url} in {timeout:.0f} s:\n" + tail(proc.log_path)
    )


def save_logs(root: Path, dest: str | None, pg: Postgres | None = None) -> None:
    """Copy the servers' (and PostgreSQL's) logs to ``dest`` before the temp dirs go."""
    if not dest:
        return
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    logs = list(root.rglob("*.log"))
    if pg is not None and (pg.dir / "log").exists():
        logs.append(pg.dir / "log")
    for path in logs:
        name = "postgresql.log" if path.name == "log" else path.name
        prefix = path.parent.name + "-" if path.parent != root and path.name != "log" else ""
        with contextlib.suppress(OSError):
            shutil.copy(path, out / (prefix + name))
    log(f"logs copied to {out}")


def install_signal_handlers() -> None:
    """SIGTERM (and SIGHUP) end the benchmark like Ctrl+C, so ``finally`` blocks clean up."""

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    # Ctrl+C raises KeyboardInterrupt even when started with SIGINT ignored (e.g. by `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --------------------------------------------------------------------------------------------
# PostgreSQL


class Postgres:
    """A throwaway PostgreSQL server (as scripts/run-tests.sh, but durable: fsync on,
    synchronous_commit on)."""

    def __init__(self, port: int | None = None) -> None:
        b = pg_bin()
        if b is None:
            raise SystemExit(
                "PostgreSQL is not installed (/usr/lib/postgresql/*/bin): apt-get install "
                "postgresql, or skip the PostgreSQL scenarios"
            )
        self.bin = b
        if port and not port_free(port):
            log(f"port {port} is taken; PostgreSQL gets a free one")
            port = None
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="amtsweg-bench-pg."))
        self.as_pg: list[str] = []
        self.running = False
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

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), *args],
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start(self) -> str:
        subprocess.run(
            [
                *self.as_pg,
                str(self.bin / "initdb"),
                "-D",
                str(self.dir / "data"),
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
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c synchronous_commit=on"
        )
        done = self._ctl("-l", str(self.dir / "log"), "-w", "-o", options, "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start on port {self.port}: {done.stderr.strip()}\n"
                + tail(self.dir / "log")
            )
        self.running = True
        log(f"throwaway PostgreSQL on 127.0.0.1:{self.port} ({self.dir})")
        return self.admin_url

    def restart(self) -> float:
        """``pg_ctl restart -m fast``; returns the seconds it took (down and up again)."""
        t0 = time.monotonic()
        self._ctl("-l", str(self.dir / "log"), "-w", "-m", "fast", "restart")
        return time.monotonic() - t0

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.running:
            self._ctl("-m", "fast", "stop", check=False)
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Amtsweg processes


def base_env(database_url: str, port: int, workdir: Path, web_workers: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSWEG_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    (workdir / "mail").mkdir(parents=True, exist_ok=True)
    env.update(
        AMTSWEG_ENV="development",
        AMTSWEG_SECRET_KEY=secrets.token_urlsafe(48),
        AMTSWEG_LOG_LEVEL="warning",
        AMTSWEG_DATABASE_URL=database_url,
        AMTSWEG_HOST="127.0.0.1",
        AMTSWEG_PORT=str(port),
        AMTSWEG_BASE_URL=f"http://127.0.0.1:{port}",
        AMTSWEG_MAIL_DIR=str(workdir / "mail"),
        AMTSWEG_JOBS="worker",
        PYTHONUNBUFFERED="1",
    )
    if web_workers > 1:
        prom = workdir / "prometheus"
        prom.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    return env


def prepare_database(env: dict[str, str]) -> None:
    """``amtsweg db upgrade`` and ``amtsweg demo --password …`` on env's database."""
    for args in (["db", "upgrade"], ["demo", "--password", DEMO_PASSWORD]):
        out = subprocess.run(
            [*amtsweg_command(), *args], env=env, cwd=REPO, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"amtsweg {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")


_serve_help: str | None = None


def serve_supports_worker_flag() -> bool:
    """Whether ``amtsweg serve`` has ``--with-worker/--no-worker``."""
    global _serve_help
    if _serve_help is None:
        out = subprocess.run(
            [*amtsweg_command(), "serve", "--help"],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "COLUMNS": "200"},
        )
        _serve_help = out.stdout + out.stderr
    return "--no-worker" in _serve_help


@dataclass
class Server:
    proc: Proc
    port: int
    startup_s: float

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_serve(
    procs: Processes,
    env: dict[str, str],
    port: int,
    workdir: Path,
    workers: int = 1,
    job_worker: bool | None = None,
    name: str = "amtsweg serve",
) -> Server:
    """``amtsweg serve``; ``job_worker`` True/False passes ``--with-worker``/``--no-worker``
    (when serve has them), None leaves serve's default."""
    cmd = [*amtsweg_command(), "serve", "--port", str(port), "--workers", str(workers)]
    if job_worker is not None and serve_supports_worker_flag():
        cmd.append("--with-worker" if job_worker else "--no-worker")
    proc = procs.start(name, cmd, env, workdir / f"serve-{port}.log")
    startup = wait_http(f"http://127.0.0.1:{port}/livez", proc)
    if workers > 1:  # every worker up before the load starts
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(web_pids(proc.pid, workers)) < workers:
            time.sleep(0.1)
    return Server(proc, port, startup)


def start_job_worker(procs: Processes, env: dict[str, str], workdir: Path, n: int = 0) -> Proc:
    return procs.start(
        f"amtsweg worker {n}", [*amtsweg_command(), "worker"], env, workdir / f"worker-{n}.log"
    )


def web_pids(serve_pid: int, workers: int) -> list[int]:
    """The processes that serve requests: uvicorn's spawned workers, or serve itself."""
    if workers <= 1:
        return [serve_pid]
    return [p for p in descendants(serve_pid) if role_of(p) == "web" and alive(p)]


def memory(serve_pid: int, workers: int, job_pids: list[int]) -> dict[str, Any]:
    """RSS (MB): the serve process and its children together, each web worker, each job
    worker (serve's own child on SQLite, or the separate ``amtsweg worker`` processes)."""
    tree = [serve_pid, *descendants(serve_pid)]
    serve_children_jobs = [p for p in tree if role_of(p) == "job"]
    jobs = serve_children_jobs + [p for p in job_pids if p not in serve_children_jobs]
    return {
        "serve_tree_mb": round(sum(rss_mb(p) or 0 for p in tree), 1),
        "web_mb": [round(rss_mb(p) or 0, 1) for p in web_pids(serve_pid, workers)],
        "job_mb": [round(rss_mb(p) or 0, 1) for p in jobs],
        "job_worker_in_serve_tree": bool(serve_children_jobs),
    }


# --------------------------------------------------------------------------------------------
# The citizen's filing

GIVEN = [
    "Erika",
    "Lukas",
    "Marie",
    "Jonas",
    "Sophie",
    "Paul",
    "Lena",
    "Felix",
    "Hannah",
    "Emil",
    "Clara",
    "Anton",
]
FAMILY = [
    "Mustermann",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Krüger",
    "Lehmann",
]
DOGS = ["Bello", "Luna", "Balu", "Nala", "Rocky", "Emma", "Charly", "Mia", "Buddy"]

# A complete valid filing as form posts per step (the default filing of tests/conftest.py's
# ``answers()``: no uploads, not dangerous, no reduction).
FILING: dict[str, dict[str, str]] = {
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

_CHIP_BASE = secrets.randbelow(10**11) * 10  # this run's chip numbers: 276 + 12 digits


def filing_answers(n: int) -> dict[str, dict[str, str]]:
    """Filing number ``n``: another keeper name, dog name and chip number (15 digits, 276…)."""
    steps = {step: dict(fields) for step, fields in FILING.items()}
    keeper = steps["keeper"]
    keeper["given_names"] = GIVEN[n % len(GIVEN)]
    keeper["family_name"] = FAMILY[(n // len(GIVEN)) % len(FAMILY)]
    keeper["email"] = f"{keeper['given_names'].lower()}.{n}@example.org"
    steps["dog"]["dog_name"] = DOGS[n % len(DOGS)]
    steps["dog"]["chip_number"] = f"276{(_CHIP_BASE + n) % 10**12:012d}"
    return steps


CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
REFERENCE = re.compile(rb"[A-Z]{2,5}-\d{4}-\d{6}")
STATUS_LINK = re.compile(rb'href="(https?://[^"/]+/status/[A-Za-z0-9_\-]+)"')


class FilingFailed(Exception):
    pass


@dataclass
class Ack:
    reference: str
    status_url: str
    at: float  # time.time() of the confirmation page


@dataclass
class Recorder:
    """Everything one load run measures."""

    requests: list[tuple[str, int, float]] = field(default_factory=list)  # label, status, s
    filing_s: list[float] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # "503", "ServerDisconnectedError", …
    server_errors_by_request: Counter = field(default_factory=Counter)  # "POST submit 500"
    error_times: list[tuple[float, str]] = field(default_factory=list)
    started: int = 0
    failed: int = 0
    duration_s: float = 0.0

    def error(self, key: str) -> None:
        self.errors[key] += 1
        self.error_times.append((time.time(), key))

    def summary(self) -> dict[str, Any]:
        lat = [s for _, status, s in self.requests if status]
        by_label: dict[str, list[float]] = {}
        for label, status, s in self.requests:
            if status:
                by_label.setdefault(label, []).append(s)
        statuses = Counter(status for _, status, _ in self.requests)
        n_req = len(self.requests)
        acked = len(self.acks)
        return {
            "filings_started": self.started,
            "filings_acknowledged": acked,
            "filings_failed": self.failed,
            "duration_s": round(self.duration_s, 3),
            "filings_per_s": acked / self.duration_s if self.duration_s else None,
            "requests": n_req,
            "requests_per_s": n_req / self.duration_s if self.duration_s else None,
            "requests_per_filing": n_req / self.started if self.started else None,
            "filing_p50_s": pct(self.filing_s, 50),
            "filing_p99_s": pct(self.filing_s, 99),
            "request_p50_s": pct(lat, 50),
            "request_p99_s": pct(lat, 99),
            "request_max_s": max(lat) if lat else None,
            "by_request": {
                k: {"n": len(v), "p50_s": pct(v, 50), "p99_s": pct(v, 99)}
                for k, v in sorted(by_label.items())
            },
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": dict(self.errors.most_common()),
            "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500),
            "server_errors_by_request": dict(self.server_errors_by_request.most_common()),
        }


async def _request(session, method: str, url: str, label: str, rec: Recorder, data=None):
    import aiohttp

    t0 = time.perf_counter()
    try:
        async with session.request(method, url, data=data, allow_redirects=False) as resp:
            body = await resp.read()
            status = resp.status
            location = resp.headers.get("Location")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        rec.requests.append((label, 0, time.perf_counter() - t0))
        rec.error(type(exc).__name__)
        raise FilingFailed(type(exc).__name__) from None
    rec.requests.append((label, status, time.perf_counter() - t0))
    return status, location, body


async def file_one(
    connector, base: str, steps: dict[str, dict[str, str]], rec: Recorder, timeout: float = 60.0
) -> Ack:
    """One whole registration as a browser does it, with a fresh cookie jar; every request
    (redirects followed by hand) is timed. Raises FilingFailed on anything unexpected."""
    import aiohttp

    async def expect(method, url, label, want, data=None):
        status, location, body = await _request(session, method, url, label, rec, data)
        if status != want:
            rec.error(str(status) if status >= 500 or status == 429 else f"{status} {label}")
            if status >= 500:
                rec.server_errors_by_request[f"{label} {status}"] += 1
            raise FilingFailed(f"{label}: {status}")
        return location, body

    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 (an IP address)
    async with aiohttp.ClientSession(
        connector=connector,
        connector_owner=False,
        cookie_jar=jar,
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as session:
        _, body = await expect("GET", base + URL, "GET start page", 200)
        m = CSRF.search(body)
        if not m:
            rec.error("no csrf_token")
            raise FilingFailed("no csrf token")
        csrf = m.group(1).decode()
        location, _ = await expect(
            "POST", base + URL + "/start", "POST start", 303, {"csrf_token": csrf}
        )
        url = urljoin(base, location)
        for _ in range(20):
            await expect("GET", url, "GET check" if url.endswith("/check") else "GET step", 200)
            if url.endswith("/check"):
                break
            step = url.rsplit("/", 1)[-1].split("?")[0]
            if step not in steps:
                rec.error(f"unexpected step {step}")
                raise FilingFailed(step)
            location, _ = await expect(
                "POST", url, "POST step", 303, {"csrf_token": csrf, **steps[step]}
            )
            url = urljoin(base, location)
        else:
            rec.error("no check page")
            raise FilingFailed("no check page")
        location, _ = await expect(
            "POST", base + URL + "/submit", "POST submit", 303, {"csrf_token": csrf}
        )
        url = urljoin(base, location)
        if not url.endswith("/confirmation"):
            rec.error("submit not confirmed")
            raise FilingFailed(url)
        _, body = await expect("GET", url, "GET confirmation", 200)
        ref, link = REFERENCE.search(body), STATUS_LINK.search(body)
        if not ref or not link:
            rec.error("confirmation without case number")
            raise FilingFailed("confirmation without case number")
        return Ack(ref.group(0).decode(), link.group(1).decode(), time.time())


def _connector():
    import aiohttp

    # One keep-alive connection per client (a browser tab); no DNS (127.0.0.1 only).
    return aiohttp.TCPConnector(limit=1, keepalive_timeout=30, use_dns_cache=False)


async def run_filings(
    base: str,
    clients: int,
    filings: int | None,
    time_limit: float,
    rec: Recorder,
    first: int = 0,
    stop: asyncio.Event | None = None,
    pause_after_error: float = 0.0,
) -> Recorder:
    """``clients`` citizens file one registration after another until ``filings`` are
    started (None: no count), ``time_limit`` seconds have passed or ``stop`` is set."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    counter = iter(range(first, first + filings)) if filings is not None else None
    next_n = [first]

    def take() -> int | None:
        if counter is not None:
            return next(counter, None)
        next_n[0] += 1
        return next_n[0] - 1

    async def client() -> None:
        connector = _connector()
        try:
            while loop.time() < deadline and not (stop and stop.is_set()):
                n = take()
                if n is None:
                    return
                rec.started += 1
                t0 = time.perf_counter()
                try:
                    ack = await file_one(connector, base, filing_answers(n), rec)
                except FilingFailed:
                    rec.failed += 1
                    if pause_after_error:
                        await asyncio.sleep(pause_after_error)
                    continue
                rec.filing_s.append(time.perf_counter() - t0)
                rec.acks.append(ack)
        finally:
            await connector.close()

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    try:
        # In-flight filings may finish after the deadline (each request is bounded).
        done, pending = await asyncio.wait(tasks, timeout=time_limit + 180)
        if pending:
            rec.error("run cut at time bound")
        for t in done:
            t.result()  # a bug in a client is raised, not hidden
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    rec.duration_s = time.perf_counter() - t0
    return rec


async def run_requests(
    url: str, clients: int, total: int, time_limit: float, method: str = "POST"
) -> Recorder:
    """``clients`` keep-alive clients send ``total`` requests to ``url`` (the ceiling)."""
    import aiohttp

    rec = Recorder()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    left = [total]

    async def client() -> None:
        async with aiohttp.ClientSession(
            connector=_connector(), timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            while left[0] > 0 and loop.time() < deadline:
                left[0] -= 1
                rec.started += 1
                try:
                    status, _, _ = await _request(session, method, url, method, rec)
                except FilingFailed:
                    rec.failed += 1
                    continue
                if status != 200:
                    rec.error(str(status))

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    rec.duration_s = time.perf_counter() - t0
    return rec


async def check_status_links(acks: list[Ack], clients: int) -> dict[str, Any]:
    """GET every status link (a few clients); expect 200 with the case number on the page."""
    import aiohttp

    ok, problems = 0, Counter()
    remaining = iter(acks)
    lat: list[float] = []

    async def client() -> None:
        nonlocal ok
        async with aiohttp.ClientSession(
            connector=_connector(), timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            for ack in remaining:
                t0 = time.perf_counter()
                try:
                    async with session.get(ack.status_url, allow_redirects=False) as resp:
                        body = await resp.read()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    problems[type(exc).__name__] += 1
                    continue
                lat.append(time.perf_counter() - t0)
                if status != 200:
                    problems[str(status)] += 1
                elif ack.reference.encode() not in body:
                    problems["200 without case number"] += 1
                else:
                    ok += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return {
        "checked": len(acks),
        "ok": ok,
        "problems": dict(problems),
        "seconds": round(time.perf_counter() - t0, 2),
        "p50_s": pct(lat, 50),
        "p99_s": pct(lat, 99),
    }


def event_loop_policy() -> None:
    """uvloop for the client too (less CPU per request on the shared cores), if installed."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# --------------------------------------------------------------------------------------------
# Database figures


def engine_for(url: str):
    from sqlalchemy import create_engine

    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True, pool_size=2)


def scalar(engine, sql: str, **params) -> Any:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(engine, sql: str, **params) -> list:
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def receipt_counts(engine) -> tuple[int, int]:
    """(cases, cases with a receipt)."""
    cases = scalar(engine, "SELECT count(*) FROM cases")
    receipts = scalar(
        engine, "SELECT count(DISTINCT case_id) FROM documents WHERE kind = 'receipt'"
    )
    return int(cases), int(receipts)


def wait_for_receipts(
    engine, timeout: float, poll: float = 0.2, extra: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """Poll until every case has its receipt (and ``extra()`` holds), at most ``timeout`` s."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    cases = receipts = 0
    while True:
        try:
            cases, receipts = receipt_counts(engine)
            done = receipts >= cases and (extra is None or extra())
        except Exception as exc:  # noqa: BLE001 - the database may be restarting
            log(f"  (poll failed: {type(exc).__name__})")
            done = False
        if done or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    return {
        "cases": cases,
        "receipts": receipts,
        "missing": max(0, cases - receipts),
        "caught_up": cases == receipts and (extra is None or extra()),
        "waited_s": round(time.monotonic() - t0, 2),
    }


def _aware(value):
    from datetime import datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def max_job_id(engine) -> int:
    return int(scalar(engine, "SELECT coalesce(max(id), 0) FROM jobs"))


def receipt_jobs(engine, after_id: int = 0, since: float | None = None) -> dict[str, Any]:
    """Receipt jobs with id > after_id: time per receipt (finished - started), throughput
    (done / (last finished - first started)); ``since`` (time.time()) splits off the jobs
    started after the load ended (rendering without web traffic)."""
    done = [
        (_aware(s), _aware(f))
        for s, f in rows(
            engine,
            "SELECT started_at, finished_at FROM jobs WHERE kind = 'cases.receipt' "
            "AND state = 'done' AND id > :after",
            after=after_id,
        )
        if s is not None and f is not None
    ]
    per = [(f - s).total_seconds() for s, f in done]
    out: dict[str, Any] = {
        "done": len(done),
        "median_s": statistics.median(per) if per else None,
        "p99_s": pct(per, 99),
        "per_s": None,
        "median_after_load_s": None,
        "after_load": 0,
    }
    if len(done) >= 2:
        span = (max(f for _, f in done) - min(s for s, _ in done)).total_seconds()
        out["per_s"] = len(done) / span if span > 0 else None
    if since is not None:
        after = [(f - s).total_seconds() for s, f in done if s.timestamp() >= since]
        out["after_load"] = len(after)
        out["median_after_load_s"] = statistics.median(after) if after else None
    return out


def last_receipt_at(engine) -> float | None:
    value = scalar(engine, "SELECT max(created_at) FROM documents WHERE kind = 'receipt'")
    value = _aware(value)
    return value.timestamp() if value is not None else None


# --------------------------------------------------------------------------------------------
# Ceilings

CEILING_TABLE = "bench_ceiling"
CEILING_THREADS = 16  # as AMTSWEG_THREADS: requests at once per process, database pool size


def create_ceiling_table(url: str) -> None:
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    engine = engine_for(url)
    try:
        md = MetaData()
        Table(
            CEILING_TABLE,
            md,
            Column("id", Integer, primary_key=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("payload", String(200), nullable=False),
        )
        md.create_all(engine)
    finally:
        engine.dispose()


def ceiling_app():
    """The ceiling: a bare FastAPI app whose one endpoint inserts one row with SQLAlchemy in
    a plain ``def`` route (run in the thread pool), on the same database, with the same
    connection settings as Amtsweg (SQLite: WAL, busy timeout, synchronous=NORMAL and one
    in-process write lock; PostgreSQL: a pool with pre-ping). Served by uvicorn as a factory:
    ``uvicorn bench._harness:ceiling_app --factory``."""
    import threading
    from contextlib import asynccontextmanager
    from datetime import datetime

    import anyio.to_thread
    from fastapi import FastAPI
    from sqlalchemy import create_engine, event, text

    url = os.environ["BENCH_CEILING_DATABASE_URL"]
    pool = {"pool_size": CEILING_THREADS, "max_overflow": 8, "pool_timeout": 5}
    lock = None
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        lock = threading.Lock()
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool)
    insert = text(f"INSERT INTO {CEILING_TABLE} (created_at, payload) VALUES (:t, :p)")

    @asynccontextmanager
    async def lifespan(app):
        anyio.to_thread.current_default_thread_limiter().total_tokens = CEILING_THREADS
        yield
        engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/livez")
    def livez() -> dict:
        return {"status": "ok"}

    @app.post("/insert")
    def insert_row() -> dict:
        if lock is not None:
            lock.acquire()
        try:
            with engine.begin() as conn:
                conn.execute(insert, {"t": datetime.now(UTC), "p": "x" * 100})
        finally:
            if lock is not None:
                lock.release()
        return {"ok": True}

    return app


def start_ceiling(
    procs: Processes, database_url: str, port: int, workers: int, workdir: Path
) -> Server:
    create_ceiling_table(database_url)
    env = {**os.environ, "BENCH_CEILING_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    boot = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); import uvicorn; "
        f"uvicorn.run('bench._harness:ceiling_app', factory=True, host='127.0.0.1', "
        f"port={port}, workers={workers}, log_level='warning', access_log=False)"
    )
    proc = procs.start(
        "ceiling", [sys.executable, "-c", boot], env, workdir / f"ceiling-{port}.log"
    )
    startup = wait_http(f"http://127.0.0.1:{port}/livez", proc)
    if workers > 1:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(web_pids(proc.pid, workers)) < workers:
            time.sleep(0.1)
    return Server(proc, port, startup)


def receipt_render_ceiling(database_url: str, runs: int) -> dict[str, Any]:
    """Bare ``render_receipt`` for the context of a real receipt (the first case of the
    database), ``runs`` times in one fresh process after warm-up; median ms."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(REPO)!r}); "
        "from bench._harness import _render_receipt_runs; "
        f"print(json.dumps(_render_receipt_runs({database_url!r}, {runs})))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSWEG_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(f"receipt render failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _render_receipt_runs(database_url: str, runs: int) -> dict[str, Any]:
    import logging

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    from sqlmodel import Session, select

    import services.models  # noqa: F401
    from services.cases import service
    from services.cases.models import Case
    from services.db import make_engine
    from services.documents.receipt import render_receipt
    from services.documents.render import warm_up
    from services.procedures import registry

    engine = make_engine(database_url, pool_size=1)
    registry.bind(engine)
    with Session(engine) as db:
        case = db.exec(select(Case).order_by(Case.id)).first()
        if case is None:
            raise SystemExit("no case to take the receipt context from")
        context = service.receipt_context(db, case)
    engine.dispose()
    warm_up()
    render_receipt(context)  # first real receipt: this template's caches
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        pdf = render_receipt(context)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "runs": runs,
        "median_s": statistics.median(times),
        "cpu_median_s": statistics.median(cpu),
        "min_s": min(times),
        "max_s": max(times),
        "pdf_bytes": len(pdf),
        "reference": case.reference,
    }


if __name__ == "__main__":
    print("bench/_harness.py: helpers of bench/load.py and bench/faults.py; nothing to run.")
