"""HTTP plumbing: retries, Retry-After, idempotency, error mapping and redaction."""

from __future__ import annotations

import logging
import random

import pytest
import requests
import responses

from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetriableRemoteError,
)
from comp_adapters.http import (
    HttpTransport,
    RedactingFilter,
    Redactor,
    RetryPolicy,
    next_link,
    parse_retry_after,
    redact_url,
)

BASE = "https://lms.example.org/api/"
TOKEN = "s3cr3t-token-value"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def transport(**kw: object) -> tuple[HttpTransport, Sleeps]:
    sleeps = Sleeps()
    made = HttpTransport(
        adapter="test",
        base_url=BASE,
        retry=RetryPolicy(attempts=3, backoff=1.0, jitter=False),
        sleep=sleeps,
        clock=lambda: 1_000_000.0,
        redactor=Redactor([TOKEN]),
        **kw,  # type: ignore[arg-type]
    )
    return made, sleeps


@responses.activate
def test_429_is_retried_after_the_servers_retry_after() -> None:
    responses.get(BASE + "items", status=429, headers={"Retry-After": "7"})
    responses.get(BASE + "items", json={"ok": True})
    http, sleeps = transport()
    assert http.request("GET", "items", operation="list").json() == {"ok": True}
    assert sleeps.waits == [7.0]
    assert http.requests_sent == 2


@responses.activate
def test_throttled_posts_are_retried_but_5xx_posts_are_not() -> None:
    responses.post(BASE + "create", status=429)
    responses.post(BASE + "create", status=201, json={"id": 1})
    http, sleeps = transport()
    assert http.request("POST", "create", operation="create").status_code == 201
    assert sleeps.waits == [1.0]  # no Retry-After: backoff

    responses.post(BASE + "again", status=503)
    with pytest.raises(RetriableRemoteError) as caught:
        http.request("POST", "again", operation="create")
    assert caught.value.status == 503
    assert len([c for c in responses.calls if c.request.url.endswith("again")]) == 1


@responses.activate
def test_5xx_on_get_is_retried_with_growing_backoff_then_raised() -> None:
    for _ in range(3):
        responses.get(BASE + "flaky", status=502, body="bad gateway")
    http, sleeps = transport()
    with pytest.raises(RetriableRemoteError, match="bad gateway"):
        http.request("GET", "flaky", operation="read")
    assert sleeps.waits == [1.0, 2.0]


@responses.activate
def test_an_idempotent_post_may_be_retried_on_5xx() -> None:
    responses.post(BASE + "search", status=500)
    responses.post(BASE + "search", json=[])
    http, _ = transport()
    assert http.request("POST", "search", operation="search", idempotent=True).json() == []


@responses.activate
def test_connection_refused_is_retried() -> None:
    responses.get(BASE + "x", body=requests.exceptions.ConnectionError("Connection refused"))
    responses.get(BASE + "x", json={})
    http, sleeps = transport()
    assert http.request("GET", "x", operation="read").json() == {}
    assert len(sleeps.waits) == 1


@responses.activate
def test_custom_throttle_detection() -> None:
    responses.get(BASE + "x", status=403, body="403 Forbidden (Rate Limit Exceeded)")
    responses.get(BASE + "x", json={})
    http, sleeps = transport(
        is_throttled=lambda r: r.status_code == 403 and "Rate Limit Exceeded" in r.text
    )
    assert http.request("GET", "x", operation="read").json() == {}
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
    ],
)
@responses.activate
def test_fatal_errors_are_mapped_with_facts(status: int, error: type[Exception]) -> None:
    responses.get(
        BASE + "thing",
        status=status,
        json={"message": f"nope, token {TOKEN}", "code": "E42"},
        headers={"X-Request-Id": "req-123"},
    )
    http, sleeps = transport()
    with pytest.raises(error) as caught:
        http.request("GET", f"thing?access_token={TOKEN}", operation="read thing")
    text = str(caught.value)
    assert TOKEN not in text
    assert "nope, token ***" in text
    assert f"HTTP {status}" in text
    assert "code E42" in text
    assert "request id req-123" in text
    assert "access_token=***" in text
    assert sleeps.waits == []


@responses.activate
def test_expected_statuses_are_returned() -> None:
    responses.put(BASE + "s", status=409)
    http, _ = transport()
    assert http.request("PUT", "s", operation="put", expected=(409,)).status_code == 409


def test_plain_http_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="refusing plain http"):
        HttpTransport(adapter="t", base_url="http://lms.example.org/")
    allowed = HttpTransport(adapter="t", base_url="http://127.0.0.1:8080/", allow_http=True)
    assert allowed.url("a/b") == "http://127.0.0.1:8080/a/b"
    https = HttpTransport(adapter="t", base_url="https://lms.example.org/x")
    with pytest.raises(ConfigurationError):
        https.url("http://elsewhere.example.org/")
    with pytest.raises(ConfigurationError, match="not an http"):
        https.url("ftp://elsewhere.example.org/")


def test_redaction_of_urls_and_text() -> None:
    url = "https://user:pw@lms.example.org/ws?wstoken=abc123&x=1&Token=zz"
    assert redact_url(url) == "https://lms.example.org/ws?wstoken=***&x=1&Token=***"
    redactor = Redactor([TOKEN, "ab"])  # too short to mask safely: ignored
    assert redactor(f"Bearer {TOKEN} about") == "Bearer *** about"
    assert TOKEN not in repr(redactor)
    http = HttpTransport(adapter="t", base_url=f"https://lms.example.org/?token={TOKEN}")
    assert TOKEN not in repr(http)


def test_redacting_log_filter(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("comp_adapters.test_redaction")
    logger.addFilter(RedactingFilter(Redactor([TOKEN])))
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("calling with %s", TOKEN)
    assert TOKEN not in caplog.text
    assert "calling with ***" in caplog.text


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3", now=0) == 3.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0) == 30.0
    assert parse_retry_after("garbage", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.wait(1, 3600, random.Random(1)) == 60
    jittered = RetryPolicy(backoff=2.0).wait(3, None, random.Random(1))
    assert 0 <= jittered <= 8.0


@responses.activate
def test_rate_limit_error_carries_retry_after_when_attempts_run_out() -> None:
    responses.get(BASE + "x", status=429, headers={"Retry-After": "5"})
    http = HttpTransport(adapter="t", base_url=BASE, retry=RetryPolicy(attempts=1))
    with pytest.raises(RateLimitedError) as caught:
        http.request("GET", "x", operation="read")
    assert caught.value.retry_after == 5.0


@responses.activate
def test_next_link() -> None:
    responses.get(
        BASE + "list",
        json=[],
        headers={"Link": f'<{BASE}list?page=2>; rel="next", <{BASE}list?page=1>; rel="first"'},
    )
    http, _ = transport()
    assert next_link(http.request("GET", "list", operation="list")) == BASE + "list?page=2"
