"""The ASGI application: the CASE provider, the proficiency API, ``/healthz``, access logs.

:func:`create_app` wires the parts given (a catalog, the store, the organisation, an
authenticator); :func:`app_from_settings` builds them from :class:`ServeSettings`. Every
request is authenticated once (an invalid credential is 401 on every route but
``/healthz``), errors are answered in the style of the route (``imsx_StatusInfo`` under
``/ims/case``, ``{"error", "message"}`` elsewhere), and one access log line per request
(logger ``comp_adapters.serve.access``, JSON) says who asked what and how it went, without
credentials or query values that could hold one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comp_adapters import __version__
from comp_adapters.errors import StoreError
from comp_adapters.reports.policy import Policy
from comp_adapters.serve.access import Authenticator, JwtVerifier
from comp_adapters.serve.case_api import case_router, imsx_body
from comp_adapters.serve.case_index import VERSIONS, CaseIndex
from comp_adapters.serve.catalog import FrameworkCatalog, StoreCatalog, file_catalog
from comp_adapters.serve.errors import ServeError
from comp_adapters.serve.keys import ApiKeys
from comp_adapters.serve.organisation import Organisation
from comp_adapters.serve.proficiency_api import proficiency_router
from comp_adapters.serve.settings import ServeSettings
from comp_adapters.store import Store, open_store

ACCESS_LOG = logging.getLogger("comp_adapters.serve.access")
_SECRET_PARAMS = frozenset({"access_token", "token", "key", "api_key", "apikey"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _authenticate(request: Request) -> None:
    authenticator: Authenticator = request.app.state.authenticator
    request.state.principal = authenticator.authenticate(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )


def _error_answer(request: Request, status: int, code: str, message: str) -> Response:
    path = request.url.path
    if path.startswith("/ims/case/"):
        version = VERSIONS.get(path.split("/")[3], "1.1") if path.count("/") >= 3 else "1.1"
        return JSONResponse(imsx_body(code, message, version), status_code=status)
    return JSONResponse({"error": code, "message": message}, status_code=status)


def create_app(
    *,
    catalog: FrameworkCatalog,
    store: Store,
    organisation: Organisation | None = None,
    authenticator: Authenticator | None = None,
    clock: Callable[[], datetime] = _utc_now,
    case_creator: str | None = None,
    base_uri: str | None = None,
) -> FastAPI:
    """The server over these parts (API keys of ``store`` when no authenticator is given)."""
    app = FastAPI(
        title="comp-adapters",
        version=__version__,
        description="A CASE 1.1 provider of the released competency frameworks and a "
        "read-only API of computed proficiency, gaps and coverage (docs/serve.md).",
    )
    app.state.catalog = catalog
    app.state.store = store
    app.state.organisation = organisation or Organisation()
    app.state.authenticator = authenticator or Authenticator(keys=ApiKeys(store), jwt_verifier=None)
    app.state.clock = clock
    app.state.case_index = CaseIndex(catalog, creator=case_creator, base_uri=base_uri)
    authenticated = [Depends(_authenticate)]
    for segment, version in VERSIONS.items():
        app.include_router(case_router(segment, version), dependencies=authenticated)
    app.include_router(proficiency_router(), dependencies=authenticated)

    @app.get("/healthz", tags=["health"], operation_id="healthz", summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json", include_in_schema=False)
    def discovery() -> dict[str, Any]:
        document = dict(app.openapi())
        document["paths"] = {
            path: item
            for path, item in document["paths"].items()
            if path.startswith("/ims/case/v1p1/")
        }
        return document

    @app.exception_handler(ServeError)
    async def serve_error(request: Request, exc: ServeError) -> Response:
        answer = _error_answer(request, exc.status, exc.code, exc.message)
        answer.headers.update(exc.headers)
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        code = "invalid_selection_field" if request.url.path.startswith("/ims/") else "invalid"
        return _error_answer(request, 400, code, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "unknownobject", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return _error_answer(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        ACCESS_LOG.error("store error: %s", exc)
        return _error_answer(request, 503, "server_busy", "the state store is unavailable")

    app.add_middleware(AccessLog)
    return app


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request on ``comp_adapters.serve.access``
    (method, path, query with secret-looking values masked, status, milliseconds, the
    principal's name, the client address). Never a header, so never a credential."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not ACCESS_LOG.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            principal = scope.get("state", {}).get("principal")
            client = scope.get("client")
            ACCESS_LOG.info(
                orjson.dumps(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "query": _safe_query(scope.get("query_string", b"")),
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "who": principal.who if principal is not None else None,
                        "client": client[0] if client else None,
                    }
                ).decode()
            )


def _safe_query(raw: bytes) -> str | None:
    """The query string with the values of parameters that could hold a secret masked."""
    if not raw:
        return None
    parts = []
    for pair in raw.decode("latin-1").split("&"):
        name, sep, value = pair.partition("=")
        masked = "***" if unquote_plus(name).lower() in _SECRET_PARAMS else value
        parts.append(f"{name}{sep}{masked}")
    return "&".join(parts)


def app_from_settings(
    settings: ServeSettings,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> FastAPI:
    """The server ``settings`` describe (the store opened here unless given)."""
    held = store or open_store(settings.store)
    catalog: FrameworkCatalog
    if settings.released:
        catalog = StoreCatalog(held, public=settings.public, clock=clock)
    else:
        catalog = file_catalog(list(settings.frameworks), public=settings.public)
    organisation = Organisation.load(
        settings.roles,
        settings.people,
        frameworks=[r.framework for r in catalog.frameworks()],
        policy=Policy(count_private=settings.count_private),
    )
    verifier = JwtVerifier(settings) if settings.jwt_enabled else None
    return create_app(
        catalog=catalog,
        store=held,
        organisation=organisation,
        authenticator=Authenticator(keys=ApiKeys(held), jwt_verifier=verifier),
        clock=clock,
        case_creator=settings.case_creator,
        base_uri=settings.base_uri,
    )
