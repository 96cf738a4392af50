"""create_app: the portal, the office and the API in one ASGI application."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.accounts.routes import router as accounts_router
from services.api.routes import router as api_router
from services.cases.routes import router as portal_router
from services.cases.routes import status_router
from services.config import ROOT, Settings, get_settings
from services.db import make_engine
from services.documents.render import warm_up
from services.errors import DomainError
from services.review.routes import router as office_router
from services.web.deps import NotLoggedIn, RedirectTo
from services.web.templating import render
from workflow import TransitionRefused

log = logging.getLogger("amtsweg")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The first PDF in a process pays for fonts and hyphenation: pay it at start-up.
        if settings.env != "test":
            seconds = await run_in_threadpool(warm_up)
            log.info("PDF renderer warmed up in %.2f s", seconds)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Amtsweg",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="amtsweg_session",
        same_site="lax",
        https_only=settings.is_production,
        max_age=None,  # ends with the browser; staff sessions also time out when idle
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response

    def error_page(request: Request, status: int, title: str, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        return render(request, "error.html", status_code=status, title=title, message=message)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return error_page(request, exc.status, exc.title.de, exc.message.de)

    @app.exception_handler(TransitionRefused)
    async def transition_refused(request: Request, exc: TransitionRefused) -> Response:
        return error_page(request, exc.status, "Arbeitsschritt nicht möglich", exc.reason.de)

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Nicht angemeldet / not logged in"}, status_code=401)
        return RedirectResponse(f"/office/login?next={request.url.path}", status_code=303)

    @app.exception_handler(RedirectTo)
    async def redirect_to(request: Request, exc: RedirectTo) -> Response:
        if exc.flash:
            request.session["flash"] = exc.flash
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return error_page(
            request,
            400,
            "Ungültige Anfrage",
            "Die Anfrage war unvollständig oder fehlerhaft. Bitte laden Sie die "
            "Seite neu und versuchen Sie es noch einmal.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(
                request,
                404,
                "Seite nicht gefunden",
                "Diese Seite gibt es nicht. Bitte prüfen Sie die Adresse.",
            )
        return error_page(request, exc.status_code, "Fehler", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_page(
            request,
            500,
            "Technischer Fehler",
            "Es ist ein technischer Fehler aufgetreten. Ihre bisher gespeicherten "
            "Angaben bleiben erhalten. Bitte versuchen Sie es später noch einmal.",
        )

    app.mount("/static", StaticFiles(directory=ROOT / "templates" / "static"), name="static")
    app.include_router(api_router)
    app.include_router(status_router)
    app.include_router(accounts_router)
    app.include_router(office_router)
    app.include_router(portal_router)  # last: its /{municipality}/{procedure} paths are broad
    return app
