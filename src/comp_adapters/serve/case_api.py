"""The CASE 1.1 provider (``/ims/case/v1p1``, and CASE 1.0 at ``/ims/case/v1p0``): read-only.

Routes of the IMS CASE REST binding: ``GET /CFDocuments`` (paged with ``limit`` and
``offset``; ``X-Total-Count`` and an RFC 8288 ``Link`` header with ``next``, ``prev``,
``first`` and ``last``), ``/CFDocuments/{sourcedId}``, ``/CFPackages/{sourcedId}``,
``/CFItems/{sourcedId}``, ``/CFAssociations/{sourcedId}``, ``/CFItemAssociations/{sourcedId}``,
``/CFItemTypes/{sourcedId}`` and ``/CFRubrics/{sourcedId}``. Errors are ``imsx_StatusInfo``
bodies: 400 ``invalid_uuid`` for an identifier that is not a UUID, 404 ``unknownobject``,
401 ``unauthorised_request``, 403 ``forbidden``. CASE 1.1 service discovery is served at
``/ims/case/v1p1/discovery/imscasev1p1_openapi3_v1p0.json``.

Access: a framework marked public is served to anyone; the others need a credential with
scope ``case.read``. Without a credential, whatever is not public is 401, found or not (so
nothing tells which private frameworks exist); with one lacking the scope, 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from comp_adapters.case.wire import (
    CaseVersion,
    CFAssociation,
    CFDocument,
    CFItem,
    CFItemType,
    CFPackage,
    CFRubric,
    is_uuid,
)
from comp_adapters.serve.access import Principal, missing_credential
from comp_adapters.serve.answers import json_answer
from comp_adapters.serve.case_index import CaseIndex, CaseObjects
from comp_adapters.serve.catalog import ReleasedFramework
from comp_adapters.serve.errors import ServeError, bad_request, not_found

SCOPE = "case.read"
MAX_LIMIT = 1000
BEARER = HTTPBearer(auto_error=False, description="a JWT of the configured issuer, or an API key")
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")


class ImsxCodeMinorFieldOut(BaseModel):
    imsx_codeMinorFieldName: str  # noqa: N815 - the CASE field names
    imsx_codeMinorFieldValue: str  # noqa: N815


class ImsxCodeMinorOut(BaseModel):
    imsx_codeMinorField: list[ImsxCodeMinorFieldOut]  # noqa: N815


class ImsxStatusInfoOut(BaseModel):
    """The error body of every CASE route."""

    imsx_codeMajor: str  # noqa: N815
    imsx_severity: str
    imsx_description: str
    imsx_codeMinor: ImsxCodeMinorOut  # noqa: N815


class CFDocumentSet(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    documents: list[CFDocument] = Field(alias="CFDocuments")


class CFItemTypeSet(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    item_types: list[CFItemType] = Field(alias="CFItemTypes")


class CFItemAssociationSet(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    item: CFItem = Field(alias="CFItem")
    associations: list[CFAssociation] = Field(alias="CFAssociations")


MINOR_1_0 = {"unauthorised_request": "unauthorisedrequest", "invalid_uuid": "invaliduuid"}
"""CASE 1.0 spellings of minor codes."""


def imsx_body(code: str, message: str, version: CaseVersion) -> dict[str, Any]:
    """An ``imsx_StatusInfo`` body with ``code`` as its minor code (in ``version``'s spelling)."""
    minor = MINOR_1_0.get(code, code) if version == "1.0" else code
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": message,
        "imsx_codeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "sourcedId", "imsx_codeMinorFieldValue": minor}
            ]
        },
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the client's copy (If-None-Match) is current"},
    400: {"model": ImsxStatusInfoOut, "description": "invalid_uuid or a bad query parameter"},
    401: {"model": ImsxStatusInfoOut, "description": "no credential, or one that is not valid"},
    403: {"model": ImsxStatusInfoOut, "description": "the credential lacks scope case.read"},
    404: {"model": ImsxStatusInfoOut, "description": "unknownobject"},
}

SourcedId = Annotated[str, Path(description="the object's identifier (a UUID)")]


def _index(request: Request) -> CaseIndex:
    found: CaseIndex = request.app.state.case_index
    return found


def _principal(request: Request) -> Principal:
    found: Principal = request.state.principal
    return found


def _may_read(who: Principal) -> bool:
    return not who.anonymous and SCOPE in who.scopes


def _visible(who: Principal, released: ReleasedFramework) -> bool:
    return released.public or _may_read(who)


def _refusal(who: Principal) -> ServeError:
    if who.anonymous:
        return missing_credential(f"a credential with scope {SCOPE} is required")
    return ServeError(403, "forbidden", f"the credential lacks scope {SCOPE}")


def _checked_id(identifier: str) -> str:
    if not is_uuid(identifier):
        raise bad_request(f"{identifier!r} is not a UUID", "invalid_uuid")
    return identifier.lower()


def _document(request: Request, identifier: str, version: CaseVersion) -> CaseObjects:
    """A framework's objects by document id; what the principal may not read is refused
    whether it exists or not."""
    who = _principal(request)
    found = _index(request).document(_checked_id(identifier), version)
    if found is None or not _visible(who, found.released):
        if found is not None or not _may_read(who):
            raise _refusal(who)
        raise not_found(f"no CFDocument {identifier.lower()}")
    return found


