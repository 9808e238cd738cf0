"""The HTTP client: auth, pagination, throttling, error mapping, secrets, recorded responses."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import responses
from responses import matchers

from comp_adapters.canvas import (
    CanvasClient,
    CanvasContext,
    CanvasSettings,
    MasteryScalesEnabledError,
    wire,
)
from comp_adapters.canvas import connect as connect_settings
from comp_adapters.canvas.client import describe_canvas_error, is_throttled, make_transport
from comp_adapters.canvas.mapping import tree_from_rest
from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from comp_adapters.http import RetryPolicy

from .conftest import FIXTURES, connect
from .fake_canvas import API, BASE, TOKEN, FakeCanvas

RECORDED: dict[str, Any] = json.loads((FIXTURES / "canvasapi_outcome_responses.json").read_text())


def _recorded(rsps: responses.RequestsMock, name: str, **extra: Any) -> None:
    entry = RECORDED[name]
    rsps.add(
        entry["method"],
        f"{API}/{entry['endpoint']}",
        json=entry["data"],
        status=entry.get("status_code", 200),
        headers=entry.get("headers"),
        **extra,
    )


# -- context and construction ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path"),
    [("account:1", "accounts/1"), ("course:sis_course_id:X", "courses/sis_course_id:X")],
)
def test_context_parse(text: str, path: str) -> None:
    assert CanvasContext.parse(text).path == path


@pytest.mark.parametrize("text", ["1", "user:4", "account:", "accounts/1"])
def test_bad_context_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="account:ID or course:ID"):
        CanvasContext.parse(text)


def test_plain_http_is_refused_and_token_never_shown() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        connect_settings(CanvasSettings(url="http://canvas.test", token=TOKEN, account="1"))
    client = connect()
    assert TOKEN not in repr(client)
    assert client.transport.base_url == f"{API}/"


# -- requests, auth, pagination ---------------------------------------------------------------


def test_bearer_token_and_link_pagination_with_per_page_100() -> None:
    with responses.RequestsMock() as rsps:
        first = rsps.get(
            f"{API}/accounts/1/outcome_groups",
            match=[
                matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
                matchers.query_param_matcher({"per_page": "100"}),
            ],
            json=RECORDED["account_outcome_groups_in_context"]["data"],
            headers={
                "Link": f"<{API}/accounts/1/outcome_groups?page=bookmark:xyz&per_page=100>; "
                'rel="next", <https://x>; rel="current"'
            },
        )
        second = rsps.get(
            f"{API}/accounts/1/outcome_groups",
            match=[matchers.query_param_matcher({"page": "bookmark:xyz", "per_page": "100"})],
            json=[{"id": 9, "title": "Last", "parent_outcome_group": {"id": 1, "title": "ROOT"}}],
        )
        groups = list(connect().list_outcome_groups())
    assert [g.id for g in groups] == [1, 2, 9]
    assert first.call_count == second.call_count == 1


def test_recorded_canvas_responses_parse_into_wire_models() -> None:
    with responses.RequestsMock() as rsps:
        _recorded(rsps, "account_outcome_links_in_context")
        _recorded(rsps, "canvas_get_outcome")
        _recorded(rsps, "outcome_group_create_subgroup_account")
        _recorded(rsps, "outcome_group_link_new_account")
        _recorded(rsps, "outcome_update")
        client = connect()
        links = list(client.list_outcome_links())
        outcome = client.get_outcome(3)
        group = client.create_subgroup(1, wire.GroupWrite(title="New Subgroup Title"))
        link = client.create_outcome(1, wire.OutcomeWrite(title="New Outcome"))
        updated = client.update_outcome(3, wire.OutcomeWrite(title="new_title"))
    assert [(k.outcome_group.id, k.outcome.id, k.outcome.can_edit) for k in links] == [
        (2, 3, False),
        (2, 4, True),
    ]
    assert (outcome.vendor_guid, outcome.mastery_points, outcome.calculation_int) == (
        "customid9000",
        3,
        75,
    )
    assert outcome.ratings is None
    assert group.parent_outcome_group is not None
    assert group.parent_outcome_group.id == 1
    assert link.outcome.id == 2
    assert updated.title == "new_title"


def test_recorded_results_and_rollups_parse() -> None:
    results = wire.WireOutcomeResultsPage.model_validate(
        RECORDED["course_get_outcome_results"]["data"]
    )
    assert [
        (r.id, r.links.user, r.links.learning_outcome, r.percent) for r in results.outcome_results
    ] == [
        (10, "3", "97", 0.65),
        (11, "3", "97", 0.65),
    ]
    rollups = wire.WireRollupsPage.model_validate(
        RECORDED["course_get_outcome_result_rollups"]["data"]
    )
    assert [(r.links.user, [s.score for s in r.scores]) for r in rollups.rollups] == [
        ("1", [3, 3]),
        ("2", [3, 3]),
    ]


def test_recorded_groups_and_links_build_a_tree() -> None:
    groups = [
        wire.WireGroup.model_validate(g)
        for g in RECORDED["account_outcome_groups_in_context"]["data"][:1]
    ] + [wire.WireGroup.model_validate(RECORDED["outcome_group_create_subgroup_account"]["data"])]
    links = [
        wire.WireOutcomeLink.model_validate(k)
        for k in RECORDED["account_outcome_links_in_context"]["data"]
    ]
    tree = tree_from_rest(groups, links)
    assert tree.root_id == 1
    assert [(g.guid, g.parent) for g in tree.groups] == [("canvas_outcome_group:2", "")]
    assert [(o.guid, o.parents, o.can_edit) for o in tree.outcomes] == [
        ("canvas_outcome:3", ("canvas_outcome_group:2",), False),
        ("canvas_outcome:4", ("canvas_outcome_group:2",), True),
    ]


# -- throttling --------------------------------------------------------------------------------


@pytest.mark.parametrize("statuses", [(403,), (429,), (403, 429, 403)])
def test_throttling_is_retried_with_backoff_even_for_posts(
    fake: FakeCanvas, statuses: tuple[int, ...]
) -> None:
    waits: list[float] = []
    # The client over a transport whose pauses are recorded (connect() takes only a session).
    transport = make_transport(
        BASE, TOKEN, sleep=waits.append, retry=RetryPolicy(backoff=0.5, jitter=False)
    )
    client = CanvasClient(transport, TOKEN, context=CanvasContext.parse("account:1"))
    root = client.root_outcome_group().id
    fake.throttle(*statuses)
    created = client.create_subgroup(root, wire.GroupWrite(title="Once", vendor_guid="once"))
    # Canvas promises no Retry-After: the waits double (0.5 s, 1 s, 2 s).
    assert waits == [0.5 * 2**n for n in range(len(statuses))]
    # The throttled POSTs were not processed, so exactly one group exists.
    assert [g["vendor_guid"] for g in fake.groups.values() if g["vendor_guid"]] == ["once"]
    assert created.vendor_guid == "once"


def test_throttling_gives_up_with_a_rate_limited_error(fake: FakeCanvas) -> None:
    fake.throttle(*([429] * 10))
    with pytest.raises(RateLimitedError) as caught:
        list(connect().list_outcome_groups())
    assert caught.value.status == 429
    assert caught.value.request_id is not None


def test_throttle_detection() -> None:
    def response(status: int, text: str) -> Any:
        import requests  # noqa: PLC0415

        r = requests.Response()
        r.status_code = status
        r._content = text.encode()
        return r

    assert is_throttled(response(429, ""))
    assert is_throttled(response(403, "403 Forbidden (Rate Limit Exceeded)"))
    assert not is_throttled(response(403, '{"status":"unauthorized"}'))


# -- error mapping -----------------------------------------------------------------------------


ERRORS = [
    (
        401,
        {"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
        {"errors": [{"message": "Invalid access token."}]},
        AuthenticationError,
        "Invalid access token.",
    ),
    (
        401,
        {},
        {
            "status": "unauthorized",
            "errors": [{"message": "user not authorized to perform that action"}],
        },
        PermissionDeniedError,
        "user not authorized",
    ),
    (
        403,
        {},
        {
            "status": "unauthorized",
            "errors": [{"message": "user not authorized to perform that action"}],
        },
        PermissionDeniedError,
        "user not authorized",
    ),
    (
        404,
        {},
        {"errors": [{"message": "The specified resource does not exist."}]},
        NotFoundError,
        "does not exist",
    ),
    (
        403,
        {},
        {"error": "Individual outcome mastery scales cannot be modified."},
        MasteryScalesEnabledError,
        "mastery scales are on",
    ),
    (  # a scoped developer key: the token is valid, it may not call this route
        401,
        {"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
        {"errors": [{"message": "Insufficient scopes on access token."}]},
        PermissionDeniedError,
        "scopes do not include PUT /api/v1/outcomes/3",
    ),
]


@pytest.mark.parametrize(("status", "headers", "body", "error", "message"), ERRORS)
def test_failures_map_into_the_error_tree_with_the_request_id(
    status: int,
    headers: dict[str, str],
    body: Any,
    error: type[Exception],
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as rsps:
        rsps.put(
            f"{API}/outcomes/3",
            status=status,
            json=body,
            headers={"X-Request-Context-Id": "abc-123", **headers},
        )
        with pytest.raises(error) as caught:
            connect().update_outcome(3, wire.OutcomeWrite(title="x"))
    failure = caught.value
    assert message in str(failure)
    assert getattr(failure, "request_id", None) == "abc-123"
    assert getattr(failure, "status", None) == status
    assert TOKEN not in str(failure)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"errors": [{"message": "a"}, {"message": "b"}]}, ("a; b", None)),
        (
            {
                "errors": {
                    "short_description": [{"attribute": "short_description", "message": "blank"}]
                }
            },
            ("short_description: blank", "short_description"),
        ),
        ("error", ("error", None)),
        ({"message": "No proficiency"}, ("No proficiency", None)),
        ({"error": "cannot be modified"}, ("cannot be modified", None)),
    ],
)
def test_describe_canvas_error_bodies(body: Any, expected: tuple[str, str | None]) -> None:
    import requests  # noqa: PLC0415

    response = requests.Response()
    response.status_code = 400
    response._content = json.dumps(body).encode()
    assert describe_canvas_error(response) == expected


def test_token_in_a_url_is_redacted_from_errors() -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{API}/outcomes/5", status=404, json={"message": "gone"})
        with pytest.raises(NotFoundError) as caught:
            connect()._call("GET", f"outcomes/5?access_token={TOKEN}", operation="get")
    assert TOKEN not in str(caught.value)
    assert "access_token=***" in str(caught.value)


def test_report_download_sends_the_token_only_to_canvas() -> None:
    """A report file on another host is refused; Canvas's redirect to its file store is
    followed without the token (issue 9: one origin rule for every followed link)."""
    with responses.RequestsMock() as rsps:
        own = rsps.get(
            f"{BASE}/files/r.csv",
            status=302,
            headers={"Location": "https://files.example.net/r.csv?sig=abc"},
            match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
        )
        store = rsps.get("https://files.example.net/r.csv?sig=abc", body="b")
        client = connect()
        assert client.download_text(f"{BASE}/files/r.csv") == "b"
        with pytest.raises(FatalRemoteError, match="not followed"):
            client.download_text("https://files.example.net/r.csv")
    assert own.call_count == 1
    assert "Authorization" not in store.calls[0].request.headers


def test_course_only_routes_refuse_an_account_context() -> None:
    with pytest.raises(ConfigurationError, match="course context"):
        list(connect().outcome_result_pages())
