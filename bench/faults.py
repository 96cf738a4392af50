"""Benchmark: nothing acknowledged is lost when processes or the database fail under load,
and a volume of filings stays reachable.

1. Faults (throwaway PostgreSQL, ``amtsweg serve --workers 2`` + 2 ``amtsweg worker``):
   ``--clients`` citizens file registrations through the portal pages without pause for
   ``--duration`` seconds. Meanwhile: ``kill -9`` one web worker (a child of the uvicorn
   master, which starts a new one), later ``kill -9`` one job worker (a replacement is
   started), later ``pg_ctl restart -m fast``. Clients record every acknowledged case number
   (confirmation page) and every error. Then the load stops and the bench waits (at most
   ``--catchup-timeout``; a job whose worker died is re-run after its 120 s lease by the
   sweeper) until every case has its receipt and no job is queued or running, and checks:

   - every acknowledged case number exists exactly once in ``cases``
   - every case has exactly one receipt document
   - no job is left queued or running, none failed
   - no job key ran twice: one ``receipt:<case id>`` job per case, no duplicate receipts
   - ``amtsweg audit verify`` exits 0

2. Volume (``--volume``, fresh database, ``serve --workers 2`` + 1 ``amtsweg worker``):
   N filings from ``--volume-clients`` clients; checks 0 lost (every acknowledged case number
   in the database), 0 server errors (5xx), and every status link (from the confirmation
   page) answers 200 with its case number, fetched after the load by ``--status-clients``
   clients.

Prints the counts and a PASS/FAIL line per check; exits 1 if any check fails.

    uv run python bench/faults.py                      # faults + 1,500 filings (est. 12-15 min)
    uv run python bench/faults.py --volume 10000       # the full volume (about an hour on 2 cores)
    uv run python bench/faults.py --duration 30 --volume 500   # smoke run
    uv run python bench/faults.py --volume 0           # faults only; --no-faults: volume only

Traffic goes only to 127.0.0.1; servers, PostgreSQL and temporary directories are removed at
the end, also on Ctrl+C.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# bench/queue.py would shadow the standard library's queue: keep bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from bench import _harness as h  # noqa: E402

console = Console(width=160, soft_wrap=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Fault injection under load (web worker, job worker and PostgreSQL "
        "killed/restarted) with checks that nothing acknowledged is lost, then a volume run "
        "with status-link checks. Prints PASS/FAIL per check; exit code 1 on any FAIL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--clients", type=int, default=16, help="clients filing during the faults")
    p.add_argument("--duration", type=float, default=45.0, help="seconds of load with faults")
    p.add_argument(
        "--kill-web-at",
        type=float,
        default=5.0,
        help="kill -9 one web worker this many seconds into the load",
    )
    p.add_argument(
        "--kill-job-at",
        type=float,
        default=15.0,
        help="kill -9 one job worker (and start a replacement) at this second",
    )
    p.add_argument(
        "--restart-db-at", type=float, default=25.0, help="pg_ctl restart -m fast at this second"
    )
    p.add_argument(
        "--catchup-timeout",
        type=float,
        default=240.0,
        help="seconds to wait for receipts and jobs after the load (a receipt "
        "job of a killed worker is re-run after its 120 s lease)",
    )
    p.add_argument("--no-faults", action="store_true", help="skip the fault run")
    p.add_argument(
        "--volume",
        type=int,
        default=1500,
        help="filings of the volume run (0: skip; the full check is --volume 10000, "
        "about an hour on 2 cores)",
    )
    p.add_argument("--volume-clients", type=int, default=32, help="clients of the volume run")
    p.add_argument(
        "--volume-time-limit",
        type=float,
        default=3600.0,
        help="seconds: no new volume filing starts after it",
    )
    p.add_argument(
        "--status-clients",
        type=int,
        default=4,
        help="clients fetching the status links after the volume run",
    )
    p.add_argument("--pg-port", type=int, default=54352, help="port of the throwaway PostgreSQL")
    p.add_argument("--json", metavar="PATH", help="write all figures as JSON")
    p.add_argument("--keep-logs", metavar="DIR", help="copy the server and worker logs here")
    return p.parse_args(argv)


class Checks:
    def __init__(self, title: str) -> None:
        self.title = title
        self.items: list[dict] = []

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.items.append({"check": name, "ok": bool(ok), "detail": detail})

    @property
    def ok(self) -> bool:
        return all(i["ok"] for i in self.items)

    def print(self) -> None:
        console.print(f"[bold]{escape(self.title)}[/bold]")
        for i in self.items:
            mark = "[green]PASS[/green]" if i["ok"] else "[red]FAIL[/red]"
            console.print(f"{mark}: {escape(i['check'])} ({escape(i['detail'])})")


def open_jobs(engine) -> int:
    return int(h.scalar(engine, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"))


def reference_counts(engine) -> dict[str, int]:
    return {
        r: int(n)
        for r, n in h.rows(engine, "SELECT reference, count(*) FROM cases GROUP BY reference")
    }


def check_acknowledged(checks: Checks, engine, acks: list[h.Ack]) -> dict:
    refs = [a.reference for a in acks]
    in_db = reference_counts(engine)
    missing = sorted(set(refs) - set(in_db))
    twice_in_db = sorted(r for r in set(refs) if in_db.get(r, 0) > 1)
    acked_twice = sorted(r for r, n in Counter(refs).items() if n > 1)
    checks.add(
        "every acknowledged case number exists exactly once in cases",
        not missing and not twice_in_db and not acked_twice,
        f"{len(refs)} acknowledged, {len(in_db)} cases in the database, {len(missing)} "
        f"missing, {len(twice_in_db)} more than once, {len(acked_twice)} acknowledged twice"
        + (f" (missing e.g. {', '.join(missing[:5])})" if missing else ""),
    )
    return {
        "acknowledged": len(refs),
        "cases": len(in_db),
        "missing": missing,
        "duplicated": twice_in_db,
        "acknowledged_twice": acked_twice,
    }


def check_faults_db(checks: Checks, engine, env: dict) -> dict:
    not_one = h.rows(
        engine,
        """
        SELECT c.reference, count(d.id) FROM cases c
        LEFT JOIN documents d ON d.case_id = c.id AND d.kind = 'receipt'
        GROUP BY c.id, c.reference HAVING count(d.id) <> 1""",
    )
    cases = int(h.scalar(engine, "SELECT count(*) FROM cases"))
    receipts = int(h.scalar(engine, "SELECT count(*) FROM documents WHERE kind = 'receipt'"))
    checks.add(
        "every case has exactly one receipt document",
        not not_one,
        f"{cases} cases, {receipts} receipts, {len(not_one)} cases without exactly one"
        + (f" (e.g. {', '.join(f'{r}: {n}' for r, n in not_one[:5])})" if not_one else ""),
    )
    states = {
        s: int(n) for s, n in h.rows(engine, "SELECT state, count(*) FROM jobs GROUP BY state")
    }
    failed = h.rows(
        engine,
        "SELECT kind, key, attempts, last_error FROM jobs "
        "WHERE state = 'failed' ORDER BY id LIMIT 5",
    )
    left = states.get("queued", 0) + states.get("running", 0)
    checks.add(
        "no job left queued or running, none failed",
        left == 0 and states.get("failed", 0) == 0,
        ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        + "".join(f"; failed {k} {key} after {a}: {(e or '')[:120]}" for k, key, a, e in failed),
    )
    dup_keys = h.rows(engine, "SELECT key, count(*) FROM jobs GROUP BY key HAVING count(*) > 1")
    receipt_jobs = {
        k: (int(n), int(a or 0))
        for k, n, a in h.rows(
            engine,
            "SELECT key, count(*), max(attempts) FROM jobs WHERE kind = 'cases.receipt' "
            "GROUP BY key",
        )
    }
    case_ids = [int(i) for (i,) in h.rows(engine, "SELECT id FROM cases")]
    without_job = [i for i in case_ids if f"receipt:{i}" not in receipt_jobs]
    stray = [
        k
        for k in receipt_jobs
        if not k.startswith("receipt:")
        or not k.split(":", 1)[1].isdigit()
        or int(k.split(":", 1)[1]) not in case_ids
    ]
    dup_receipts = h.rows(
        engine,
        "SELECT case_id, count(*) FROM documents WHERE kind = "
        "'receipt' GROUP BY case_id HAVING count(*) > 1",
    )
    rerun = sum(1 for _, a in receipt_jobs.values() if a > 1)
    checks.add(
        "no job key ran twice (one receipt:<id> job per case, no duplicate receipts)",
        not dup_keys and not without_job and not stray and not dup_receipts,
        f"{len(receipt_jobs)} receipt jobs for {len(case_ids)} cases, {len(dup_keys)} "
        f"duplicate keys, {len(without_job)} cases without a receipt job, {len(stray)} stray, "
        f"{len(dup_receipts)} cases with duplicate receipts; {rerun} receipt job(s) needed "
        "more than one attempt",
    )
    audit = subprocess.run(
        [*h.amtsweg_command(), "audit", "verify"],
        env=env,
        cwd=h.REPO,
        capture_output=True,
        text=True,
    )
    last = (audit.stdout.strip().splitlines() or [""])[-1]
    checks.add(
        "amtsweg audit verify exits 0", audit.returncode == 0, f"exit {audit.returncode}: {last}"
    )
    return {
        "cases": cases,
        "receipts": receipts,
        "job_states": states,
        "receipt_jobs_rerun": rerun,
        "audit_exit": audit.returncode,
        "audit": last,
    }


def error_windows(rec: h.Recorder, t0: float, events: list[dict]) -> list[dict]:
    """Errors counted in the window after each fault (until the next one)."""
    marks = [("before faults", 0.0)] + [(e["what"], e["at_s"]) for e in events]
    out = []
    for i, (what, start) in enumerate(marks):
        end = marks[i + 1][1] if i + 1 < len(marks) else float("inf")
        errs = Counter(k for t, k in rec.error_times if start <= t - t0 < end)
        acks = sum(1 for a in rec.acks if start <= a.at - t0 < end)
        out.append(
            {
                "after": what,
                "from_s": start,
                "acknowledged": acks,
                "errors": dict(errs.most_common()),
            }
        )
    return out


def busy_job_worker(engine, jobs: list[h.Proc]) -> tuple[h.Proc, int]:
    """The job worker process that is running the most jobs now (by the jobs table's
    ``worker`` column, host:pid), with that count; the first live one if none is busy."""
    live = [p for p in jobs if p.popen.poll() is None]
    try:
        running = Counter(
            w.rsplit(":", 1)[-1]
            for (w,) in h.rows(engine, "SELECT worker FROM jobs WHERE state = 'running'")
        )
    except Exception:  # noqa: BLE001 - no figure, no preference
        running = Counter()
    best = max(live, key=lambda p: running.get(str(p.pid), 0))
    return best, running.get(str(best.pid), 0)


async def fault_load(
    args,
    base: str,
    serve_pid: int,
    jobs: list[h.Proc],
    start_job,
    pg,
    rec: h.Recorder,
    engine,
) -> tuple[list[dict], float, list[dict]]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    events: list[dict] = []
    changes: list[dict] = []  # every change of the web worker processes, whoever caused it
    t0_wall = time.time()
    t0 = loop.time()
    load = asyncio.create_task(
        h.run_filings(
            base, args.clients, None, args.duration + 30, rec, stop=stop, pause_after_error=0.25
        )
    )

    async def at(second: float) -> None:
        await asyncio.sleep(max(0.0, t0 + second - loop.time()))

    def note(what: str, **more) -> dict:
        e = {"what": what, "at_s": round(loop.time() - t0, 2), **more}
        events.append(e)
        h.log(f"  t={e['at_s']:.1f} s: {what} {more or ''}")
        return e

    async def web_replaced(old: set[int], e: dict) -> None:
        start = loop.time()
        while loop.time() - start < 120:
            now = set(h.web_pids(serve_pid, 2))
            if len(now) >= 2 and now - old:
                e["replaced_after_s"] = round(loop.time() - start, 2)
                h.log(f"  new web worker process after {e['replaced_after_s']} s")
                return
            await asyncio.sleep(0.1)
        e["replaced_after_s"] = None

    async def watch_web_workers() -> None:
        seen = set(h.web_pids(serve_pid, 2))
        while not stop.is_set():
            await asyncio.sleep(0.25)
            now = set(h.web_pids(serve_pid, 2))
            if now != seen:
                c = {
                    "at_s": round(loop.time() - t0, 2),
                    "gone": sorted(seen - now),
                    "new": sorted(now - seen),
                }
                changes.append(c)
                h.log(f"  t={c['at_s']:.1f} s: web worker processes {c}")
                seen = now

    watchers = [asyncio.create_task(watch_web_workers())]
    try:
        schedule = sorted(
            [(args.kill_web_at, "web"), (args.kill_job_at, "job"), (args.restart_db_at, "db")]
        )
        schedule = [(sec, what) for sec, what in schedule if sec < args.duration]
        for i, (second, what) in enumerate(schedule):
            next_at = schedule[i + 1][0] if i + 1 < len(schedule) else args.duration
            await at(second)
            if what == "web":
                pids = h.web_pids(serve_pid, 2)
                while not pids and loop.time() - t0 < second + 10:  # uvicorn is replacing one
                    await asyncio.sleep(0.1)
                    pids = h.web_pids(serve_pid, 2)
                if not pids:
                    note("no web worker process to kill")
                    continue
                victim = pids[0]
                os.kill(victim, signal.SIGKILL)
                e = note("kill -9 web worker", pid=victim)
                watchers.append(asyncio.create_task(web_replaced(set(pids), e)))
            elif what == "job":
                # Prefer a worker in the middle of a job, so the lease and sweeper are needed.
                victim, running = await asyncio.to_thread(busy_job_worker, engine, jobs)
                # ... waiting at most 10 s, and not past the next fault.
                while not running and loop.time() - t0 < min(second + 10, next_at - 1):
                    await asyncio.sleep(0.25)
                    victim, running = await asyncio.to_thread(busy_job_worker, engine, jobs)
                os.kill(victim.pid, signal.SIGKILL)
                replacement = start_job()
                note(
                    "kill -9 job worker, replacement started",
                    pid=victim.pid,
                    running_jobs=running,
                    replacement=replacement.pid,
                )
            else:
                e = note("pg_ctl restart -m fast")
                e["restart_s"] = round(await asyncio.to_thread(pg.restart), 2)
                h.log(f"  PostgreSQL back after {e['restart_s']} s")
        await at(args.duration)
        note("load stopped")
    finally:
        stop.set()
        await load
        for w in watchers:
            await w
    return events, t0_wall, changes


def run_faults(args, procs: h.Processes, root: Path, pg: h.Postgres, report: dict) -> Checks:
    work = root / "faults"
    work.mkdir()
    url = pg.create_database("amtsweg_bench_faults")
    port = h.free_port()
    env = h.base_env(url, port, work, 2)
    h.prepare_database(env)
    server = h.start_serve(procs, env, port, work, workers=2, job_worker=False)
    jobs = [h.start_job_worker(procs, env, work, 0), h.start_job_worker(procs, env, work, 1)]

    def start_job() -> h.Proc:
        proc = h.start_job_worker(procs, env, work, len(jobs))
        jobs.append(proc)
        return proc

    h.log(
        f"faults: serve --workers 2 answered after {server.startup_s:.2f} s; 2 job workers; "
        f"{args.clients} clients for {args.duration:.0f} s"
    )
    engine = h.engine_for(url)
    try:
        rec = h.Recorder()
        events, t0, changes = asyncio.run(
            fault_load(args, server.base, server.proc.pid, jobs, start_job, pg, rec, engine)
        )
        s = rec.summary()
        h.log(
            f"faults: {s['filings_acknowledged']} acknowledged, {s['filings_failed']} failed "
            f"filings; waiting for receipts and jobs (at most {args.catchup_timeout:.0f} s)"
        )
        wait = h.wait_for_receipts(
            engine, args.catchup_timeout, poll=1.0, extra=lambda: open_jobs(engine) == 0
        )
        h.log(f"faults: caught up: {wait['caught_up']} after {wait['waited_s']} s")
        checks = Checks("Faults: web worker, job worker and PostgreSQL killed/restarted under load")
        acked = check_acknowledged(checks, engine, rec.acks)
        db = check_faults_db(checks, engine, env)
        windows = error_windows(rec, t0, events)
        report["faults"] = {
            "server_startup_s": server.startup_s,
            "load": s,
            "events": events,
            "web_worker_changes": changes,
            "windows": windows,
            "catch_up": wait,
            "acknowledged": {k: v if not isinstance(v, list) else v[:50] for k, v in acked.items()},
            "database": db,
            "checks": checks.items,
        }
        t = Table(
            title=f"Faults: {args.clients} clients for {args.duration:.0f} s — "
            f"{s['filings_acknowledged']} acknowledged, {s['filings_failed']} failed "
            f"filings, {h.fmt(s['filings_per_s'], digits=2)} filings/s"
        )
        for col in ("From s", "Event", "Acknowledged", "Errors"):
            t.add_column(col, justify="right" if col != "Event" else "left")
        for w, e in zip(windows, [{}] + events, strict=False):
            extra = ""
            if e.get("replaced_after_s") is not None:
                extra = f" (new process after {e['replaced_after_s']} s)"
            if e.get("restart_s") is not None:
                extra = f" (took {e['restart_s']} s)"
            t.add_row(
                f"{w['from_s']:.1f}",
                w["after"] + extra,
                str(w["acknowledged"]),
                ", ".join(f"{k}: {v}" for k, v in w["errors"].items()) or "0",
            )
        console.print(t)
        log_errors = sum(h.log_problems(p.log_path) for p in [server.proc, *jobs])
        report["faults"]["log_error_lines"] = log_errors
        console.print(
            "Server errors by request: "
            + (", ".join(f"{k}: {v}" for k, v in s["server_errors_by_request"].items()) or "none")
            + f"; {log_errors} error line(s) in the server and job worker logs."
        )
        console.print(
            f"Receipts and jobs caught up: {wait['caught_up']} after {wait['waited_s']} s "
            f"({wait['receipts']}/{wait['cases']} receipts); "
            f"{db['receipt_jobs_rerun']} receipt job(s) re-run after the job worker was killed."
        )
        killed = {e.get("pid") for e in events if e["what"].startswith("kill -9 web")}
        others = [c for c in changes if set(c["gone"]) - killed]
        console.print(
            "Web worker processes changed "
            + "; ".join(f"t={c['at_s']:.1f} s gone {c['gone']} new {c['new']}" for c in changes)
            + (
                f" — {len(others)} change(s) not caused by the bench (uvicorn restarts a "
                "worker that misses its health check)"
                if others
                else ""
            )
            if changes
            else "Web worker processes did not change."
        )
        checks.print()
        return checks
    finally:
        engine.dispose()
        procs.stop_all()


def run_volume(args, procs: h.Processes, root: Path, pg: h.Postgres, report: dict) -> Checks:
    work = root / "volume"
    work.mkdir()
    url = pg.create_database("amtsweg_bench_volume")
    port = h.free_port()
    env = h.base_env(url, port, work, 2)
    h.prepare_database(env)
    server = h.start_serve(procs, env, port, work, workers=2, job_worker=False)
    h.start_job_worker(procs, env, work, 0)
    h.log(
        f"volume: {args.volume} filings from {args.volume_clients} clients "
        f"(serve --workers 2 + 1 job worker; serve answered after {server.startup_s:.2f} s)"
    )
    engine = h.engine_for(url)
    try:
        rec = h.Recorder()
        web_before = set(h.web_pids(server.proc.pid, 2))

        async def load() -> None:
            progress = asyncio.create_task(_progress(rec, args.volume))
            try:
                await h.run_filings(
                    server.base, args.volume_clients, args.volume, args.volume_time_limit, rec
                )
            finally:
                progress.cancel()

        asyncio.run(load())
        restarts = len(set(h.web_pids(server.proc.pid, 2)) - web_before)
        s = rec.summary()
        h.log(
            f"volume: {s['filings_acknowledged']} acknowledged in {s['duration_s']:.0f} s; "
            f"checking {len(rec.acks)} status links with {args.status_clients} clients"
        )
        links = asyncio.run(h.check_status_links(rec.acks, args.status_clients))
        cases, receipts = h.receipt_counts(engine)
        checks = Checks(f"Volume: {args.volume} filings from {args.volume_clients} clients")
        acked = check_acknowledged(checks, engine, rec.acks)
        checks.add(
            "all planned filings acknowledged (none cut by the time limit or failed)",
            s["filings_acknowledged"] == args.volume,
            f"{s['filings_acknowledged']} of {args.volume} acknowledged, {s['filings_failed']} "
            f"failed, {s['filings_started']} started",
        )
        checks.add(
            "0 server errors (5xx)",
            s["server_errors_5xx"] == 0,
            f"{s['server_errors_5xx']} 5xx of {s['requests']} requests"
            + "".join(f", {k}: {v}" for k, v in s["server_errors_by_request"].items())
            + "; all errors: "
            + (", ".join(f"{k}: {v}" for k, v in s["errors"].items()) or "0"),
        )
        checks.add(
            "every status link answers 200 with its case number",
            links["ok"] == links["checked"] == len(rec.acks),
            f"{links['ok']} of {links['checked']} ok"
            + (f"; problems {links['problems']}" if links["problems"] else "")
            + f"; p50 {h.fmt(links['p50_s'], 1000)} ms, p99 {h.fmt(links['p99_s'], 1000)} ms",
        )
        report["volume"] = {
            "server_startup_s": server.startup_s,
            "load": s,
            "web_worker_restarts": restarts,
            "status_links": links,
            "cases": cases,
            "receipts_at_end": receipts,
            "acknowledged": {k: v if not isinstance(v, list) else v[:50] for k, v in acked.items()},
            "checks": checks.items,
        }
        console.print(
            f"Volume: {s['filings_acknowledged']} filings acknowledged in {s['duration_s']:.0f} s "
            f"({h.fmt(s['filings_per_s'], digits=2)}/s; per filing p50 "
            f"{h.fmt(s['filing_p50_s'], digits=2)} s, p99 {h.fmt(s['filing_p99_s'], digits=2)} "
            f"s; per request p50 {h.fmt(s['request_p50_s'], 1000)} ms, p99 "
            f"{h.fmt(s['request_p99_s'], 1000)} ms); {restarts} web worker restart(s); "
            f"receipts done by the end: {receipts}/{cases} (the one job worker's backlog); "
            f"status links checked in {links['seconds']:.0f} s."
        )
        checks.print()
        return checks
    finally:
        engine.dispose()
        procs.stop_all()


async def _progress(rec: h.Recorder, total: int) -> None:
    t0 = time.monotonic()
    while True:
        await asyncio.sleep(30)
        el = time.monotonic() - t0
        h.log(
            f"  volume: {len(rec.acks)}/{total} acknowledged after {el:.0f} s "
            f"({len(rec.acks) / el:.2f}/s), {rec.failed} failed"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    h.install_signal_handlers()
    h.event_loop_policy()
    info = h.machine()
    console.print(h.machine_line(info))
    procs = h.Processes()
    root = Path(tempfile.mkdtemp(prefix="amtsweg-bench-faults."))
    pg: h.Postgres | None = None
    report: dict = {"machine": info, "args": vars(args)}
    results: list[Checks] = []
    t_start = time.monotonic()
    try:
        pg = h.Postgres(args.pg_port)
        pg.start()
        if not args.no_faults:
            results.append(run_faults(args, procs, root, pg, report))
        if args.volume > 0:
            results.append(run_volume(args, procs, root, pg, report))
        ok = all(c.ok for c in results)
        report["ok"] = ok
        report["total_s"] = round(time.monotonic() - t_start, 1)
        console.print(
            f"{'PASS' if ok else 'FAIL'}: {sum(len(c.items) for c in results)} checks "
            f"in {report['total_s']:.0f} s."
        )
        return 0 if ok else 1
    except KeyboardInterrupt:
        h.log("interrupted: cleaning up")
        return 130
    finally:
        procs.stop_all()
        h.save_logs(root, args.keep_logs, pg)
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
        h.write_json(args.json, report)


if __name__ == "__main__":
    sys.exit(main())
