"""A small fake CASE provider on ``responses``: paging, OAuth, imsx errors, throttling.

It enforces what the CASE REST binding documents: read-only GETs under
``/ims/case/v1p0`` or ``/v1p1``; ``limit``/``offset`` on ``/CFDocuments`` only; 404 with an
``imsx_StatusInfo`` body (``unknownobject``; ``invalid_uuid`` for a malformed id); 401 with
``unauthorisedrequest`` (1.0 spelling) or ``unauthorised_request`` (1.1) when a token is
missing, unknown or expired; tokens from an OAuth 2.0 client-credentials endpoint that
checks the client's id and secret.

Quirks of 1EdTech's OpenCASE (its source, ``1EdTech/OpenCASE`` ``apps/opencase/src``, named
next to each) can be switched on: ``strip_extensions``, ``v1p0_documents``, ``bare_sets``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from comp_adapters.case.client import CaseClient
from comp_adapters.case.settings import CaseSettings, connect

HOST = "https://case.example.org"
TOKEN_URL = "https://auth.example.org/oauth/token"
SETS = ("CFItemTypes", "CFSubjects", "CFConcepts")
"""Routes that answer with the object and its children (``{"CFItemTypes": [...]}``)."""
ROUTES = (
    "CFPackages",
    "CFDocuments",
    "CFItems",
    "CFAssociations",
    "CFItemAssociations",
    "CFRubrics",
    "CFLicenses",
    "CFAssociationGroupings",
    *SETS,
)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class FakeProvider:
    packages: dict[str, dict[str, Any]]
    version: str = "1.1"
    discovery: bool = True
    client_id: str | None = None
    client_secret: str | None = None
    token_lifetime: float = 60.0
    ignore_offset: bool = False
    ignore_limit: bool = False
    max_page: int | None = None
    """The most documents one page holds, whatever ``limit`` asks (providers cap it)."""
    paging_headers: tuple[str, ...] = ("X-Total-Count",)
    """Which of ``X-Total-Count`` and ``Link`` (RFC 8288 ``next``) the listing sends."""
    wrap_documents: bool = True
    throttle_next: int = 0
    now: float = 1_000_000.0
    html_catch_all: bool = False
    """Answer unknown paths with a 200 HTML page (single-page apps do), not a 404."""
    strip_extensions: bool = False
    """Leave every ``extensions`` member out of the answers unless the request carries the
    ``X-CASE-EDITOR`` header, as OpenCASE does (``interfaces/http/http-public/v1p1/utils/
    httpUtils.ts`` ``stripExtensions`` unless ``wantsOpenCaseExtensions``, applied by every
    v1p0 and v1p1 controller before it answers)."""
    v1p0_documents: set[str] = field(default_factory=set)
    """Documents held in CASE 1.0 only, as OpenCASE keeps each framework in the version it
    was imported in. It lists them under v1p1 too, with ``caseVersion: "1.0"``
    (``application/case/endpoints/GetAllCFDocuments.ts``: "List endpoints return all
    frameworks irrespective of which CASE version path is used"), but answers 409 for them,
    their items and their package on v1p1 (``v1p1/controllers/CFPackagesController.ts``,
    ``CFDocumentsController.ts``, ``CFItemsController.ts`` ``getById``: ``resolved.version
    !== '1.1'`` -> 409 with an imsx ``internal_server_error`` body "... exists in CASE
    v1p0. Use GET /ims/case/v1p0/..."). Its v1p0 routes serve every document."""
    bare_sets: bool = False
    """Answer ``/CFItemTypes/{id}``, ``/CFSubjects/{id}`` and ``/CFConcepts/{id}`` with the
    object alone, not ``{"CFItemTypes": [...]}``, as OpenCASE does
    (``application/case/endpoints/GetCFItemType.ts`` ``execute`` returns ``entry.value``;
    ``v1p1/controllers/CFItemTypesController.ts`` ``getById`` sends it as the body; the same
    in ``GetCFConcept.ts``/``GetCFSubject.ts``)."""
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    token_forms: list[dict[str, str]] = field(default_factory=list)
    """The form of each token request, the client secret left out, and how it authenticated."""
    calls: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"{HOST}/ims/case/v{self.version.replace('.', 'p')}"

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        mock.add_callback(responses.GET, re.compile(rf"{re.escape(HOST)}/.*"), callback=self._get)

    # -- helpers ---------------------------------------------------------------------------

    def _imsx(self, status: int, minor: str, text: str) -> tuple[int, dict[str, str], str]:
        body = {
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": text,
            "imsx_codeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "sourcedId", "imsx_codeMinorFieldValue": minor}
                ]
            },
        }
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _minor(self, v10: str, v11: str) -> str:
        return v10 if self.version == "1.0" else v11

    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.token_requests += 1
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = {k: v[0] for k, v in parse_qs(str(request.body or "")).items()}
        in_body = (form.get("client_id"), form.get("client_secret"))
        if header == f"Basic {expected}" and in_body == (None, None):
            how = "basic"
        elif not header and in_body == (self.client_id, self.client_secret):
            how = "body"  # RFC 6749 2.3.1 allows the credentials in the form body
        else:
            how = "refused"
        self.token_forms.append(
            {k: v for k, v in form.items() if k != "client_secret"} | {"auth": how}
        )
        if how == "refused" or form.get("grant_type") != "client_credentials":
            return (
                401,
                {"Content-Type": "application/json"},
                json.dumps({"error": "invalid_client"}),
            )
        token = f"token-{self.token_requests}"
        self.tokens[token] = self.now + self.token_lifetime
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        if form.get("scope"):
            body["scope"] = form["scope"]
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _no_such_path(self) -> tuple[int, dict[str, str], str]:
        if self.html_catch_all:
            return 200, {"Content-Type": "text/html"}, "<html><body>Our app</body></html>"
        return 404, {"Content-Type": "text/html"}, "<h1>Not Found</h1>"

    def _authorised(self, request: requests.PreparedRequest) -> bool:
        if self.client_id is None:
            return True
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        expires = self.tokens.get(token)
        return expires is not None and self.now < expires

    # -- the API -----------------------------------------------------------------------------

    def _get(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        status, headers, body = self._answer(request)
        if self.strip_extensions and "X-CASE-EDITOR" not in request.headers and status == 200:
            body = json.dumps(without_extensions(json.loads(body)))
        return status, headers, body

    def _served_base(self, path: str) -> str | None:
        """The base path (``/ims/case/v1pX``) of a request, if this provider serves it."""
        bases = {urlsplit(self.base).path}
        if self.v1p0_documents:
            bases.add("/ims/case/v1p0")  # OpenCASE serves both versions
        return next((b for b in bases if path.startswith(b + "/")), None)

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(str(request.url))
        self.calls.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json":
            if self.discovery and self.version == "1.1":
                return 200, {"Content-Type": "application/json"}, json.dumps({"openapi": "3.0.0"})
            return self._no_such_path()
        base = self._served_base(parts.path)
        if base is None:
            return self._no_such_path()
        if self.throttle_next:
            self.throttle_next -= 1
            status, headers, body = self._imsx(429, "server_busy", "Too many requests")
            return status, {**headers, "Retry-After": "2"}, body
        if not self._authorised(request):
            minor = self._minor("unauthorisedrequest", "unauthorised_request")
            return self._imsx(401, minor, "Unauthorized")
        route = parts.path[len(base) :]
        if route == "/CFDocuments":
            return self._documents(query)
        if query:
            return self._imsx(400, "invalid_selection_field", "no parameters here")
        match = re.fullmatch(rf"/({'|'.join(ROUTES)})/([^/]+)", route)
        if match is None:
            return 404, {"Content-Type": "text/html"}, "<h1>Not Found</h1>"
        kind, identifier = match.groups()
        if not UUID.match(identifier):
            return self._imsx(404, self._minor("invaliduuid", "invalid_uuid"), "Invalid UUID")
        found = self._find(kind, identifier)
        if found is None:
            return self._imsx(404, "unknownobject", "Not Found")
        if base == "/ims/case/v1p1" and self._held_in_1_0(kind, identifier):
            text = (
                f"{kind[:-1]} '{identifier}' exists in CASE v1p0. Use GET "
                f"/ims/case/v1p0/{kind}/{identifier} (and related v1p0 endpoints)."
            )
            return self._imsx(409, "internal_server_error", text)
        if self.bare_sets and kind in SETS:
            found = found[kind][0]
        return 200, {"Content-Type": "application/json"}, json.dumps(found)

    def _held_in_1_0(self, kind: str, identifier: str) -> bool:
        """Whether OpenCASE's v1p1 answers 409 here: a document kept in CASE 1.0, its
        package, or one of its items (the three routes whose controllers check it)."""
        if kind in ("CFPackages", "CFDocuments"):
            return identifier in self.v1p0_documents
        if kind == "CFItems":
            return any(
                any(i["identifier"] == identifier for i in package.get("CFItems") or [])
                for doc, package in self.packages.items()
                if doc in self.v1p0_documents
            )
        return False

    def _objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of one class in the packages (definitions and rubrics included)."""
        found: list[dict[str, Any]] = []
        for package in self.packages.values():
            if kind in ("CFItems", "CFAssociations", "CFRubrics"):
                found.extend(package.get(kind) or [])
            else:
                found.extend((package.get("CFDefinitions") or {}).get(kind) or [])
        return found

    def _find(self, kind: str, identifier: str) -> Any:
        if kind == "CFPackages":
            return self.packages.get(identifier)
        if kind == "CFDocuments":
            package = self.packages.get(identifier)
            return package["CFDocument"] if package else None
        if kind == "CFItemAssociations":
            item = self._one("CFItems", identifier)
            if item is None:
                return None
            ends = ("originNodeURI", "destinationNodeURI")
            return {
                "CFItem": item,
                "CFAssociations": [
                    a
                    for a in self._objects("CFAssociations")
                    if any(a[end]["identifier"] == identifier for end in ends)
                ],
            }
        if kind in SETS:
            # the object and its children by hierarchyCode, as {"CFItemTypes": [...]}
            node = self._one(kind, identifier)
            if node is None:
                return None
            code = node.get("hierarchyCode")
            children = [
                o
                for o in self._objects(kind)
                if code and str(o.get("hierarchyCode") or "").startswith(f"{code}.")
            ]
            return {kind: [node, *children]}
        return self._one(kind, identifier)

    def _one(self, kind: str, identifier: str) -> dict[str, Any] | None:
        return next((o for o in self._objects(kind) if o["identifier"] == identifier), None)

    def _documents(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if "filter" in query or "fields" in query:
            return self._imsx(400, "invalid_selection_field", "filter/fields not supported")
        limit = int(query.get("limit", "100"))
        offset = 0 if self.ignore_offset else int(query.get("offset", "0"))
        if limit < 1 or offset < 0:
            return self._imsx(400, "invalid_selection_field", "bad paging")
        documents = [
            {**p["CFDocument"], "caseVersion": "1.0"}
            if doc in self.v1p0_documents
            else p["CFDocument"]
            for doc, p in sorted(self.packages.items())
        ]
        size = len(documents) if self.ignore_limit else min(limit, self.max_page or limit)
        page = documents[offset : offset + size]
        body: Any = {"CFDocuments": page} if self.wrap_documents else page
        headers = {"Content-Type": "application/json"}
        if "X-Total-Count" in self.paging_headers:
            headers["X-Total-Count"] = str(len(documents))
        if "Link" in self.paging_headers:
            links = [f'<{self.base}/CFDocuments?limit={size}&offset=0>; rel="first"']
            if offset + size < len(documents):
                links.append(
                    f'<{self.base}/CFDocuments?limit={size}&offset={offset + size}>; rel="next"'
                )
            headers["Link"] = ", ".join(links)
        return 200, headers, json.dumps(body)


def without_extensions(value: Any) -> Any:
    """``value`` without any ``extensions`` member, at any depth (OpenCASE's stripExtensions)."""
    if isinstance(value, list):
        return [without_extensions(entry) for entry in value]
    if isinstance(value, dict):
        return {k: without_extensions(v) for k, v in value.items() if k != "extensions"}
    return value


def package_for(n: int) -> dict[str, Any]:
    """A small package whose document identifier ends with ``n``."""
    doc = f"d0000000-0000-0000-0000-{n:012d}"
    item = f"00000000-0000-0000-{n:04d}-000000000001"
    return {
        "CFDocument": {
            "identifier": doc,
            "uri": f"{HOST}/uri/{doc}",
            "creator": "Fake provider",
            "title": f"Framework {n}",
            "lastChangeDateTime": "2024-01-01T00:00:00+00:00",
            "CFPackageURI": {"title": "", "identifier": doc, "uri": f"{HOST}/CFPackages/{doc}"},
        },
        "CFItems": [
            {
                "identifier": item,
                "uri": f"{HOST}/uri/{item}",
                "fullStatement": f"Competency of framework {n}",
                "humanCodingScheme": f"F{n}.1",
                "lastChangeDateTime": "2024-01-01T00:00:00+00:00",
            }
        ],
        "CFAssociations": [
            {
                "identifier": f"a0000000-0000-0000-{n:04d}-000000000001",
                "uri": f"{HOST}/uri/a{n}",
                "associationType": "isChildOf",
                "originNodeURI": {"title": "", "identifier": item, "uri": f"{HOST}/uri/{item}"},
                "destinationNodeURI": {"title": "", "identifier": doc, "uri": f"{HOST}/uri/{doc}"},
                "sequenceNumber": 1,
                "lastChangeDateTime": "2024-01-01T00:00:00+00:00",
            }
        ],
    }


def provider(mock: responses.RequestsMock, count: int = 5, **options: Any) -> FakeProvider:
    """A fake provider with ``count`` small packages (:func:`package_for`), installed."""
    fake = FakeProvider(packages={}, **options)
    for n in range(1, count + 1):
        package = package_for(n)
        fake.packages[package["CFDocument"]["identifier"]] = package
    fake.install(mock)
    return fake


def settings_for(**settings: Any) -> CaseSettings:
    """Settings for the fake provider: 3 tries per request, retried without waiting."""
    values: dict[str, Any] = {"url": HOST, "retry_attempts": 3, "max_retry_wait": 0, **settings}
    return CaseSettings.model_validate(values)


def client_for(fake: FakeProvider, **settings: Any) -> CaseClient:
    """A client of ``fake`` (installed in ``responses``), built the one way (``connect``)."""
    del fake  # answers through the responses mock it is installed in
    return connect(settings_for(**settings), session=requests.Session())
