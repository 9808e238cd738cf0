"""The transport's origin, redirect, TLS and bounds policy, against real local servers."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from pydantic import SecretStr

from comp_adapters.canvas.settings import CanvasSettings
from comp_adapters.canvas.settings import connect as connect_canvas
from comp_adapters.errors import (
    ConfigurationError,
    FatalRemoteError,
    RemoteError,
    RetriableRemoteError,
    TLSError,
)
from comp_adapters.http import HttpTransport, RetryPolicy, make_session
from comp_adapters.moodle.client import Calls, MoodleClient
from comp_adapters.xapi.client import XapiClient
from comp_adapters.xapi.wire import StatementQuery
from tests.hardening.servers import Exchange, LocalServer, TlsSetup

TOKEN = "canvas-secret-token-1234"


def transport(server: LocalServer, **options: object) -> HttpTransport:
    settings: dict[str, object] = {"retry": RetryPolicy(attempts=3, backoff=0.0, jitter=False)}
    settings.update(options)
    return HttpTransport(
        adapter="test",
        base_url=server.url + "/api/",
        allow_http=True,
        **settings,  # type: ignore[arg-type]
    )


# -- followed links --------------------------------------------------------------------------


def test_a_next_page_on_another_origin_is_refused(home: LocalServer, foreign: LocalServer) -> None:
    foreign.route("/api/v1/accounts/1/outcome_groups", lambda x: x.reply(200, "[]"))
    home.route(
        "/api/v1/accounts/1/outcome_groups",
        lambda x: x.reply(
            200,
            json.dumps([{"id": 1, "title": "Root"}]),
            {"Link": f'<{foreign.url}/api/v1/accounts/1/outcome_groups?page=2>; rel="next"'},
        ),
    )
    client = connect_canvas(CanvasSettings(url=home.url, token=TOKEN, account="1", allow_http=True))
    with pytest.raises(FatalRemoteError) as raised:
        list(client.list_outcome_groups())
    message = str(raised.value)
    assert foreign.url.removeprefix("http://") in message  # names the link's origin
    assert home.url.removeprefix("http://") in message  # and the one the token is for
    assert foreign.requests == []
    assert TOKEN not in message


def test_a_next_page_on_the_same_origin_is_followed(home: LocalServer) -> None:
    pages = {
        "1": (
            [{"id": 1, "title": "Root"}],
            '<{url}/api/v1/accounts/1/outcome_groups?page=2>; rel="next"',
        ),
        "2": ([{"id": 2, "title": "Child"}], ""),
    }

    def listing(exchange: Exchange) -> None:
        page = "2" if "page=2" in exchange.request.path else "1"
        items, link = pages[page]
        headers = {"Link": link.format(url=home.url)} if link else {}
        exchange.reply(200, json.dumps(items), headers)

    home.route("/api/v1/accounts/1/outcome_groups", listing)
    client = connect_canvas(CanvasSettings(url=home.url, token=TOKEN, account="1", allow_http=True))
    assert [g.id for g in client.list_outcome_groups()] == [1, 2]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in home.requests)


def test_a_report_file_on_another_origin_is_refused(
    home: LocalServer, foreign: LocalServer
) -> None:
    client = connect_canvas(CanvasSettings(url=home.url, token=TOKEN, account="1", allow_http=True))
    with pytest.raises(FatalRemoteError, match="not followed"):
        client.download_text(f"{foreign.url}/report.csv")
    assert foreign.requests == []


def test_a_report_file_redirected_to_a_file_store_goes_there_without_the_token(
    home: LocalServer, foreign: LocalServer
) -> None:
    foreign.route("/store/report.csv", lambda x: x.reply(200, "a,b\r\n", content_type="text/csv"))
    home.route(
        "/files/9/download",
        lambda x: x.redirect(f"{foreign.url}/store/report.csv?X-Amz-Signature=abc"),
    )
    client = connect_canvas(CanvasSettings(url=home.url, token=TOKEN, account="1", allow_http=True))
    assert client.download_text(f"{home.url}/files/9/download?verifier=v") == "a,b\r\n"
    assert home.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    (seen,) = foreign.requests
    assert "Authorization" not in seen.headers
    assert TOKEN not in json.dumps(seen.headers)


def test_xapi_more_links_use_the_same_check(home: LocalServer, foreign: LocalServer) -> None:
    home.route(
        "/xapi/statements",
        lambda x: x.reply(
            200, json.dumps({"statements": [], "more": f"{foreign.url}/xapi/more/1"})
        ),
    )
    client = XapiClient(
        HttpTransport(adapter="xapi", base_url=home.url + "/xapi/", allow_http=True),
        key="lrs-key",
        secret=SecretStr("lrs-secret-value"),
        version="1.0.3",
    )
    page = client.get_statements(StatementQuery())
    assert page.more is not None
    with pytest.raises(FatalRemoteError, match="not followed") as raised:
        client.get_more(page.more)
    assert foreign.url.removeprefix("http://") in str(raised.value)
    assert foreign.requests == []


# -- redirects -------------------------------------------------------------------------------


def moodle(server: LocalServer) -> MoodleClient:
    return MoodleClient(
        server.url,
        "moodle-ws-token-abcdef",
        allow_http=True,
        batch=False,
        retry=RetryPolicy(attempts=1),
    )


@pytest.mark.parametrize("status", [307, 308])
def test_a_post_redirected_to_another_origin_keeps_its_body_home(
    home: LocalServer, foreign: LocalServer, status: int
) -> None:
    foreign.default = lambda x: x.reply(200, "{}")
    home.route(
        "/webservice/rest/server.php",
        lambda x: x.redirect(f"{foreign.url}/webservice/rest/server.php", status),
    )
    with pytest.raises(FatalRemoteError) as raised:
        moodle(home).run(Calls.get_site_info())
    assert f"redirect to {foreign.url}/webservice/rest/server.php refused" in str(raised.value)
    assert foreign.requests == []
    assert "moodle-ws-token-abcdef" not in str(raised.value)


def test_a_redirect_within_the_origin_is_followed(home: LocalServer) -> None:
    home.route("/api/old", lambda x: x.redirect(f"{home.url}/api/new", 301))
    home.route("/api/new", lambda x: x.reply(200, '{"ok": true}'))
    http = transport(home)
    assert http.request("GET", "old", operation="read").json() == {"ok": True}
    assert [r.path for r in home.requests] == ["/api/old", "/api/new"]


def test_a_303_after_a_post_is_read_with_get_and_without_the_body(home: LocalServer) -> None:
    home.route("/api/create", lambda x: x.redirect("/api/created/7", 303))
    home.route("/api/created/7", lambda x: x.reply(200, '{"id": 7}'))
    response = transport(home).request("POST", "create", operation="create", data={"a": "1"})
    assert response.json() == {"id": 7}
    assert [(r.method, r.body) for r in home.requests] == [("POST", b"a=1"), ("GET", b"")]


def test_a_redirect_loop_is_a_clear_error(home: LocalServer) -> None:
    home.route("/api/a", lambda x: x.redirect("/api/b"))
    home.route("/api/b", lambda x: x.redirect("/api/a"))
    with pytest.raises(FatalRemoteError, match="redirect loop"):
        transport(home).request("GET", "a", operation="read")
    assert len(home.requests) == 2


def test_an_https_redirect_to_http_is_refused(
    tls: TlsSetup, tls_home: LocalServer, foreign: LocalServer
) -> None:
    tls_home.route("/api/x", lambda x: x.redirect(f"{foreign.url}/api/x"))
    http = HttpTransport(
        adapter="test",
        base_url=tls_home.url + "/api/",
        session=make_session(ca_bundle=tls.ca_pem),
        allow_http=True,
    )
    with pytest.raises(FatalRemoteError, match="leaves https for plain http"):
        http.request("GET", "x", operation="read")
    assert foreign.requests == []


# -- TLS -------------------------------------------------------------------------------------


def test_an_untrusted_certificate_is_fatal_at_once_with_the_reason(tls_home: LocalServer) -> None:
    tls_home.route("/api/x", lambda x: x.reply(200, "{}"))
    sleeps: list[float] = []
    http = HttpTransport(adapter="test", base_url=tls_home.url + "/api/", sleep=sleeps.append)
    with pytest.raises(TLSError) as raised:
        http.request("GET", "x", operation="read")
    assert "certificate verify failed" in str(raised.value)
    assert "ca_bundle" in str(raised.value)
    assert http.requests_sent == 1
    assert sleeps == []


def test_a_private_ca_is_trusted_through_ca_bundle(tls: TlsSetup, tls_home: LocalServer) -> None:
    tls_home.route("/api/x", lambda x: x.reply(200, '{"ok": 1}'))
    http = HttpTransport(
        adapter="test", base_url=tls_home.url + "/api/", session=make_session(ca_bundle=tls.ca_pem)
    )
    assert http.request("GET", "x", operation="read").json() == {"ok": 1}


def test_requests_ca_bundle_is_honoured(
    tls: TlsSetup, tls_home: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_home.route("/api/x", lambda x: x.reply(200, '{"ok": 2}'))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.ca_pem)
    http = HttpTransport(adapter="test", base_url=tls_home.url + "/api/")
    assert http.request("GET", "x", operation="read").json() == {"ok": 2}


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match=r"ca_bundle .*no such file"):
        make_session(ca_bundle="/nonexistent/ca.pem")


# -- broken answers and bad URLs -------------------------------------------------------------


def test_a_truncated_body_is_a_remote_error(home: LocalServer) -> None:
    home.route("/api/x", lambda x: x.cut_off(100, b'{"partial": '))
    http = transport(home)
    with pytest.raises(RetriableRemoteError, match="cut off"):
        http.request("GET", "x", operation="read")
    assert len(home.requests) == 3  # a GET may be repeated


def test_a_truncated_chunked_body_is_a_remote_error(home: LocalServer) -> None:
    def chunked(exchange: Exchange) -> None:
        raw = exchange.raw
        raw.send_response(200)
        raw.send_header("Transfer-Encoding", "chunked")
        raw.end_headers()
        raw.wfile.write(b"10\r\n0123")
        raw.wfile.flush()
        raw.close_connection = True

    home.route("/api/x", chunked)
    with pytest.raises(RemoteError, match="cut off"):
        transport(home, retry=RetryPolicy(attempts=1)).request("GET", "x", operation="read")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://lms.example.org:99999/", "port"),
        ("https://lms.example.org:abc/", "port"),
        ("https:///path-only", "no host"),
        ("https://lms example.org/", "white space"),
    ],
)
def test_a_bad_host_or_port_in_a_configured_url_is_a_configuration_error(
    url: str, reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        HttpTransport(adapter="t", base_url=url)


# -- bounds ----------------------------------------------------------------------------------


def test_a_dripping_server_is_cut_at_the_deadline(home: LocalServer) -> None:
    payload = json.dumps({"items": list(range(40))}).encode()
    home.route("/api/slow", lambda x: x.drip(payload, every=0.05))
    http = transport(home, deadline=0.5, timeout=(2.0, 2.0))
    with pytest.raises(RetriableRemoteError, match=r"deadline of 0\.5 s"):
        http.request("GET", "slow", operation="read")
    assert len(home.requests) == 1  # a deadline overrun is not repeated


def test_an_answer_above_the_cap_is_refused(home: LocalServer) -> None:
    big = b"[" + b"1," * 600_000 + b"1]"
    home.route("/api/declared", lambda x: x.reply(200, big))
    http = transport(home, max_answer_bytes=100_000)
    with pytest.raises(FatalRemoteError, match="larger than the limit of 100000 bytes") as raised:
        http.request("GET", "declared", operation="read")
    assert f"declares {len(big)} bytes" in str(raised.value)


def test_an_undeclared_answer_is_stopped_at_the_cap(home: LocalServer) -> None:
    def endless(exchange: Exchange) -> None:
        raw = exchange.raw
        raw.send_response(200)
        raw.send_header("Transfer-Encoding", "chunked")
        raw.end_headers()
        try:
            for _ in range(2000):
                raw.wfile.write(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
            raw.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            exchange.server.dripped.append(-1)

    home.route("/api/endless", endless)
    http = transport(home, max_answer_bytes=200_000)
    with pytest.raises(FatalRemoteError, match="larger than the limit"):
        http.request("GET", "endless", operation="read")


# -- echoed credentials ----------------------------------------------------------------------


def test_echoed_basic_credentials_are_masked(home: LocalServer) -> None:
    home.route(
        "/xapi/statements",
        lambda x: x.reply(
            400, json.dumps({"message": f"bad header {x.request.headers['Authorization']}"})
        ),
    )
    client = XapiClient(
        HttpTransport(adapter="xapi", base_url=home.url + "/xapi/", allow_http=True),
        key="lrs-key",
        secret=SecretStr("lrs-secret-value"),
        version="1.0.3",
    )
    with pytest.raises(FatalRemoteError) as raised:
        client.get_statements(StatementQuery())
    encoded = base64.b64encode(b"lrs-key:lrs-secret-value").decode()
    assert encoded not in str(raised.value)
    assert "bad header Basic ***" in str(raised.value)


def test_session_requests_are_unchanged_for_plain_use() -> None:
    assert isinstance(make_session(), requests.Session)
