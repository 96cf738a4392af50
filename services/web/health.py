"""Liveness and readiness for load balancers and orchestrators.

- ``GET /livez``: the process answers (no database); 200 ``{"status": "ok"}``.
- ``GET /readyz``: runs every check in ``app.state.readiness_checks`` (name → callable
  that raises when the dependency is not usable) on a side thread with a short timeout;
  200 ``{"status": "ok", "checks": {"database": "ok"}}``, else 503 naming the failing
  checks. Other features register their own check, e.g.
  ``app.state.readiness_checks["queue"] = lambda: ...``.

The older ``GET /api/v1/health`` stays as it is."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.web.threads import side_thread

log = logging.getLogger("amtsweg.health")

CHECK_TIMEOUT_SECONDS = 2.0

ReadinessCheck = Callable[[], None]

router = APIRouter(include_in_schema=False)


def database_check(engine: Engine) -> ReadinessCheck:
    def check() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return check


@router.get("/livez")
async def livez() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def _run(name: str, check: ReadinessCheck, results: dict[str, str]) -> None:
    try:
        await side_thread(check, timeout=CHECK_TIMEOUT_SECONDS)
        results[name] = "ok"
    except TimeoutError:
        log.warning("readiness check %s timed out after %.1f s", name, CHECK_TIMEOUT_SECONDS)
        results[name] = "timeout"
    except Exception as exc:  # the reason goes to the log, not to the caller
        log.warning("readiness check %s failed: %s", name, exc)
        results[name] = f"failed: {type(exc).__name__}"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    results: dict[str, str] = {}
    async with anyio.create_task_group() as tg:
        for name, check in list(checks.items()):
            tg.start_soon(_run, name, check, results)
    ok = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ok" if ok else "fail", "checks": dict(sorted(results.items()))},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )
