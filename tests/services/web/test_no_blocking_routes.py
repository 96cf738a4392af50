"""Nothing blocks the event loop: every route and dependency is a plain ``def`` (FastAPI
runs it in the thread pool) except the few listed here, which only await."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from services.web.middleware import all_routes

# async endpoints that never block: probes (their checks run on a side thread) and /metrics.
ASYNC_ENDPOINTS = {"livez", "readyz", "metrics"}
# async dependencies: reading the posted form (awaits the body), comparing the CSRF token.
ASYNC_DEPENDENCIES = {"read_form", "verify_csrf"}


def calls_of(dependant):
    for dep in dependant.dependencies:
        yield dep.call
        yield from calls_of(dep)


def test_only_listed_routes_and_dependencies_are_async(app):
    routes = [r for r in all_routes(app.router.routes) if isinstance(r, APIRoute)]
    assert len(routes) > 50
    async_endpoints = {r.name for r in routes if inspect.iscoroutinefunction(r.endpoint)}
    assert async_endpoints == ASYNC_ENDPOINTS
    async_deps = {
        getattr(call, "__name__", repr(call))
        for r in routes
        for call in calls_of(r.dependant)
        if inspect.iscoroutinefunction(call)
    }
    assert async_deps == ASYNC_DEPENDENCIES
    # The form dependency is what the former async routes now get their form from.
    form_routes = {
        r.name for r in routes if any(c.__name__ == "read_form" for c in calls_of(r.dependant))
    }
    assert {"save_step", "answer", "withdraw", "fim_import", "import_bundle"} <= form_routes
