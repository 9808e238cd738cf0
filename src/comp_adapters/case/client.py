"""HTTP client of a CASE provider (``/ims/case/v1p0`` and ``/ims/case/v1p1``): reads only.

One method per endpoint of the CASE REST binding (the list is the same in 1.0 and 1.1);
each docstring names its route. Every request goes through the foundation's
:class:`~comp_adapters.http.HttpTransport` (https only, timeouts, retries of 429/5xx,
redaction). Error bodies are ``imsx_StatusInfo``: their minor code (1.0 or 1.1 spelling)
ends up in the error's ``code``, in its 1.1 spelling, and decides the error class when the
status does not (``unknownobject`` is a :class:`NotFoundError` whatever the status).

Access is anonymous, with a static bearer token, or with OAuth 2.0 client credentials
(token URL and scope are configuration; tokens are fetched again shortly before they
expire, and once more if the provider rejects one as expired).

Providers serving both versions may hold a document in one only: OpenCASE lists every
document under ``/ims/case/v1p1`` but answers 409 there for one it keeps in CASE 1.0, so a
409 on an object of 1.1 is asked again under ``/ims/case/v1p0``, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from pydantic import BaseModel

from comp_adapters.case.lenient import (
    parse_document_list,
    parse_object,
    parse_package,
    parse_set,
)
from comp_adapters.case.wire import (
    CaseVersion,
    CFAssociation,
    CFAssociationGrouping,
    CFConcept,
    CFDocument,
    CFItem,
    CFItemType,
    CFLicense,
    CFPackage,
    CFRubric,
    CFSubject,
    ImsxStatusInfo,
)
from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    RemoteError,
)
from comp_adapters.http import (
    TOKEN_OPERATION,
    ClientCredentials,
    HttpTransport,
    describe_error_body,
    redact_url,
)

Model = TypeVar("Model", bound=BaseModel)

ADAPTER = "case"
BASE_PATHS: Mapping[CaseVersion, str] = {"1.0": "/ims/case/v1p0", "1.1": "/ims/case/v1p1"}
DISCOVERY_PATH = "/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json"
"""Where a CASE 1.1 provider serves its localized OpenAPI file (service discovery)."""

MINOR_CODES: Mapping[str, str] = {
    "unauthorisedrequest": "unauthorised_request",
    "invaliduuid": "invalid_uuid",
}
"""CASE 1.0 spellings of minor codes -> the 1.1 spelling we report."""

_ERROR_BY_MINOR: Mapping[str, type[FatalRemoteError]] = {
    "unknownobject": NotFoundError,
    "invalid_uuid": NotFoundError,
    "unauthorised_request": AuthenticationError,
    "forbidden": PermissionDeniedError,
}


def canonical_minor_code(token: str) -> str:
    """A minor code in its CASE 1.1 spelling (``invaliduuid`` -> ``invalid_uuid``)."""
    return MINOR_CODES.get(token, token)


def _imsx(response: requests.Response) -> ImsxStatusInfo | None:
    if "json" not in response.headers.get("Content-Type", "json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return ImsxStatusInfo.from_body(body)


def describe_case_error(response: requests.Response) -> tuple[str, str | None]:
    """(message, minor code) from an ``imsx_StatusInfo`` body, else the generic reading."""
    info = _imsx(response)
    if info is None:
        return describe_error_body(response)
    codes = [canonical_minor_code(code) for code in info.minor_codes]
    raw = [code for code in info.minor_codes if canonical_minor_code(code) != code]
    message = info.description or f"{info.code_major or 'failure'} ({info.severity or 'error'})"
    if raw:
        message += f" (minor code spelt {', '.join(raw)!s})"
    return message, ",".join(codes) or None


def is_case_throttled(response: requests.Response) -> bool:
    """429, or any status with the minor code ``server_busy``."""
    if response.status_code == 429:
        return True
    if response.ok:
        return False
    info = _imsx(response)
    return info is not None and "server_busy" in info.minor_codes


Auth = ClientCredentials | str | None
"""No auth, a static bearer token, or client credentials."""


@dataclass
class CaseClient:
    """Reads a CASE provider. ``base_url`` is the provider root or its ``/ims/case/v1pX``.

    ``version`` ``None`` means detect it on first use (:meth:`detect`). Warnings about
    what had to be adapted in the provider's answers collect in :attr:`warnings`. Build it
    with :func:`comp_adapters.case.settings.connect`, which gives the transport CASE's error
    descriptions (:func:`describe_case_error`) and throttling rule (:func:`is_case_throttled`).
    """

    transport: HttpTransport
    version: CaseVersion | None = None
    auth: Auth = field(default=None, repr=False)
    """Not in the repr: a static bearer token is a secret."""
    page_size: int = 100
    warnings: list[Problem] = field(default_factory=list)
    _root: str = ""
    _held_in_1_0: set[str] = field(default_factory=set)
    """Identifiers the provider answered 409 for on CASE 1.1: asked under 1.0 from then on."""

    def __post_init__(self) -> None:
        if isinstance(self.auth, str):
            self.transport.redactor.add(self.auth)
        parts = urlsplit(self.transport.base_url)
        path = parts.path.rstrip("/")
        for version, base in BASE_PATHS.items():
            if path.endswith(base):
                if self.version is not None and self.version != version:
                    raise ConfigurationError(
                        f"case: the URL names CASE {version} but version {self.version} "
                        "was asked for"
                    )
                self.version = version
                path = path[: -len(base)]
        self._root = urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    # -- plumbing ------------------------------------------------------------------------

    @property
    def base(self) -> str:
        """``{root}/ims/case/v1pX`` of the (detected) version."""
        if self.version is None:
            self.detect()
        assert self.version is not None  # noqa: S101 - detect() sets it or raises
        return self._root + BASE_PATHS[self.version]

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if isinstance(self.auth, ClientCredentials):
            headers["Authorization"] = self.auth.authorization(self.transport)
        elif isinstance(self.auth, str):
            headers["Authorization"] = f"Bearer {self.auth}"
        return headers

    def _send(
        self,
        url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        expected: tuple[int, ...] = (),
    ) -> requests.Response:
        """GET ``url``; with client credentials, a rejected token is replaced once."""
        try:
            return self._send_once(url, operation=operation, params=params, expected=expected)
        except AuthenticationError as exc:
            if not isinstance(self.auth, ClientCredentials) or exc.operation == TOKEN_OPERATION:
                raise
            self.auth.invalidate()
            return self._send_once(url, operation=operation, params=params, expected=expected)

    def _send_once(
        self,
        url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None,
        expected: tuple[int, ...],
    ) -> requests.Response:
        try:
            return self.transport.request(
                "GET",
                url,
                operation=operation,
                params=dict(params or {}),
                headers=self._headers(),
                expected=expected,
            )
        except FatalRemoteError as exc:
            raise _reclassified(exc) from None

    def _get_json(
        self,
        path: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        version: CaseVersion | None = None,
    ) -> tuple[Any, requests.Response]:
        """GET ``path`` under the client's base (or that of ``version``), read as JSON."""
        base = self._root + BASE_PATHS[version] if version else self.base
        response = self._send(f"{base}{path}", operation=operation, params=params)
        try:
            return response.json(), response
        except ValueError:
            raise FatalRemoteError(
                "the provider's answer is not JSON",
                adapter=ADAPTER,
                operation=operation,
                url=redact_url(self.transport.redactor(response.url or "")),
                status=response.status_code,
            ) from None

    def _get_object_json(self, collection: str, identifier: str, *, operation: str) -> Any:
        """GET ``/{collection}/{identifier}``; a 409 on CASE 1.1 is asked again on 1.0.

        OpenCASE lists a document it holds in CASE 1.0 under ``/ims/case/v1p1`` too, but
        answers 409 there for it, its package and its items ("... exists in CASE v1p0. Use
        GET /ims/case/v1p0/..."). That identifier is then read from ``/ims/case/v1p0``
        (the same question, CASE 1.0 data), now and later, with a warning.
        """
        route = f"/{collection}/{_id(identifier)}"
        if identifier in self._held_in_1_0:
            return self._get_json(route, operation=operation, version="1.0")[0]
        try:
            return self._get_json(route, operation=operation)[0]
        except ConflictError as exc:
            if self.version != "1.1":
                raise
            refusal = exc.detail
        self._held_in_1_0.add(identifier)
        data = self._get_json(route, operation=operation, version="1.0")[0]
        self._keep(
            [
                Problem(
                    f"the provider answered 409 on CASE 1.1 ({refusal}): read from "
                    f"{BASE_PATHS['1.0']} instead, as CASE 1.0",
                    field=f"{collection}/{identifier}",
                    severity="warning",
                )
            ]
        )
        return data

    def _keep(self, problems: list[Problem]) -> None:
        self.warnings.extend(problems)

    # -- discovery -----------------------------------------------------------------------

    def detect(self) -> CaseVersion:
        """Find the CASE version: the 1.1 discovery file, else probe ``/CFDocuments``.

        Only JSON counts as an answer (an OpenAPI document for discovery): web servers that
        serve an HTML page for every path must not make a version look present.

        Routes: ``GET /ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json``, then
        ``GET /ims/case/v1p1/CFDocuments?limit=1`` and ``GET /ims/case/v1p0/CFDocuments?limit=1``.
        """
        if self.version is not None:
            return self.version
        found = self._send(
            self._root + DISCOVERY_PATH, operation="discovery", expected=(401, 403, 404, 405)
        )
        discovery = _json_or_none(found) if found.status_code == 200 else None
        if isinstance(discovery, Mapping) and ("openapi" in discovery or "swagger" in discovery):
            self.version = "1.1"
            return self.version
        for version in ("1.1", "1.0"):
            probe = self._send(
                self._root + BASE_PATHS[version] + "/CFDocuments",
                operation="detect version",
                params={"limit": 1},
                expected=(401, 403, 404, 405),
            )
            answered = probe.status_code == 200 and _json_or_none(probe) is not None
            if answered or probe.status_code in {401, 403}:
                self.version = version
                return version
        raise NotFoundError(
            "no CASE provider found: neither /ims/case/v1p1 nor /ims/case/v1p0 answers",
            adapter=ADAPTER,
            operation="detect version",
            url=redact_url(self._root),
        )

    # -- endpoints -----------------------------------------------------------------------

    def list_documents(self) -> Iterator[CFDocument]:
        """Every CFDocument, page by page. Route: ``GET /CFDocuments?limit=&offset=``.

        Pages with ``limit``/``offset`` while the provider says there is more: a ``Link``
        header with ``rel="next"``, else ``X-Total-Count``, else (neither header) until an
        empty page, since a provider may cap the page size below ``limit``. Stops with a
        warning on a page that brings nothing new (a provider that ignores ``offset``).
        Never asks the provider to filter or project (many ignore ``filter`` and ``fields``).
        """
        seen: set[str] = set()
        offset = 0
        while True:
            try:
                data, response = self._get_json(
                    "/CFDocuments",
                    operation="getAllCFDocuments",
                    params={"limit": self.page_size, "offset": offset},
                )
            except NotFoundError:
                if offset == 0:
                    raise
                return
            documents, problems = parse_document_list(data, source=f"CFDocuments@{offset}")
            self._keep(problems)
            fresh = [d for d in documents if d.identifier not in seen]
            seen.update(d.identifier for d in fresh)
            yield from fresh
            if not documents:
                return
            if not fresh:
                self._keep(
                    [
                        Problem(
                            f"the provider repeats documents at offset {offset}: it seems to "
                            "ignore paging; stopped",
                            field="CFDocuments",
                            severity="warning",
                        )
                    ]
                )
                return
            offset += len(documents)
            if not _more_pages(response, offset=offset, count=len(documents), limit=self.page_size):
                return

    def _one(self, model: type[Model], collection: str, identifier: str, operation: str) -> Model:
        """GET ``/{collection}/{identifier}`` read as one ``model`` (warnings kept)."""
        data = self._get_object_json(collection, identifier, operation=operation)
        found, problems = parse_object(model, data, source=f"{collection}/{identifier}")
        self._keep(problems)
        return found

    def get_document(self, identifier: str) -> CFDocument:
        """One CFDocument. Route: ``GET /CFDocuments/{sourcedId}``."""
        return self._one(CFDocument, "CFDocuments", identifier, "getCFDocument")

    def get_package_data(self, identifier: str) -> Any:
        """The raw JSON of a package. Route: ``GET /CFPackages/{sourcedId}``."""
        return self._get_object_json("CFPackages", identifier, operation="getCFPackage")

    def get_package(self, identifier: str) -> CFPackage:
        """A whole framework. Route: ``GET /CFPackages/{sourcedId}`` (the document's id)."""
        data = self.get_package_data(identifier)
        package, problems = parse_package(data, source=f"CFPackages/{identifier}")
        self._keep(problems)
        return package

    def get_item(self, identifier: str) -> CFItem:
        """One item. Route: ``GET /CFItems/{sourcedId}``."""
        return self._one(CFItem, "CFItems", identifier, "getCFItem")

    def get_association(self, identifier: str) -> CFAssociation:
        """One association. Route: ``GET /CFAssociations/{sourcedId}``."""
        return self._one(CFAssociation, "CFAssociations", identifier, "getCFAssociation")

    def get_item_associations(self, identifier: str) -> tuple[CFItem, list[CFAssociation]]:
        """An item and every association it is an end of.

        Route: ``GET /CFItemAssociations/{sourcedId}``.
        """
        data = self._get_object_json(
            "CFItemAssociations", identifier, operation="getCFItemAssociations"
        )
        source = f"CFItemAssociations/{identifier}"
        body = data if isinstance(data, Mapping) else {}
        item, problems = parse_object(CFItem, body.get("CFItem"), source=source)
        self._keep(problems)
        associations = []
        for raw in _as_list(body.get("CFAssociations")):
            association, problems = parse_object(CFAssociation, raw, source=source)
            self._keep(problems)
            associations.append(association)
        return item, associations

    def get_rubric(self, identifier: str) -> CFRubric:
        """One rubric with its criteria and levels. Route: ``GET /CFRubrics/{sourcedId}``."""
        return self._one(CFRubric, "CFRubrics", identifier, "getCFRubric")

    def get_association_grouping(self, identifier: str) -> CFAssociationGrouping:
        """Route: ``GET /CFAssociationGroupings/{sourcedId}``."""
        return self._one(
            CFAssociationGrouping, "CFAssociationGroupings", identifier, "getCFAssociationGrouping"
        )

    def get_license(self, identifier: str) -> CFLicense:
        """Route: ``GET /CFLicenses/{sourcedId}``."""
        return self._one(CFLicense, "CFLicenses", identifier, "getCFLicense")

    def get_concepts(self, identifier: str) -> list[CFConcept]:
        """A concept and its children. Route: ``GET /CFConcepts/{sourcedId}``."""
        return self._set(CFConcept, "CFConcepts", identifier, "getCFConcept")

    def get_item_types(self, identifier: str) -> list[CFItemType]:
        """An item type and its children. Route: ``GET /CFItemTypes/{sourcedId}``."""
        return self._set(CFItemType, "CFItemTypes", identifier, "getCFItemType")

    def get_subjects(self, identifier: str) -> list[CFSubject]:
        """A subject and its children. Route: ``GET /CFSubjects/{sourcedId}``."""
        return self._set(CFSubject, "CFSubjects", identifier, "getCFSubject")

    def _set(self, model: type[Model], name: str, identifier: str, operation: str) -> list[Model]:
        """GET ``/{name}/{identifier}``: the object and its children, ``{name: [...]}``
        (one bare object, as OpenCASE answers, is read as a set of one, with a warning)."""
        data = self._get_object_json(name, identifier, operation=operation)
        found, problems = parse_set(model, data, name=name, source=f"{name}/{identifier}")
        self._keep(problems)
        return found


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _id(identifier: str) -> str:
    return quote(identifier, safe="")


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _more_pages(response: requests.Response, *, offset: int, count: int, limit: int) -> bool:
    """Whether another ``/CFDocuments`` page may follow the one just read.

    The headers decide when there are any (``Link: <...>; rel="next"``, then
    ``X-Total-Count``); without them only a page longer than ``limit`` (a provider that
    ignores ``limit`` and sent everything) ends the listing: a short page may be a capped one.
    """
    if "next" in response.links:
        return True
    total = _int_header(response, "X-Total-Count")
    if total is not None:
        return offset < total
    if "Link" in response.headers:
        return False
    return count <= limit


def _reclassified(error: FatalRemoteError) -> RemoteError:
    """The error class the minor code asks for, when the status said something else."""
    wanted = _ERROR_BY_MINOR.get((error.code or "").split(",")[0])
    if wanted is None or isinstance(error, wanted):
        return error
    return _as(wanted, error)


def _as(wanted: type[FatalRemoteError], error: RemoteError) -> FatalRemoteError:
    """The same failure (message, status, code, request id) as another error class."""
    return wanted(
        error.detail,
        adapter=error.adapter,
        operation=error.operation,
        url=error.url,
        status=error.status,
        code=error.code,
        request_id=error.request_id,
    )


__all__ = [
    "BASE_PATHS",
    "DISCOVERY_PATH",
    "MINOR_CODES",
    "CaseClient",
    "ClientCredentials",
    "canonical_minor_code",
    "describe_case_error",
    "is_case_throttled",
]
