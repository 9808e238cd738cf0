"""The Statement API client against `responses`: what the real LRS cannot show us."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from pydantic import SecretStr

from comp_adapters.errors import AuthenticationError, ConfigurationError, FatalRemoteError
from comp_adapters.http import HttpTransport, RetryPolicy
from comp_adapters.xapi import OAuth2Credentials, StatementQuery, XapiClient

ROOT = "https://lrs.example.org"
ENDPOINT = f"{ROOT}/data/xAPI/"
TOKEN_URL = "https://auth.example.org/oauth2/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_client(clock: Clock | None = None, **options: Any) -> XapiClient:
    clock = clock or Clock()
    transport = HttpTransport(
        adapter="xapi",
        base_url=ENDPOINT,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(attempts=3, jitter=False),
    )
    options.setdefault("key", "reader")
    options.setdefault("secret", SecretStr("s3cret-value"))
    return XapiClient(transport, **options)


def page(statements: list[Any], more: str = "", through: str = "2026-01-01T00:00:00.000Z") -> dict:
    return {
        "json": {"statements": statements, "more": more},
        "headers": {"X-Experience-API-Consistent-Through": through},
    }


@responses.activate
def test_version_negotiated_with_a_2_0_only_server() -> None:
    responses.get(ENDPOINT + "about", json={"version": ["2.0.0"]})

    def statements(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        version = request.headers.get("X-Experience-API-Version", "")
        if not version.startswith("2.0"):
            return 400, {}, json.dumps({"message": f"unsupported version {version!r}"})
        return 200, {"X-Experience-API-Version": "2.0.0"}, json.dumps({"statements": []})

    responses.add_callback(responses.GET, ENDPOINT + "statements", callback=statements)
    client = make_client()
    assert client.get_statements(StatementQuery(limit=1)).statements == []
    assert client.version == "2.0.0"
    about = responses.calls[0].request
    assert "X-Experience-API-Version" not in about.headers


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["1.0.3"], "1.0.3"), (["1.0.0", "1.0.1"], "1.0.3"), (["1.0.3", "2.0.0"], "2.0.0")],
)
@responses.activate
def test_version_choice(offered: list[str], chosen: str) -> None:
    responses.get(ENDPOINT + "about", json={"version": offered, "X-Experience-API-Version": "x"})
    assert make_client().negotiate_version() == chosen


@responses.activate
def test_no_common_version_is_a_configuration_error() -> None:
    responses.get(ENDPOINT + "about", json={"version": ["0.95"]})
    with pytest.raises(ConfigurationError, match=r"0\.95"):
        make_client().negotiate_version()
    with pytest.raises(ConfigurationError, match="not supported"):
        make_client(version="1.1.0")


@responses.activate
def test_more_links_resolve_against_the_server_root_and_filters_are_sent() -> None:
    responses.get(ENDPOINT + "statements", **page([{"id": "a"}], more="/data/xAPI/statements?c=1"))
    responses.get(f"{ROOT}/data/xAPI/statements?c=1", **page([{"id": "b"}]))
    client = make_client(version="1.0.3")
    first = client.get_statements(
        StatementQuery(verb="https://v/passed", agent={"mbox": "mailto:a@b.org"}, ascending=True)
    )
    assert first.more == "/data/xAPI/statements?c=1"
    assert first.consistent_through is not None
    second = client.get_more(first.more)
    assert second.statements == [{"id": "b"}]
    assert second.more is None
    sent = parse_qs(urlsplit(responses.calls[0].request.url or "").query)
    assert sent == {
        "verb": ["https://v/passed"],
        "agent": ['{"mbox":"mailto:a@b.org"}'],
        "ascending": ["true"],
    }
    assert responses.calls[1].request.url == f"{ROOT}/data/xAPI/statements?c=1"
    assert all(c.request.headers["X-Experience-API-Version"] == "1.0.3" for c in responses.calls)


@responses.activate
def test_429_with_retry_after_is_waited_out() -> None:
    responses.get(
        ENDPOINT + "statements", status=429, headers={"Retry-After": "7"}, json={"message": "slow"}
    )
    responses.get(ENDPOINT + "statements", **page([{"id": "a"}]))
    clock = Clock()
    client = make_client(clock, version="1.0.3")
    assert client.get_statements(StatementQuery()).statements == [{"id": "a"}]
    assert clock.slept == [7.0]


@responses.activate
def test_single_statements_put_and_conflicts() -> None:
    responses.get(ENDPOINT + "statements", status=404, json={"message": "no"})
    responses.put(ENDPOINT + "statements?statementId=s1", status=204)
    responses.put(ENDPOINT + "statements?statementId=s2", status=409, json={"message": "exists"})
    client = make_client(version="1.0.3")
    assert client.get_voided_statement("x") is None
    assert client.get_statement("x") is None
    assert client.put_statement("s1", {"id": "s1"}) is True
    assert client.put_statement("s2", {"id": "s2"}) is False
    with pytest.raises(ConfigurationError):
        client.get_statements(StatementQuery(statement_id="x"))


@responses.activate
def test_oauth2_client_credentials_token_expiry_and_401() -> None:
    tokens = iter(["tok-one", "tok-two", "tok-three"])

    def token(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.headers["Authorization"].startswith("Basic ")
        assert parse_qs(str(request.body)) == {
            "grant_type": ["client_credentials"],
            "scope": ["statements/read"],
        }
        body = {"access_token": next(tokens), "token_type": "Bearer", "expires_in": 300}
        return 200, {}, json.dumps(body)

    seen: list[str] = []

    def statements(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        auth = request.headers["Authorization"]
        seen.append(auth)
        if auth == "Bearer tok-two":  # revoked early by the server
            return 401, {}, json.dumps({"message": "token expired"})
        return 200, {}, json.dumps({"statements": []})

    responses.add_callback(responses.POST, TOKEN_URL, callback=token)
    responses.add_callback(responses.GET, ENDPOINT + "statements", callback=statements)
    clock = Clock()
    client = make_client(
        clock,
        key=None,
        secret=None,
        version="2.0.0",
        oauth2=OAuth2Credentials(
            token_url=TOKEN_URL,
            client_id="client-7",
            client_secret=SecretStr("very-secret"),
            scope="statements/read",
        ),
    )
    client.get_statements(StatementQuery())
    client.get_statements(StatementQuery())
    clock.now += 290  # within 30 s of expiry: fetch a new token first
    client.get_statements(StatementQuery())  # tok-two gets 401 -> tok-three
    assert seen == ["Bearer tok-one", "Bearer tok-one", "Bearer tok-two", "Bearer tok-three"]
    assert "very-secret" not in repr(client)


@responses.activate
def test_bad_credentials_do_not_leak() -> None:
    responses.get(ENDPOINT + "statements", status=401, json={"message": "bad s3cret-value"})
    client = make_client(version="1.0.3")
    with pytest.raises(AuthenticationError) as caught:
        client.get_statements(StatementQuery())
    assert "s3cret-value" not in str(caught.value)
    assert "HTTP 401" in str(caught.value)
    with pytest.raises(ConfigurationError):
        make_client(key="only-key", secret=None)


@responses.activate
def test_unusable_answers_are_fatal_remote_errors() -> None:
    responses.get(ENDPOINT + "about", body="<html>")
    responses.get(ENDPOINT + "statements", json={"statements": "nope"})
    responses.post(ENDPOINT + "statements", json={"ids": []})
    with pytest.raises(FatalRemoteError, match="About resource"):
        make_client().about()
    client = make_client(version="1.0.3")
    with pytest.raises(FatalRemoteError, match="without a StatementResult"):
        client.get_statements(StatementQuery())
    with pytest.raises(FatalRemoteError, match="did not answer with ids"):
        client.post_statements([{"id": "x"}])


@pytest.mark.parametrize(
    "more",
    [
        "https://evil.example.org/data/xAPI/statements?c=1",
        "//evil.example.org/data/xAPI/statements?c=1",
        "http://lrs.example.org/data/xAPI/statements?c=1",
        "https://lrs.example.org:8443/data/xAPI/statements?c=1",
        "https://lrs.example.org:no-port/data/xAPI/statements?c=1",
    ],
)
@responses.activate
def test_more_links_to_another_server_are_not_followed(more: str) -> None:
    """Following them would hand our credentials to whoever the link names."""
    responses.get(ENDPOINT + "statements", **page([{"id": "a"}], more=more))
    client = make_client(version="1.0.3")
    first = client.get_statements(StatementQuery())
    assert first.more == more
    with pytest.raises(FatalRemoteError, match="another server"):
        client.get_more(more)
    assert len(responses.calls) == 1  # nothing was sent to the other server


@responses.activate
def test_absolute_more_links_on_the_same_server_are_followed() -> None:
    more = f"{ROOT}:443/data/xAPI/statements?c=2"
    responses.get(f"{ROOT}:443/data/xAPI/statements?c=2", **page([{"id": "b"}]))
    assert make_client(version="1.0.3").get_more(more).statements == [{"id": "b"}]


@responses.activate
def test_attachments_true_reads_the_statements_of_a_multipart_answer() -> None:
    statements = {"statements": [{"id": "a", "attachments": [{"sha2": "abc"}]}], "more": ""}
    boundary = "xapi-7f3a"
    body = (
        (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(statements)}\r\n"
            f"--{boundary}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: abc\r\n\r\n"
        ).encode()
        + b"\x89PNG\r\n--not-a-boundary\x00\xff"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    responses.get(
        ENDPOINT + "statements",
        body=body,
        content_type=f'multipart/mixed; boundary="{boundary}"',
    )
    client = make_client(version="1.0.3")
    answer = client.get_statements(StatementQuery(attachments=True))
    assert answer.statements == statements["statements"]
    sent = parse_qs(urlsplit(responses.calls[0].request.url or "").query)
    assert sent == {"attachments": ["true"]}


@responses.activate
def test_a_multipart_answer_without_a_boundary_is_a_fatal_remote_error() -> None:
    responses.get(ENDPOINT + "statements", body=b"{}", content_type="multipart/mixed")
    with pytest.raises(FatalRemoteError, match="invalid JSON"):
        make_client(version="1.0.3").get_statements(StatementQuery(attachments=True))


# -- issue 12 item 1: a single-statement answer must be the one asked for -------------------


@responses.activate
def test_single_statement_answers_are_checked_by_id() -> None:
    asked = "5b8e2d1a-0000-4000-8000-000000000001"
    other = {"id": "7c9f3e2b-0000-4000-8000-000000000002", "verb": {"id": "v"}}
    responses.get(ENDPOINT + "statements", json=other)  # another statement, bare
    responses.get(ENDPOINT + "statements", json={"statements": [other]})  # wrapped
    responses.get(ENDPOINT + "statements", json={"statements": [{"id": asked.upper()}]})
    responses.get(ENDPOINT + "statements", json={"statements": []})
    client = make_client(version="1.0.3")
    assert client.get_statement(asked) is None
    assert client.get_statement(asked) is None
    assert client.get_statement(asked) == {"id": asked.upper()}  # UUIDs: case-insensitive
    assert client.get_statement(asked) is None
    assert not client.ignores_voided_lookup  # statementId answers do not count for that


@responses.activate
def test_post_answers_are_checked() -> None:
    """200 with the ids sent (Ralph: only the new ones), 204 (Ralph: it held them all);
    ids not sent, or a count that cannot match, are refused."""
    sent = [{"id": "a"}, {"id": "b"}]
    responses.post(ENDPOINT + "statements", json=["a", "b"])
    responses.post(ENDPOINT + "statements", json=["b"])
    responses.post(ENDPOINT + "statements", status=204)
    responses.post(ENDPOINT + "statements", json=["a", "zzz"])
    responses.post(ENDPOINT + "statements", json=["x"])
    client = make_client(version="1.0.3")
    assert client.post_statements(sent) == ["a", "b"]
    assert client.post_statements(sent) == ["b"]
    assert client.post_statements(sent) == []
    with pytest.raises(FatalRemoteError, match="ids that were not sent"):
        client.post_statements(sent)
    with pytest.raises(FatalRemoteError, match=r"1 id\(s\) for 2 statement"):
        client.post_statements([{"verb": {}}, {"verb": {}}])


# -- issue 12 item 6: no About resource ------------------------------------------------------


@responses.activate
def test_no_about_resource_falls_back_to_1_0_3(caplog: pytest.LogCaptureFixture) -> None:
    responses.get(ENDPOINT + "about", status=404, json={"detail": "Not Found"})
    client = make_client()
    with caplog.at_level("WARNING", logger="comp_adapters.xapi"):
        assert client.version == "1.0.3"
    assert "no About resource" in caplog.text
    assert "--xapi-version" in caplog.text
