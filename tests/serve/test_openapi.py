"""Schemathesis against the served OpenAPI document, in process (ASGI): every operation,
generated requests, no 5xx, and every answer documented and matching its schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Served

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("who", ["admin", "julia"])
def test_every_operation_answers_as_documented(served: Served, who: str) -> None:
    """Each operation of the document in turn, with requests generated from its schema
    (``as_strategy``; schemathesis's pytest plug-in does the same per operation)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = served.auth(who)  # HR (everyone) and a manager (her team, 403 for others)
    reached: set[str] = set()

    for operation in operations:
        run_operation(operation, known_path_values(served, operation.path, who), headers, reached)

    assert reached == {op.label for op in operations}, "some operations never answered 200"


def run_operation(
    operation: Any, known: dict[str, list[str]], headers: dict[str, str], reached: set[str]
) -> None:
    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a pass is not luck
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, data: st.DataObject) -> None:
        if case.path_parameters and data.draw(st.booleans()):
            # Half the cases name objects that exist, so success answers are checked too.
            case.path_parameters = {
                name: data.draw(st.sampled_from(known[name])) if name in known else value
                for name, value in case.path_parameters.items()
            }
            if data.draw(st.booleans()):
                case.query = {}  # the defaults, which are valid
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if response.status_code == 200:
            reached.add(operation.label)

    check()


COLLECTIONS = {
    "CFDocuments": "documents",
    "CFPackages": "documents",
    "CFItems": "items",
    "CFItemAssociations": "items",
    "CFAssociations": "associations",
    "CFRubrics": "rubrics",
    "CFItemTypes": "item_types",
}


def known_path_values(served: Served, path: str, who: str) -> dict[str, list[str]]:
    """Path parameter values that name existing objects of the route's kind (and learners
    the viewer may see)."""
    index = served.app.state.case_index
    kind = COLLECTIONS.get(path.split("/")[4] if path.startswith("/ims/") else "")
    ids: list[str] = []
    for version in ("1.1", "1.0"):
        for objects in index.all(version):
            if kind == "documents":
                ids.append(objects.identifier)
            elif kind is not None:
                ids.extend(sorted(getattr(objects, kind))[:5])
    return {
        "framework": ["CS-SUPPORT"],
        "learner": ["amara.okafor", "diego.ramos"]
        + (["elif.kaya", "julia.nowak"] if who == "admin" else []),
        "sourcedId": sorted(set(ids)) or ["00000000-0000-4000-8000-000000000000"],
    }


def test_the_document_covers_every_route(served: Served) -> None:
    paths = set(served.app.openapi()["paths"])
    for version in ("v1p1", "v1p0"):
        for route in (
            "CFDocuments",
            "CFDocuments/{sourcedId}",
            "CFPackages/{sourcedId}",
            "CFItems/{sourcedId}",
            "CFAssociations/{sourcedId}",
            "CFItemAssociations/{sourcedId}",
            "CFItemTypes/{sourcedId}",
            "CFRubrics/{sourcedId}",
        ):
            assert f"/ims/case/{version}/{route}" in paths
    for route in ("proficiency", "gaps"):
        assert f"/api/v1/frameworks/{{framework}}/learners/{{learner}}/{route}" in paths
    assert {"/api/v1/frameworks", "/api/v1/frameworks/{framework}/coverage", "/healthz"} <= paths
