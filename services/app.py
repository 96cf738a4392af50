"""create_app: the portal, the office and the API in one ASGI application."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.accounts.routes import router as accounts_router
from services.admin.fim_routes import router as fim_router
from services.admin.form_editor_routes import router as form_editor_router
from services.admin.municipality_routes import router as admin_municipality_router
from services.admin.overview_routes import router as admin_overview_router
from services.admin.procedure_routes import router as admin_procedures_router
from services.admin.users_routes import router as admin_users_router
from services.annual.routes import router as runs_router
from services.api.routes import describe_api
from services.api.routes import docs_router as api_docs_router
from services.api.routes import router as api_router
from services.cases.routes import lang_router, status_router
from services.cases.routes import router as portal_router
from services.config import ROOT, Settings, get_settings
from services.db import make_engine
from services.documents.fonts import coverage as font_coverage
from services.errors import DomainError
from services.jobs import metrics as jobs_metrics
from services.jobs import queue as jobs_queue
from services.jobs.routes import router as jobs_router
from services.logs import configure_logging, current_request_id
from services.procedures import registry
from services.review.routes import router as office_router
from services.statistics.routes import router as statistics_router
from services.uploads.scanner import scanner_from_address
from services.web import metrics
from services.web.deps import NotLoggedIn, RedirectTo, refuse_nul
from services.web.health import database_check
from services.web.health import router as health_router
from services.web.i18n import pick
from services.web.middleware import (
    RETRY_AFTER_SECONDS,
    BodyLimitMiddleware,
    ConcurrencyLimitMiddleware,
    ContextVarMiddleware,
    RequestContextMiddleware,
    ResponseHeadersMiddleware,
    allowed_methods,
    loggable_path,
)
from services.web.templating import lang_of, render
from workflow import TransitionRefused

log = logging.getLogger("amtsweg")

# On every answer that does not set its own.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
}
# Production is served over https only (config refuses anything else): browsers are told to
# use https for a year, even when a link or a typed address says http.
HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
# Pages and API answers carry personal data (cases, accounts, status links): no browser or
# proxy keeps a copy, unless a route sets its own Cache-Control. Static assets are exempt.
NO_STORE = {"Cache-Control": "no-store"}
CACHEABLE_PREFIXES = ("/static/",)


def seed_procedures(engine) -> None:
    """First start: the repository's procedures become version 1 of every municipality."""
    from sqlmodel import select

    from services.db import unit_of_work
    from services.municipalities.models import Municipality
    from services.procedures.versions import seed_builtin

    with unit_of_work(engine) as db:
        for m in db.exec(select(Municipality)).all():
            seed_builtin(db, m.id)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.env != "test":
            await run_in_threadpool(seed_procedures, app.state.engine)
        # No WeasyPrint warm-up here: web processes render no PDFs (receipts and notices are
        # jobs; only an administrator's preview renders, and loads WeasyPrint on first use),
        # which keeps a web worker's start-up and memory small. The fonts' character coverage
        # (read by the form engine's check of every text answer) is read in the background.
        reading = None
        if settings.env != "test":
            reading = asyncio.create_task(run_in_threadpool(font_coverage))
        yield
        if reading is not None:
            await reading
        app.state.engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Amtsweg",
        version="0.1.0",
        # Served by services/api/routes.py (docs_router): own assets, staff only in production.
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],
    )
    app.state.settings = settings
    if settings.env != "test":
        configure_logging(settings)  # also in each uvicorn worker process, which imports the app
    # One figure sizes the thread pool, the requests let in at once and the database pool.
    app.state.engine = make_engine(settings.database_url, pool_size=settings.threads)
    # /readyz runs these (name -> callable that raises when not ready); add your own.
    app.state.readiness_checks = {"database": database_check(app.state.engine)}
    registry.bind(app.state.engine)
    # Jobs queued by requests are handed to the job workers after their commit (ADR 0008).
    app.state.jobs = jobs_queue.configure(app.state.engine, settings)
    if app.state.jobs is not None:
        app.state.readiness_checks["queue"] = app.state.jobs.check
    jobs_metrics.COLLECTOR.engine = app.state.engine
    metrics.register_collector(jobs_metrics.COLLECTOR)
    app.state.scanner = scanner_from_address(settings.clamd_address or None)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="amtsweg_session",
        same_site="lax",
        https_only=settings.is_production,
        max_age=None,  # ends with the browser; staff sessions also time out when idle
    )

    # Procedure versions come from this app's database (a context variable per request).
    app.add_middleware(ContextVarMiddleware, bind=lambda: registry.use_engine(app.state.engine))
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        reject=lambda request: error_page(
            request,
            413,
            {"de": "Zu große Datenmenge", "en": "Too much data"},
            {
                "de": "Die gesendeten Daten sind zu groß. Eine Datei darf höchstens 10 MB groß "
                "sein. Bitte gehen Sie zurück und laden Sie kleinere Dateien hoch; Ihre "
                "gespeicherten Angaben bleiben erhalten.",
                "en": "The data sent is too large. A file may be at most 10 MB. Go back and "
                "upload smaller files; your saved answers are kept.",
            },
        ),
    )

    # Inside security_headers, so its 503 page gets them too (busy_page is defined below).
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        slots=settings.threads,
        timeout=settings.queue_timeout_seconds,
        reject=lambda request: busy_page(request),
        routes=app.router.routes,
    )

    app.add_middleware(
        ResponseHeadersMiddleware, headers=NO_STORE, except_prefixes=CACHEABLE_PREFIXES
    )
    app.add_middleware(
        ResponseHeadersMiddleware,
        headers=SECURITY_HEADERS | (HSTS if settings.is_production else {}),
    )

    def error_page(request: Request, status: int, title, message) -> Response:
        lang = lang_of(request)
        if _wants_json(request):
            return JSONResponse({"detail": pick(message, lang)}, status_code=status)
        return render(
            request,
            "error.html",
            status_code=status,
            title=pick(title, lang),
            message=pick(message, lang),
        )

    def busy_page(request: Request) -> Response:
        response = error_page(
            request,
            503,
            {"de": "Gerade stark ausgelastet", "en": "Very busy right now"},
            {
                "de": "Gerade nutzen sehr viele Menschen diesen Dienst. Bitte versuchen Sie es "
                "in einigen Sekunden noch einmal; Ihre gespeicherten Angaben bleiben erhalten.",
                "en": "Very many people are using this service right now. Please try again in "
                "a few seconds; your saved answers are kept.",
            },
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(PoolTimeout)
    async def pool_timeout(request: Request, exc: PoolTimeout) -> Response:
        # No database connection within the pool timeout: saturated, not broken.
        log.warning("no database connection free: %s", exc)
        metrics.REJECTED.labels("db_pool_timeout").inc()
        return busy_page(request)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # The database went away (restart, failover, network): nothing was acknowledged, the
        # transaction rolled back; the client may try again shortly.
        log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
        metrics.REJECTED.labels("database_unavailable").inc()
        return busy_page(request)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return error_page(request, exc.status, exc.title, exc.message)

    @app.exception_handler(TransitionRefused)
    async def transition_refused(request: Request, exc: TransitionRefused) -> Response:
        return error_page(
            request,
            exc.status,
            {"de": "Arbeitsschritt nicht möglich", "en": "Step not possible"},
            exc.reason,
        )

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Nicht angemeldet / not logged in"}, status_code=401)
        return RedirectResponse(f"/office/login?next={request.url.path}", status_code=303)

    @app.exception_handler(RedirectTo)
    async def redirect_to(request: Request, exc: RedirectTo) -> Response:
        if exc.flash:
            flash = exc.flash
            request.session["flash"] = flash.model_dump() if hasattr(flash, "model_dump") else flash
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if all(error["loc"][0] == "path" for error in exc.errors()):
            # An address whose parts do not fit (an id beyond any row, letters for a number)
            # names no page.
            return await http_error(request, StarletteHTTPException(404))
        return error_page(
            request,
            400,
            {"de": "Ungültige Anfrage", "en": "Bad request"},
            {
                "de": "Die Anfrage war unvollständig oder fehlerhaft. "
                "Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
                "en": "The request was incomplete or wrong. Reload the page and try again.",
            },
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error_with_headers(request: Request, exc: StarletteHTTPException) -> Response:
        response = await http_error(request, exc)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Every method the address takes, from all its routes (static files: GET, HEAD).
            methods = allowed_methods(app.router.routes, request.scope) or {"GET", "HEAD"}
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(
                request,
                404,
                {"de": "Seite nicht gefunden", "en": "Page not found"},
                {
                    "de": "Diese Seite gibt es nicht. Bitte prüfen Sie die Adresse.",
                    "en": "This page does not exist. Check the address.",
                },
            )
        if exc.status_code == 405:
            return error_page(
                request,
                405,
                {"de": "Nicht möglich", "en": "Not possible"},
                {
                    "de": "Diese Adresse kann so nicht aufgerufen werden. Bitte gehen Sie zurück.",
                    "en": "This address cannot be used like this. Please go back.",
                },
            )
        return error_page(
            request, exc.status_code, {"de": "Fehler", "en": "Error"}, str(exc.detail)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", loggable_path(request.scope))
        response = error_page(
            request,
            500,
            {"de": "Technischer Fehler", "en": "Technical error"},
            {
                "de": "Es ist ein technischer Fehler aufgetreten. Ihre bisher gespeicherten "
                "Angaben bleiben erhalten. Bitte versuchen Sie es später noch einmal.",
                "en": "A technical error occurred. Your saved answers are kept. Please try again "
                "later.",
            },
        )
        # This handler answers outside RequestContextMiddleware: name the request here.
        response.headers["X-Request-ID"] = current_request_id() or ""
        return response

    # Outermost: request id, access log and metrics cover every answer, 503s included.
    app.add_middleware(RequestContextMiddleware)

    app.mount(
        "/static/swagger-ui",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-ui",
    )
    app.mount("/static", StaticFiles(directory=ROOT / "templates" / "static"), name="static")
    app.include_router(health_router)
    app.include_router(metrics.router)
    app.include_router(api_router)
    app.include_router(api_docs_router)
    describe_api(app)
    # Pages are HTML for people, not API operations: they stay out of /api/openapi.json.
    app.include_router(status_router, include_in_schema=False)
    app.include_router(lang_router, include_in_schema=False)
    app.include_router(accounts_router, include_in_schema=False)
    app.include_router(office_router, include_in_schema=False)
    app.include_router(fim_router, include_in_schema=False)
    app.include_router(admin_procedures_router, include_in_schema=False)
    app.include_router(form_editor_router, include_in_schema=False)
    app.include_router(statistics_router, include_in_schema=False)
    app.include_router(runs_router, include_in_schema=False)
    app.include_router(admin_municipality_router, include_in_schema=False)
    app.include_router(admin_overview_router, include_in_schema=False)
    app.include_router(admin_users_router, include_in_schema=False)
    app.include_router(jobs_router, include_in_schema=False)
    # Last: its /{municipality}/{procedure} paths are broad.
    app.include_router(portal_router, include_in_schema=False)
    return app
