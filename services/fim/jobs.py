"""The job that parses an uploaded FIM schema with its code lists (services/fim/service.py)."""

from __future__ import annotations

from services.fim import service
from services.jobs.registry import JobContext, job


@job(
    service.JOB,
    label=("FIM-Schema einlesen", "Read a FIM schema"),
    max_attempts=1,  # a broken file fails the same way again; the page reports it
    lease_seconds=300,
)
def read_schema(ctx: JobContext, import_id: int) -> None:
    try:
        service.run(ctx.engine, import_id)
    except Exception:
        service.fail(ctx.engine, import_id)
        raise
