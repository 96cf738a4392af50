"""Job kinds, registered by name next to the feature that owns them (``services/<feature>/
jobs.py``): ``@job("cases.receipt")`` on a function ``fn(ctx: JobContext, **args)``.

A job function manages its own transactions (``unit_of_work(ctx.engine)``) so it can do slow
work (rendering a PDF, talking to SMTP) outside any transaction and lock, and it must be
idempotent: after a worker crash the same job runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class JobContext:
    engine: Engine
    settings: Any
    job_id: int
    attempt: int  # 1 for the first attempt


@dataclass(frozen=True)
class JobSpec:
    kind: str
    fn: Callable[..., Any]
    max_attempts: int
    lease_seconds: int  # a running job whose lease passed is taken to be dead and re-run
    label: tuple[str, str]  # German, English: what administrators read


_KINDS: dict[str, JobSpec] = {}


class UnknownJob(KeyError):
    pass


def job(
    kind: str,
    *,
    label: tuple[str, str],
    max_attempts: int = 8,
    lease_seconds: int = 300,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if kind in _KINDS and _KINDS[kind].fn is not fn:
            raise ValueError(f"job kind {kind!r} is registered twice")
        _KINDS[kind] = JobSpec(kind, fn, max_attempts, lease_seconds, label)
        return fn

    return register


def load_all() -> None:
    """Import every feature's job module so its kinds are registered."""
    import services.annual.jobs  # noqa: F401
    import services.cases.jobs  # noqa: F401
    import services.fim.jobs  # noqa: F401
    import services.jobs.maintenance  # noqa: F401
    import services.mail.jobs  # noqa: F401


def spec(kind: str) -> JobSpec:
    if kind not in _KINDS:
        load_all()
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownJob(kind) from None


def kinds() -> dict[str, JobSpec]:
    load_all()
    return dict(_KINDS)
