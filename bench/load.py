"""Benchmark: whole dog registrations through the portal pages, under concurrent citizens.

Each filing is what a citizen's browser does, with a fresh cookie jar: GET the start page
(CSRF token), POST start (303), then per step GET the page and POST its fields (303 to the
next step) until the check page, POST submit (303) and GET the confirmation with the case
number (HST-YYYY-NNNNNN). Every HTTP request is timed; a filing counts as acknowledged when
the confirmation shows its case number. Clients are aiohttp sessions with one keep-alive
connection each (uvloop), so the client costs little of the two shared cores.

Scenarios, each on a fresh database (migrated with ``amtsweg db upgrade``, demo data from
``amtsweg demo``), servers started as in production (``AMTSWEG_ENV=development``, random
secret, ``AMTSWEG_LOG_LEVEL=warning``, 127.0.0.1, a free port):

  sqlite  SQLite file, ``amtsweg serve`` (1 web worker; on SQLite serve starts its job worker
          beside itself; ``--separate-worker`` runs ``amtsweg serve --no-worker`` plus a
          separate ``amtsweg worker``)
  pg1     throwaway PostgreSQL, ``amtsweg serve`` + 1 ``amtsweg worker``
  pg2     throwaway PostgreSQL, ``amtsweg serve --workers 2`` + 1 ``amtsweg worker``

For each scenario and client count (``--clients 1,8,32,128``; 12/50/80/160 filings by
default, a quarter of the issue's 50/200/320/640, which ``--scale 1`` runs; ``--filings N``
for N at every client count; ``--time-limit`` per run) it prints:
filings/s, per filing p50/p99, per request p50/p99, errors by status (and connection
errors), server CPU per filing, resident memory after the run (serve process tree, each web
worker, the job worker), how long after the last acknowledged filing every receipt existed
(or how many were missing at ``--receipt-timeout``), the job worker's receipts/s and median
time per receipt (jobs table: finished_at - started_at).

Ceilings, in the same run:
  * HTTP: a bare FastAPI app (bench/_harness.py ``ceiling_app``) whose ``POST /insert``
    inserts one row into ``bench_ceiling`` of the same database with SQLAlchemy in a plain
    ``def`` route, served by uvicorn with the same worker count, driven by the same client at
    the same client counts (as many requests as the Amtsweg run made, at most
    ``--ceiling-seconds``); ratio = Amtsweg filings/s x requests per filing / ceiling req/s.
  * Receipt: bare ``render_receipt`` of a real receipt's context, ``--receipt-runs`` times in
    one process (median); the job worker's median time per receipt as a ratio to it (goal
    <= 1.3).

    uv run python bench/load.py                  # all scenarios (est. 12-15 min, 2 quiet cores)
    uv run python bench/load.py --scale 1        # the issue's full counts (about 4x as long)
    uv run python bench/load.py --scenarios sqlite --clients 1,8 --filings 20   # smoke run
    uv run python bench/load.py --json var/load.json    # also write every figure as JSON

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
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench import _harness as h  # noqa: E402

SCENARIOS = {
    "sqlite": {"title": "SQLite, 1 web worker + its job worker", "db": "sqlite", "web": 1},
    "pg1": {"title": "PostgreSQL, 1 web worker + 1 job worker", "db": "pg", "web": 1},
    "pg2": {"title": "PostgreSQL, 2 web workers + 1 job worker", "db": "pg", "web": 2},
}
# The counts; the default --scale 0.25 (12/50/80/160) keeps `make bench` near 15 min on
# 2 cores: every filing's receipt costs the one job worker about 0.7 s of CPU, and each run
# waits for its receipts before the next starts.
FULL_FILINGS = {1: 50, 8: 200, 32: 320, 128: 640}
DEFAULT_SCALE = 0.25
console = Console(width=160, soft_wrap=True)


def filings_for(clients: int, args) -> int:
    if args.filings:
        return args.filings
    base = FULL_FILINGS.get(clients, max(50, 5 * clients))
    return max(1, round(base * args.scale))


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Whole dog registrations through the portal pages at 1..128 concurrent "
        "clients on SQLite and PostgreSQL, with an HTTP+insert ceiling and a receipt-render "
        "ceiling. Prints tables; --json writes every figure.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--scenarios",
        default="sqlite,pg1,pg2",
        help="comma-separated: sqlite, pg1 (1 web + 1 job worker), pg2 (2 web + 1 job worker)",
    )
    p.add_argument("--clients", default="1,8,32,128", help="concurrent clients, comma-separated")
    p.add_argument(
        "--filings",
        type=int,
        default=0,
        help="filings at every client count (0: 50/200/320/640 at 1/8/32/128 clients, "
        "else 5 per client, at least 50, times --scale)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help="multiply the filing counts: 1 gives the issue's full 50/200/320/640 "
        "(about 4x as long as the default)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=240.0,
        help="seconds per client count: no new filing starts after it",
    )
    p.add_argument(
        "--warmup", type=int, default=4, help="filings (not counted) after each server start"
    )
    p.add_argument(
        "--receipt-timeout",
        type=float,
        default=300.0,
        help="seconds to wait after a run for every case's receipt",
    )
    p.add_argument("--no-ceiling", action="store_true", help="skip the bare FastAPI ceiling")
    p.add_argument(
        "--ceiling-seconds",
        type=float,
        default=20.0,
        help="time bound per ceiling run (it sends as many requests as the Amtsweg run did)",
    )
    p.add_argument(
        "--receipt-runs", type=int, default=30, help="bare render_receipt repetitions (0: skip)"
    )
    p.add_argument(
        "--separate-worker",
        action="store_true",
        help="SQLite: run 'amtsweg serve --no-worker' and a separate 'amtsweg "
        "worker' (default: serve's own job worker, when serve has one)",
    )
    p.add_argument("--pg-port", type=int, default=54351, help="port of the throwaway PostgreSQL")
    p.add_argument("--json", metavar="PATH", help="write all figures as JSON")
    p.add_argument("--keep-logs", metavar="DIR", help="copy the server and worker logs here")
    args = p.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    return args


class Scenario:
    """One scenario: its database, its servers, its runs."""

    def __init__(self, key: str, args, procs: h.Processes, root: Path, pg: h.Postgres | None):
        self.key = key
        self.spec = SCENARIOS[key]
        self.args = args
        self.procs = procs
        self.workdir = root / key
        self.workdir.mkdir(parents=True)
        self.pg = pg
        self.web = self.spec["web"]
        self.server: h.Server | None = None
        self.jobs: list[h.Proc] = []
        self.result: dict = {"scenario": key, "title": self.spec["title"], "runs": []}
        self.next_filing = 0

    def database(self) -> str:
        if self.spec["db"] == "sqlite":
            return f"sqlite:///{self.workdir / 'amtsweg.db'}"
        return self.pg.create_database(f"amtsweg_bench_{self.key}")

    def start(self) -> None:
        self.url = self.database()
        self.port = h.free_port()
        self.env = h.base_env(self.url, self.port, self.workdir, self.web)
        t0 = time.monotonic()
        h.prepare_database(self.env)
        self.result["prepare_s"] = round(time.monotonic() - t0, 2)
        own_worker = None
        separate = self.spec["db"] == "pg" or self.args.separate_worker
        if self.spec["db"] == "sqlite" and not h.serve_supports_worker_flag():
            separate = True  # this serve starts no job worker of its own
        if separate:
            own_worker = False
        self.server = h.start_serve(
            self.procs, self.env, self.port, self.workdir, self.web, job_worker=own_worker
        )
        if separate:
            self.jobs.append(h.start_job_worker(self.procs, self.env, self.workdir))
        self.result["serve_startup_s"] = round(self.server.startup_s, 2)
        self.result["job_worker"] = "separate amtsweg worker" if separate else "started by serve"
        h.log(
            f"{self.key}: serve answered {self.server.startup_s:.2f} s after start "
            f"({self.result['job_worker']})"
        )
        self.engine = h.engine_for(self.url)

    def job_pids(self) -> list[int]:
        return [p.pid for p in self.jobs]

    def cpu(self) -> dict[int, float]:
        return h.tree_cpu_s([self.server.proc.pid, *self.job_pids()])

    def warm_up(self) -> None:
        if self.args.warmup <= 0:
            return
        rec = h.Recorder()
        asyncio.run(
            h.run_filings(
                self.server.base,
                min(4, self.args.warmup),
                self.args.warmup,
                120,
                rec,
                first=self.next_filing,
            )
        )
        self.next_filing += self.args.warmup
        if rec.failed:
            h.log(f"{self.key}: warm-up: {rec.failed} filing(s) failed: {dict(rec.errors)}")
        h.wait_for_receipts(self.engine, 120)

    def run(self, clients: int) -> dict:
        n = filings_for(clients, self.args)
        h.log(f"{self.key}: {clients} client(s), {n} filings ...")
        job_id = h.max_job_id(self.engine)
        cpu_before = self.cpu()
        web_before = set(h.web_pids(self.server.proc.pid, self.web))
        client_cpu = time.process_time()
        rec = h.Recorder()
        asyncio.run(
            h.run_filings(
                self.server.base, clients, n, self.args.time_limit, rec, first=self.next_filing
            )
        )
        self.next_filing += n
        load_end = time.time()
        client_cpu = time.process_time() - client_cpu
        mem = h.memory(self.server.proc.pid, self.web, self.job_pids())
        # uvicorn replaces a worker that died or missed its 5 s health check.
        restarts = len(set(h.web_pids(self.server.proc.pid, self.web)) - web_before)
        cpu_after = self.cpu()
        job_roles = set(self.job_pids()) | {p for p in cpu_after if h.role_of(p) == "job"}
        delta = {p: cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after}
        web_cpu = sum(v for p, v in delta.items() if p not in job_roles)
        job_cpu = sum(v for p, v in delta.items() if p in job_roles)
        receipts = h.wait_for_receipts(self.engine, self.args.receipt_timeout)
        cpu_end = self.cpu()
        job_cpu_all = sum(cpu_end[p] - cpu_before.get(p, 0.0) for p in cpu_end if p in job_roles)
        last_ack = max((a.at for a in rec.acks), default=None)
        last_receipt = h.last_receipt_at(self.engine)
        catch_up = None
        if receipts["caught_up"] and last_ack is not None and last_receipt is not None:
            catch_up = max(0.0, last_receipt - last_ack)
        jobs = h.receipt_jobs(self.engine, job_id, since=load_end)
        jobs["cpu_s"] = round(job_cpu_all, 2)
        jobs["cpu_ms_per_receipt"] = job_cpu_all / jobs["done"] * 1000 if jobs["done"] else None
        s = rec.summary()
        acked = s["filings_acknowledged"]
        run = {
            "clients": clients,
            "filings_planned": n,
            **s,
            "server_cpu_s": round(web_cpu, 2),
            "server_cpu_ms_per_filing": web_cpu / acked * 1000 if acked else None,
            "job_cpu_during_load_s": round(job_cpu, 2),
            "client_cpu_s": round(client_cpu, 2),
            "client_cpu_ms_per_request": client_cpu / s["requests"] * 1000
            if s["requests"]
            else None,
            "memory": mem,
            "web_worker_restarts": restarts,
            "receipts": {**receipts, "catch_up_s": catch_up, "jobs": jobs},
        }
        h.log(
            f"{self.key}: {clients} client(s): {acked}/{s['filings_started']} acknowledged, "
            f"{h.fmt(s['filings_per_s'], digits=2)} filings/s, errors {s['errors'] or 0}; "
            f"receipts {'caught up' if receipts['caught_up'] else 'MISSING'} "
            f"{h.fmt(catch_up, digits=1)} s after the last filing"
        )
        self.result["runs"].append(run)
        return run

    def stop_amtsweg(self) -> None:
        for proc in [*self.jobs, self.server.proc]:
            self.procs.stop(proc)
        logs = [self.server.proc.log_path, *(p.log_path for p in self.jobs)]
        self.result["log_error_lines"] = sum(h.log_problems(p) for p in logs)
        self.result["receipt_jobs_all"] = h.receipt_jobs(self.engine)

    def ceiling(self) -> None:
        port = h.free_port()
        server = h.start_ceiling(self.procs, self.url, port, self.web, self.workdir)
        self.result["ceiling_startup_s"] = round(server.startup_s, 2)
        try:
            for run in self.result["runs"]:
                c = run["clients"]
                total = max(run["requests"], 200)
                h.log(f"{self.key}: ceiling, {c} client(s), {total} requests ...")
                rec = asyncio.run(
                    h.run_requests(f"{server.base}/insert", c, total, self.args.ceiling_seconds)
                )
                cs = rec.summary()
                run["ceiling"] = {
                    "requests": cs["requests"],
                    "requests_per_s": cs["requests_per_s"],
                    "request_p50_s": cs["request_p50_s"],
                    "request_p99_s": cs["request_p99_s"],
                    "errors": cs["errors"],
                }
                amtsweg_rps = (run["filings_per_s"] or 0) * (run["requests_per_filing"] or 0)
                run["ceiling_ratio"] = (
                    amtsweg_rps / cs["requests_per_s"] if cs["requests_per_s"] else None
                )
        finally:
            self.procs.stop(server.proc)
        self.result["ceiling_log_error_lines"] = h.log_problems(server.proc.log_path)

    def close(self) -> None:
        if getattr(self, "engine", None) is not None:
            self.engine.dispose()


def mb(values: list[float]) -> str:
    return " + ".join(f"{v:.0f}" for v in values) if values else "–"


def errors_text(errors: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in errors.items()) if errors else "0"


def print_scenario(result: dict) -> None:
    ms = 1000
    t = Table(
        title=f"{result['title']} — serve answered {result['serve_startup_s']} s after "
        f"start; ceiling {result.get('ceiling_startup_s', '–')} s"
    )
    for col in (
        "Clients",
        "Filings ok/started",
        "Filings/s",
        "Filing p50 s",
        "Filing p99 s",
        "Req/s",
        "Req p50 ms",
        "Req p99 ms",
        "Errors",
        "CPU ms/filing",
        "Ceiling req/s",
        "Ceiling p50/p99 ms",
        "Amtsweg/ceiling",
    ):
        t.add_column(col, justify="right")
    for r in result["runs"]:
        c = r.get("ceiling") or {}
        t.add_row(
            str(r["clients"]),
            f"{r['filings_acknowledged']}/{r['filings_started']}",
            h.fmt(r["filings_per_s"], digits=2),
            h.fmt(r["filing_p50_s"], digits=2),
            h.fmt(r["filing_p99_s"], digits=2),
            h.fmt(r["requests_per_s"], digits=1),
            h.fmt(r["request_p50_s"], ms),
            h.fmt(r["request_p99_s"], ms),
            errors_text(r["errors"])
            + (
                f"; {r['web_worker_restarts']} web worker restart(s)"
                if r["web_worker_restarts"]
                else ""
            ),
            h.fmt(r["server_cpu_ms_per_filing"]),
            h.fmt(c.get("requests_per_s")),
            f"{h.fmt(c.get('request_p50_s'), ms, 1)}/{h.fmt(c.get('request_p99_s'), ms, 1)}"
            if c
            else "–",
            h.fmt(r.get("ceiling_ratio"), 100, 0) + " %" if r.get("ceiling_ratio") else "–",
        )
    console.print(t)

    t = Table(
        title=f"{result['title']} — memory after each run, receipts "
        f"(job worker: {result['job_worker']})"
    )
    for col in (
        "Clients",
        "RSS serve tree MB",
        "RSS web worker(s) MB",
        "RSS job worker MB",
        "Receipts",
        "Catch-up s",
        "Missing",
        "Receipts/s",
        "Median/receipt ms",
        "… after load ms",
        "CPU ms/receipt",
    ):
        t.add_column(col, justify="right")
    for r in result["runs"]:
        m, rc = r["memory"], r["receipts"]
        j = rc["jobs"]
        t.add_row(
            str(r["clients"]),
            f"{m['serve_tree_mb']:.0f}",
            mb(m["web_mb"]),
            mb(m["job_mb"]),
            f"{rc['receipts']}/{rc['cases']}",
            h.fmt(rc["catch_up_s"], digits=1) if rc["caught_up"] else f"> {rc['waited_s']:.0f}",
            str(rc["missing"]),
            h.fmt(j["per_s"], digits=2),
            h.fmt(j["median_s"], ms),
            h.fmt(j["median_after_load_s"], ms)
            + (f" ({j['after_load']})" if j["after_load"] else ""),
            h.fmt(j["cpu_ms_per_receipt"]),
        )
    console.print(t)

    labels = sorted({k for r in result["runs"] for k in r["by_request"]})
    t = Table(title=f"{result['title']} — per request p50/p99 ms")
    t.add_column("Request")
    for r in result["runs"]:
        t.add_column(f"{r['clients']} client(s)", justify="right")
    for label in labels:
        cells = []
        for r in result["runs"]:
            x = r["by_request"].get(label)
            cells.append(f"{h.fmt(x['p50_s'], ms)}/{h.fmt(x['p99_s'], ms)}" if x else "–")
        t.add_row(label, *cells)
    console.print(t)
    if result.get("log_error_lines"):
        console.print(
            f"[yellow]{result['log_error_lines']} error line(s) in the server and "
            "worker logs[/yellow]"
        )


def print_summary(results: list[dict], render: dict | None) -> None:
    t = Table(title="Summary (receipt figures: ms, and in brackets x the bare render)")
    for col in (
        "Scenario",
        "Best filings/s",
        "at clients",
        "Worst req p99 ms",
        "Errors (all runs)",
        "Amtsweg/ceiling at best",
        "Median/receipt (goal <= 1.3 x)",
        "1 / best receipts/s",
        "CPU/receipt (x bare CPU)",
    ):
        t.add_column(col, justify="right" if col != "Scenario" else "left")

    def with_ratio(seconds: float | None, bare: float | None) -> tuple[str, float | None]:
        if seconds is None:
            return "–", None
        ratio = seconds / bare if bare else None
        return h.fmt(seconds, 1000) + (f" ({ratio:.2f} x)" if ratio else ""), ratio

    bare = render["median_s"] if render else None
    bare_cpu = render["cpu_median_s"] if render else None
    for res in results:
        runs = res["runs"]
        if not runs:
            continue
        best = max(runs, key=lambda r: r["filings_per_s"] or 0)
        errors = sum(sum(r["errors"].values()) for r in runs)
        jobs = res.get("receipt_jobs_all") or {}
        per_s = max((r["receipts"]["jobs"]["per_s"] or 0) for r in runs)
        done = sum(r["receipts"]["jobs"]["done"] for r in runs)
        cpu = sum(r["receipts"]["jobs"]["cpu_s"] for r in runs)
        median_text, res["receipt_median_vs_bare"] = with_ratio(jobs.get("median_s"), bare)
        thr_text, res["receipt_throughput_vs_bare"] = with_ratio(1 / per_s if per_s else None, bare)
        cpu_text, res["receipt_cpu_vs_bare"] = with_ratio(cpu / done if done else None, bare_cpu)
        t.add_row(
            res["scenario"],
            h.fmt(best["filings_per_s"], digits=2),
            str(best["clients"]),
            h.fmt(max((r["request_p99_s"] or 0) for r in runs), 1000),
            str(errors),
            h.fmt(best.get("ceiling_ratio"), 100) + " %" if best.get("ceiling_ratio") else "–",
            median_text,
            thr_text,
            cpu_text,
        )
    console.print(t)
    if render:
        console.print(
            f"Receipt ceiling: bare render_receipt of {render['reference']}'s context, "
            f"{render['runs']} runs in one process: median {render['median_s'] * 1000:.0f} ms "
            f"(min {render['min_s'] * 1000:.0f}, max {render['max_s'] * 1000:.0f}, CPU "
            f"{render['cpu_median_s'] * 1000:.0f}; "
            f"{render['pdf_bytes'] / 1024:.0f} KB). Goal: the job worker's median per receipt "
            "<= 1.3 x this. The worker's median includes reading the case and storing the PDF, "
            "competes with the web load for the cores ('… after load' is without it) and with "
            "the worker's other threads (AMTSWEG_WORKER_THREADS, 2) for the GIL; 1 / receipts/s "
            "and CPU per receipt show the cost without that sharing."
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    h.install_signal_handlers()
    h.event_loop_policy()
    info = h.machine()
    console.print(h.machine_line(info))
    console.print(
        "Scenarios: "
        + "; ".join(f"{k} = {SCENARIOS[k]['title']}" for k in args.scenarios)
        + f". Clients {args.clients}; filings "
        f"{[filings_for(c, args) for c in args.clients]}; time limit {args.time_limit:.0f} s "
        f"per run."
    )
    procs = h.Processes()
    root = Path(tempfile.mkdtemp(prefix="amtsweg-bench-load."))
    pg: h.Postgres | None = None
    results: list[dict] = []
    render = None
    data = {"machine": info, "args": vars(args), "scenarios": results}
    t_start = time.monotonic()
    try:
        if any(SCENARIOS[s]["db"] == "pg" for s in args.scenarios):
            pg = h.Postgres(args.pg_port)
            pg.start()
        for key in args.scenarios:
            sc = Scenario(key, args, procs, root, pg)
            results.append(sc.result)
            try:
                sc.start()
                sc.warm_up()
                for clients in args.clients:
                    sc.run(clients)
                sc.stop_amtsweg()
                if render is None and args.receipt_runs > 0:
                    h.log(f"bare render_receipt x {args.receipt_runs} ...")
                    render = h.receipt_render_ceiling(sc.url, args.receipt_runs)
                    data["receipt_render"] = render
                if not args.no_ceiling:
                    sc.ceiling()
            finally:
                procs.stop_all()
                sc.close()
            print_scenario(sc.result)
        print_summary(results, render)
        data["total_s"] = round(time.monotonic() - t_start, 1)
        console.print(f"Total time {data['total_s']:.0f} s.")
    except KeyboardInterrupt:
        h.log("interrupted: cleaning up")
        return 130
    finally:
        procs.stop_all()
        h.save_logs(root, args.keep_logs, pg)
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
        h.write_json(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