def _object(
    request: Request, collection: str, identifier: str, what: str, version: CaseVersion
) -> tuple[CaseObjects, dict[str, Any]]:
    """One object of ``collection`` and the framework holding it (refused as above)."""
    who = _principal(request)
    found = _index(request).find(collection, _checked_id(identifier), version)
    if found is None or not _visible(who, found[0].released):
        if found is not None or not _may_read(who):
            raise _refusal(who)
        raise not_found(f"no {what} {identifier.lower()}")
    return found


def _list_documents(request: Request, limit: int, offset: int, version: CaseVersion) -> Response:
    who = _principal(request)
    shown = [o for o in _index(request).all(version) if _visible(who, o.released)]
    if not shown and not _may_read(who):
        raise _refusal(who)
    total = len(shown)
    headers = {"X-Total-Count": str(total), "Link": _links(request, offset, limit, total)}
    page = shown[offset : offset + limit]
    return json_answer(request, {"CFDocuments": [o.document for o in page]}, headers=headers)


def _item_associations(request: Request, identifier: str, version: CaseVersion) -> Response:
    objects, item = _object(request, "items", identifier, "CFItem", version)
    ends = ("originNodeURI", "destinationNodeURI")
    linked = [
        a
        for a in objects.associations.values()
        if any(a[end]["identifier"] == item["identifier"] for end in ends)
    ]
    return json_answer(request, {"CFItem": item, "CFAssociations": linked})


def case_router(segment: str, version: CaseVersion) -> APIRouter:
    """The routes of one CASE version, under ``/ims/case/{segment}``."""
    router = APIRouter(
        prefix=f"/ims/case/{segment}",
        tags=[f"CASE {version}"],
        responses=_ERRORS,
        dependencies=[Depends(BEARER), Depends(API_KEY)],  # documents the security schemes
    )

    @router.get(
        "/CFDocuments",
        response_model=CFDocumentSet,
        operation_id=f"getAllCFDocuments_{segment}",
        summary="Every released framework's CFDocument, paged",
    )
    def get_all_documents(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        return _list_documents(request, limit, offset, version)

    @router.get(
        "/CFDocuments/{sourcedId}",
        response_model=CFDocument,
        operation_id=f"getCFDocument_{segment}",
        summary="One CFDocument",
    )
    def get_document(request: Request, sourcedId: SourcedId) -> Response:  # noqa: N803
        return json_answer(request, _document(request, sourcedId, version).document)

    @router.get(
        "/CFPackages/{sourcedId}",
        response_model=CFPackage,
        operation_id=f"getCFPackage_{segment}",
        summary="A whole framework: document, items, associations, definitions, rubrics",
    )
    def get_package(request: Request, sourcedId: SourcedId) -> Response:  # noqa: N803
        return json_answer(request, _document(request, sourcedId, version).package)

    def one(collection: str, what: str) -> Callable[[Request, str], Response]:
        def answer(request: Request, sourcedId: SourcedId) -> Response:  # noqa: N803
            return json_answer(request, _object(request, collection, sourcedId, what, version)[1])

        return answer

    for path, collection, what, model in (
        ("/CFItems/{sourcedId}", "items", "CFItem", CFItem),
        ("/CFAssociations/{sourcedId}", "associations", "CFAssociation", CFAssociation),
        ("/CFRubrics/{sourcedId}", "rubrics", "CFRubric", CFRubric),
    ):
        router.add_api_route(
            path,
            one(collection, what),
            methods=["GET"],
            response_model=model,
            operation_id=f"get{what}_{segment}",
            summary=f"One {what}",
        )

    @router.get(
        "/CFItemTypes/{sourcedId}",
        response_model=CFItemTypeSet,
        operation_id=f"getCFItemType_{segment}",
        summary="An item type (and its children: CASE item types here have none)",
    )
    def get_item_type(request: Request, sourcedId: SourcedId) -> Response:  # noqa: N803
        found = _object(request, "item_types", sourcedId, "CFItemType", version)[1]
        return json_answer(request, {"CFItemTypes": [found]})

    @router.get(
        "/CFItemAssociations/{sourcedId}",
        response_model=CFItemAssociationSet,
        operation_id=f"getCFItemAssociations_{segment}",
        summary="An item and every association it is an end of",
    )
    def get_item_associations(request: Request, sourcedId: SourcedId) -> Response:  # noqa: N803
        return _item_associations(request, sourcedId, version)

    return router


def _links(request: Request, offset: int, limit: int, total: int) -> str:
    """RFC 8288 ``Link`` header of a CFDocuments page."""

    def at(start: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=start))

    links = [f'<{at(0)}>; rel="first"']
    if offset + limit < total:
        links.append(f'<{at(offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{at(max(offset - limit, 0))}>; rel="prev"')
    last = max((total - 1) // limit * limit, 0)
    links.append(f'<{at(last)}>; rel="last"')
    return ", ".join(links)
