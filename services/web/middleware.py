"""Pure ASGI middleware (no BaseHTTPMiddleware: nothing is buffered, contextvars reach the
routes and their threads).

- ``RequestContextMiddleware`` (outermost): gives each request an id (``X-Request-ID``,
  also on every log record written while serving it), writes one access-log line and
  records the request in the Prometheus metrics.
- ``ConcurrencyLimitMiddleware``: lets at most AMTSWEG_THREADS requests in at once per
  process (as many as there are threads and database connections); a request that finds
  no free slot within AMTSWEG_QUEUE_TIMEOUT_SECONDS is answered 503 with Retry-After at
  once instead of waiting for a database connection until it fails. Static files and the
  probes are never held back.
- ``ResponseHeadersMiddleware``: headers every answer carries unless the route set them
  (the security headers).
- ``BodyLimitMiddleware``: a request whose declared body is larger than allowed is answered
  at once (413), before anything reads it.
- ``ContextVarMiddleware``: sets a context variable for the request (the database the
  procedure registry reads).

BaseHTTPMiddleware (``@app.middleware("http")``) is not used: each one costs a task, memory
streams and a buffered response per request (about a fifth of a page's CPU time, measured
with py-spy under bench/load.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import anyio
from anyio.lowlevel import RunVar
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.logs import request_id_from, request_id_var
from services.web import metrics
from services.web.threads import size_default_pool

access_log = logging.getLogger("amtsweg.access")

# Answered without waiting for a slot, and logged at DEBUG (probes come every few seconds).
PROBE_PATHS = frozenset({"/livez", "/readyz", "/metrics", "/api/v1/health"})
UNLIMITED_PREFIXES = ("/static/",)
RETRY_AFTER_SECONDS = 5
# Path parameters that are secrets (status and resume links): never written to the log.
SECRET_PARAMS = frozenset({"token"})


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/status/{token}``), ``unmatched`` if none."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path_format", None) or "unmatched"
    if scope.get("endpoint") is not None:  # a mounted app (static files): its prefix
        prefix = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
        if prefix:
            return prefix + "/{path}"
    return "unmatched"


def loggable_path(scope: Scope) -> str:
    """The request path with secret path parameters replaced by ``***``."""
    path = scope.get("path", "")
    route, params = scope.get("route"), scope.get("path_params") or {}
    if route is not None and SECRET_PARAMS & params.keys():
        try:
            path = route.path_format.format(
                **{k: "***" if k in SECRET_PARAMS else v for k, v in params.items()}
            )
        except (AttributeError, KeyError, IndexError, ValueError):
            path = route_template(scope)
    return path[:300]


def all_routes(routes: Iterable) -> Iterable:
    """Every route, with the routes of included routers in place of the routers."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from all_routes(inner.routes)
        else:
            yield route


def match_route(routes: Iterable, scope: Scope) -> None:
    """Note the route a request would have reached (for requests answered before routing,
    so that their metrics and log line name the route, not "unmatched")."""
    for route in all_routes(routes):
        match, child = route.matches(scope)
        if match is Match.FULL:
            scope["route"] = route
            scope["path_params"] = child.get("path_params", {})
            return


def allowed_methods(routes: Iterable, scope: Scope) -> set[str]:
    """Every method some route takes at the request's path (the ``Allow`` header of a 405:
    one address may be served by several routes, a GET page and its POST form)."""
    methods: set[str] = set()
    for route in all_routes(routes):
        if getattr(route, "methods", None) and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return methods


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_from(headers.get(b"x-request-id", b"").decode("latin-1"))
        # Not reset afterwards: each request is its own task, and the error handler that
        # runs outside this middleware (500 pages) still logs with the id.
        request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        metrics.IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.IN_PROGRESS.dec()
            seconds = time.perf_counter() - started
            method, route = scope.get("method", ""), route_template(scope)
            metrics.observe_request(method, route, status, seconds)
            path = loggable_path(scope)
            access_log.log(
                logging.DEBUG if scope.get("path") in PROBE_PATHS else logging.INFO,
                "%s %s %s %.1f ms",
                method,
                path,
                status,
                seconds * 1000,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )


class ConcurrencyLimitMiddleware:
    """``slots`` requests in flight at most; ``reject(request)`` answers the ones that wait
    longer than ``timeout`` seconds (it gets a Retry-After header). Also sizes anyio's
    default thread pool to ``threads`` for each event loop it serves (at start-up, and on
    the first request of loops without a lifespan, like the test client's)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        slots: int,
        timeout: float,
        reject: Callable[[Request], Response],
        threads: int | None = None,
        routes: Iterable = (),
    ) -> None:
        self.app = app
        self.slots = slots
        self.timeout = timeout
        self.reject = reject
        self.threads = threads or slots
        self.routes = routes
        self._limiter: RunVar[anyio.CapacityLimiter] = RunVar("amtsweg_request_slots")

    def limiter(self) -> anyio.CapacityLimiter:
        try:
            return self._limiter.get()
        except LookupError:
            size_default_pool(self.threads)
            limiter = anyio.CapacityLimiter(self.slots)
            self._limiter.set(limiter)
            return limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.limiter()
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PROBE_PATHS or path.startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        limiter, borrower = self.limiter(), object()
        if not await self._acquire(limiter, borrower):
            metrics.REJECTED.labels("queue_timeout").inc()
            match_route(self.routes, scope)
            response = self.reject(Request(scope))
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release_on_behalf_of(borrower)

    async def _acquire(self, limiter: anyio.CapacityLimiter, borrower: object) -> bool:
        try:
            limiter.acquire_on_behalf_of_nowait(borrower)
            return True
        except anyio.WouldBlock:
            pass
        metrics.QUEUED.inc()
        try:
            with anyio.move_on_after(self.timeout):
                await limiter.acquire_on_behalf_of(borrower)
                return True
            return False
        finally:
            metrics.QUEUED.dec()


class ResponseHeadersMiddleware:
    """Adds ``headers`` (name -> value) to every HTTP answer that does not set them itself,
    except to answers for paths that start with one of ``except_prefixes``."""

    def __init__(
        self, app: ASGIApp, *, headers: dict[str, str], except_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]
        self.except_prefixes = except_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.except_prefixes):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message.setdefault("headers", [])
                if not isinstance(raw, list):
                    raw = message["headers"] = list(raw)
                present = {name.lower() for name, _ in raw}
                raw.extend(item for item in self.headers if item[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Answers ``reject(request)`` (a 413 page) when the declared Content-Length is above
    ``max_bytes``; a body without a declared length is bounded by the form parser."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, reject: Callable[[Request], Response]
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers") or ():
                if name == b"content-length":
                    if value.isdigit() and int(value) > self.max_bytes:
                        await self.reject(Request(scope))(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


class ContextVarMiddleware:
    """Calls ``bind()`` at the start of each request, in the request's own context (so the
    routes and the threads they run in see what it sets)."""

    def __init__(self, app: ASGIApp, *, bind: Callable[[], object]) -> None:
        self.app = app
        self.bind = bind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.bind()
        await self.app(scope, receive, send)
