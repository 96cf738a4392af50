"""Benchmark: CPU time per portal page, in process, side by side with a bare FastAPI page.

Whole dog registrations (start page, every step, check page, submit, confirmation; a fresh
cookie jar per filing, as in bench/load.py) are sent one after another straight into the
application (httpx's ASGI transport: no sockets, no server), on a throwaway SQLite database
with the demo data and the jobs left queued (no receipts are rendered). For each kind of
request it prints the median wall time and the median process CPU time, and the same for
a bare FastAPI app (one Jinja page, one form POST that inserts a row) driven the same way,
so the ratio shows what Amtsweg's pages cost beyond the framework and the client.

    uv run python bench/pages.py [--filings 40] [--profile 30]

``--profile N`` prints the N functions with the most CPU time (cProfile; the thread pool
is bypassed so that the routes' own work is profiled too).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Timings:
    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)

    async def request(self, client, label: str, method: str, url: str, data=None):
        w0, c0 = time.perf_counter(), time.process_time()
        r = await client.request(method, url, data=data)
        self.cpu[label].append(time.process_time() - c0)
        self.wall[label].append(time.perf_counter() - w0)
        return r


async def file_once(app, n: int, t: Timings) -> str:
    import httpx

    steps = h.filing_answers(n)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        r = await t.request(c, "GET start page", "GET", h.URL)
        assert r.status_code == 200, r.status_code
        csrf = CSRF.search(r.text).group(1)
        r = await t.request(c, "POST start", "POST", h.URL + "/start", {"csrf_token": csrf})
        assert r.status_code == 303, r.status_code
        url = r.headers["location"]
        for _ in range(20):
            label = "GET check" if url.endswith("/check") else "GET step"
            r = await t.request(c, label, "GET", url)
            assert r.status_code == 200, (url, r.status_code)
            if url.endswith("/check"):
                break
            step = url.rsplit("/", 1)[-1].split("?")[0]
            r = await t.request(c, "POST step", "POST", url, {"csrf_token": csrf, **steps[step]})
            assert r.status_code == 303, (url, r.status_code, r.text[:2000])
            url = r.headers["location"]
        r = await t.request(c, "POST submit", "POST", h.URL + "/submit", {"csrf_token": csrf})
        assert r.status_code == 303, r.status_code
        r = await t.request(c, "GET confirmation", "GET", r.headers["location"])
        assert r.status_code == 200 and "HST-" in r.text
        return r.text


def bare_app(database_url: str):
    """A FastAPI app with one Jinja page and one form POST inserting a row (sync routes,
    like Amtsweg's), on its own SQLite file."""
    from fastapi import FastAPI, Form
    from fastapi.responses import HTMLResponse, RedirectResponse
    from jinja2 import Environment
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)"))
    page = Environment(autoescape=True).from_string(
        "<!DOCTYPE html><html lang=de><title>{{ t }}</title><form method=post>"
        "<input name=csrf_token value={{ c }}><input name=v></form></html>"
    )
    app = FastAPI()

    @app.get("/page")
    def get_page() -> HTMLResponse:
        return HTMLResponse(page.render(t="Seite", c="x" * 40))

    @app.post("/page")
    def post_page(v: str = Form(""), csrf_token: str = Form("")) -> RedirectResponse:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})
        return RedirectResponse("/page", status_code=303)

    return app


async def bare_once(app, t: Timings) -> None:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        for _ in range(9):  # as many GETs and POSTs as a filing's steps
            await t.request(c, "bare GET", "GET", "/page")
            r = await t.request(c, "bare POST", "POST", "/page", {"v": "x", "csrf_token": "y"})
            assert r.status_code == 303


def inline_threads() -> None:
    """Run the thread pool's work inline (for cProfile, which sees one thread only)."""
    import anyio.to_thread

    async def run_sync(func, *args, abandon_on_cancel=False, cancellable=None, limiter=None):
        return func(*args)

    anyio.to_thread.run_sync = run_sync


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--filings", type=int, default=40)
    p.add_argument("--profile", type=int, default=0, metavar="N")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="amtsweg-pages-"))
    env = h.base_env(f"sqlite:///{work}/amtsweg.db", 8000, work)
    env.update(AMTSWEG_JOBS="manual", AMTSWEG_BASE_URL="http://127.0.0.1:8000")
    h.log("migrating and loading the demo data …")
    h.prepare_database(env)
    os.environ.update(env)
    from services.app import create_app

    app = create_app()
    bare = bare_app(f"sqlite:///{work}/bare.db")
    if args.profile:
        inline_threads()

    async def run() -> tuple[Timings, Timings, cProfile.Profile | None]:
        warm = Timings()
        for n in range(3):
            await file_once(app, 10_000 + n, warm)
            await bare_once(bare, warm)
        t, b = Timings(), Timings()
        prof = cProfile.Profile(time.process_time) if args.profile else None
        for n in range(args.filings):
            if prof:
                prof.enable()
            await file_once(app, n, t)
            if prof:
                prof.disable()
            await bare_once(bare, b)
        return t, b, prof

    h.log(f"{args.filings} filings and as many bare rounds, one after another …")
    t, b, prof = asyncio.run(run())

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:7.2f}"

    print(f"\nper request, median of {args.filings} filings (ms)")
    print(f"{'request':20s} {'n':>5s} {'wall':>7s} {'CPU':>7s}")
    for label in sorted(t.cpu):
        print(f"{label:20s} {len(t.cpu[label]):5d} {ms(t.wall[label])} {ms(t.cpu[label])}")
    for label in sorted(b.cpu):
        print(f"{label:20s} {len(b.cpu[label]):5d} {ms(b.wall[label])} {ms(b.cpu[label])}")
    all_cpu = sum(sum(v) for v in t.cpu.values()) / args.filings
    all_req = sum(len(v) for v in t.cpu.values()) / args.filings
    bare_cpu = statistics.median(b.cpu["bare GET"] + b.cpu["bare POST"])
    print(
        f"\nCPU per filing: {all_cpu * 1000:.0f} ms for {all_req:.0f} requests "
        f"({all_cpu / all_req * 1000:.2f} ms per request); bare page median "
        f"{bare_cpu * 1000:.2f} ms; ratio {all_cpu / all_req / bare_cpu:.1f}x"
    )
    if prof:
        print(f"\ncProfile, CPU time, top {args.profile} by own time:")
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
        print(f"\ncProfile, CPU time, top {args.profile} by cumulative time:")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)
        print(f"\ncProfile, Amtsweg's own functions, top {args.profile} by cumulative time:")
        own = r"/(services|forms|workflow|templates)/"
        pstats.Stats(prof).sort_stats("cumulative").print_stats(own, args.profile)


if __name__ == "__main__":
    main()
