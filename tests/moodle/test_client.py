"""The REST client: form encoding, recorded Moodle answers, error mapping, batching."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from comp_adapters.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RetriableRemoteError,
)
from comp_adapters.moodle.client import Calls, encode_form
from comp_adapters.moodle.mapping import framework_from_moodle
from comp_adapters.moodle.settings import MoodleSettings, connect
from comp_adapters.moodle.wire import (
    RULE_ALL,
    RULE_POINTS,
    CompetencyCreate,
    CompetencyUpdate,
    FrameworkCreate,
    SiteInfo,
    WireCompetency,
    WireFramework,
)
from tests.moodle.conftest import make_client, recording
from tests.moodle.fake_moodle import ENDPOINT, TOKEN, URL, FakeMoodle

# -- form encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"id": 5}, [("id", "5")]),
        ({"flag": True, "off": False}, [("flag", "1"), ("off", "0")]),
        ({"a": None, "b": "x"}, [("b", "x")]),
        (
            {"c": {"contextlevel": "system", "instanceid": 0}},
            [("c[contextlevel]", "system"), ("c[instanceid]", "0")],
        ),
        (
            {"filters": [{"column": "idnumber", "value": "X"}, {"column": "id", "value": "3"}]},
            [
                ("filters[0][column]", "idnumber"),
                ("filters[0][value]", "X"),
                ("filters[1][column]", "id"),
                ("filters[1][value]", "3"),
            ],
        ),
        ({"values": ["a@x", "b@x"]}, [("values[0]", "a@x"), ("values[1]", "b@x")]),
        ({"competency": {"id": 1, "ruleconfig": None}}, [("competency[id]", "1")]),
        ({"text": ""}, [("text", "")]),
    ],
)
def test_encode_form(params: dict[str, Any], fields: list[tuple[str, str]]) -> None:
    assert encode_form(params) == fields


@pytest.mark.parametrize("params", [{"values": []}, {"c": {}}])
def test_encode_form_refuses_what_form_encoding_cannot_say(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cannot send an empty"):
        encode_form(params)


def test_encode_form_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        encode_form({"x": 1.5})


def test_outbound_models_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match="id"):
        CompetencyCreate.model_validate(
            {"id": 3, "shortname": "a", "idnumber": "a", "competencyframeworkid": 1}
        )


# -- replaying recorded answers ----------------------------------------------------------


def replay(rsps: responses.RequestsMock, name: str, *, check_fields: bool = True) -> list[Any]:
    """Answer the next request with a recorded body; collect what the client sent."""
    rec = recording(name)
    sent: list[Any] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        fields = parse_qsl(request.body, keep_blank_values=True)
        sent.append(fields)
        return rec["http_status"], {"Content-Type": "application/json"}, rec["response_raw"]

    rsps.add_callback(responses.POST, ENDPOINT, callback=callback)
    if check_fields:
        sent.append(("expected", [tuple(p) for p in rec["request_params"]]))
    return sent


def assert_sent_like_recording(
    sent: list[Any], *, ignore: tuple[str, ...] = (), raw: bool = True
) -> None:
    """The fields sent are the recorded ones; raw text asked for exactly when ``raw``
    (the first series was recorded without it; answers with evidence need it off)."""
    expected = dict(sent[0][1])
    fields = sent[1]
    assert fields[0] == ("wstoken", TOKEN)
    got = {k: v for k, v in fields if k not in ("wstoken", "moodlewssettingraw", *ignore)}
    assert (("moodlewssettingraw", "1") in fields) is raw
    assert got == {k: v for k, v in expected.items() if k not in ignore}


def test_site_info_from_recording(rsps: responses.RequestsMock) -> None:
    replay(rsps, "01_")
    client = make_client()
    info = client.site_info()
    assert info.release == "5.0.6+ (Build: 20260403)"
    assert len(info.functions) == 114
    assert "core_competency_create_competency" in info.function_names
    assert "userprivateaccesskey" not in info.model_dump()
    # The recorded service does not offer the batch function: one call per request.
    assert client.batching is False
    assert client.missing_functions(["core_competency_grade_competency", "x_y"]) == ["x_y"]


def test_scale_values_from_recording(rsps: responses.RequestsMock) -> None:
    sent = replay(rsps, "04_")
    values = make_client().run(Calls.get_scale_values(2))
    assert [(v.id, v.name) for v in values] == [(1, "Not yet competent"), (2, "Competent")]
    assert_sent_like_recording(sent)


def test_create_framework_from_recording(rsps: responses.RequestsMock) -> None:
    sent = replay(rsps, "06_")
    rec = dict(recording("06_")["request_params"])
    created = make_client().run(
        Calls.create_competency_framework(
            FrameworkCreate(
                shortname=rec["competencyframework[shortname]"],
                idnumber=rec["competencyframework[idnumber]"],
                description=rec["competencyframework[description]"],
                descriptionformat=1,
                visible=True,
                scaleid=2,
                scaleconfiguration=rec["competencyframework[scaleconfiguration]"],
                taxonomies="domain,competency,skill",
            )
        )
    )
    assert created.id == 1
    assert created.taxonomies == "domain,competency,skill"
    # The recording named the system context by id; we send level + instance.
    context = (
        "competencyframework[contextid]",
        "competencyframework[contextlevel]",
        "competencyframework[instanceid]",
    )
    assert_sent_like_recording(sent, ignore=context)
    assert ("competencyframework[contextlevel]", "system") in sent[1]


def test_duplicate_framework_idnumber_is_a_conflict(rsps: responses.RequestsMock) -> None:
    replay(rsps, "07_")
    with pytest.raises(ConflictError) as caught:
        make_client().run(
            Calls.create_competency_framework(
                FrameworkCreate(shortname="dup", idnumber="X", scaleid=2, scaleconfiguration="[]")
            )
        )
    assert caught.value.code == "invalidpersistenterror"
    assert caught.value.status == 200
    assert "already in use" in caught.value.detail


@pytest.mark.parametrize(("name", "parent"), [("08_", 0), ("09_", 1), ("10_", 0)])
def test_create_competency_from_recording(
    rsps: responses.RequestsMock, name: str, parent: int
) -> None:
    sent = replay(rsps, name)
    rec = dict(recording(name)["request_params"])
    created = make_client().run(
        Calls.create_competency(
            CompetencyCreate(
                shortname=rec["competency[shortname]"],
                idnumber=rec["competency[idnumber]"],
                description=rec["competency[description]"],
                descriptionformat=1,
                competencyframeworkid=1,
                parentid=parent,
            )
        )
    )
    assert created.parentid == parent
    assert created.ruletype is None
    assert_sent_like_recording(sent)


def test_rule_all_sent_without_ruleconfig_like_the_recording(rsps: responses.RequestsMock) -> None:
    sent = replay(rsps, "13_")
    ok = make_client().run(
        Calls.update_competency(CompetencyUpdate(id=1, ruletype=RULE_ALL, ruleoutcome=2))
    )
    assert ok is True
    assert_sent_like_recording(sent)


def test_empty_ruleconfig_refusal_is_reported(rsps: responses.RequestsMock) -> None:
    replay(rsps, "12_")
    with pytest.raises(FatalRemoteError) as caught:
        make_client().run(
            Calls.update_competency(
                CompetencyUpdate(id=1, ruletype=RULE_ALL, ruleoutcome=2, ruleconfig="")
            )
        )
    assert not isinstance(caught.value, ConflictError)
    assert caught.value.code == "invalidpersistenterror"


def test_points_rule_update_from_recording(rsps: responses.RequestsMock) -> None:
    sent = replay(rsps, "31_")
    config = dict(recording("31_")["request_params"])["competency[ruleconfig]"]
    make_client().run(
        Calls.update_competency(
            CompetencyUpdate(id=1, ruletype=RULE_POINTS, ruleoutcome=3, ruleconfig=config)
        )
    )
    assert_sent_like_recording(sent)


def test_list_competencies_from_recording(rsps: responses.RequestsMock) -> None:
    sent = replay(rsps, "18_")
    found = make_client().run(
        Calls.list_competencies({"competencyframeworkid": 1}, sort="path", order="ASC")
    )
    assert [(c.idnumber, c.parentid) for c in found] == [
        ("P-1795905284", 0),
        ("C1-1795905284", 1),
        ("C2-1795905284", 1),
    ]
    assert_sent_like_recording(sent)


def test_recorded_framework_pulls_into_the_core_model() -> None:
    framework = json.loads(recording("14_")["response_raw"])
    competencies = json.loads(recording("18_")["response_raw"])
    scale = json.loads(recording("04_")["response_raw"])
    pulled = framework_from_moodle(
        WireFramework.model_validate(framework),
        [WireCompetency.model_validate(c) for c in competencies],
        scale_items={2: [v["name"] for v in scale]},
    )
    assert pulled.key == "ADAPTER-FW-1795905284"
    assert pulled.taxonomy_levels == ("domain", "competency", "skill")
    assert [level.name for level in pulled.scale.levels] == ["Not yet competent", "Competent"]
    assert pulled.scale.default_level == "Competent"
    parent = pulled.get("P-1795905284")
    assert parent.rollup is not None
    assert parent.rollup.type == "all_children"
    assert parent.rollup.outcome.value == "complete"
    assert [c.key for c in pulled.children_of("P-1795905284")] == ["C1-1795905284", "C2-1795905284"]
    assert pulled.get("C1-1795905284").external_ids == {"moodle": "2"}


def test_grade_and_summary_from_recordings(rsps: responses.RequestsMock) -> None:
    sent = replay(rsps, "24_")
    replay(rsps, "26_", check_fields=False)
    client = make_client()
    evidence = client.run(Calls.grade_competency(3, 2, 2, "Proficient via live test"))
    assert (evidence.action, evidence.grade, evidence.note) == (3, 2, "Proficient via live test")
    assert_sent_like_recording(sent, raw=False)
    summary = client.run(Calls.user_competency_summary(3, 1))
    # The parent was read before any rating: Moodle created an empty record to answer.
    assert summary.usercompetency is not None
    assert summary.usercompetency.id == 2
    assert summary.usercompetency.grade is None


def test_rule_complete_rates_the_parent_with_the_default_item(rsps: responses.RequestsMock) -> None:
    replay(rsps, "28_", check_fields=False)
    summary = make_client().run(Calls.user_competency_summary(3, 1))
    assert summary.usercompetency is not None
    assert summary.usercompetency.grade == 2
    assert [(e.action, e.descidentifier) for e in summary.evidence] == [
        (2, "evidence_competencyrule")
    ]


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [
        ("33_", NotFoundError, "invalidrecordunknown"),
        ("34_", FatalRemoteError, "invalidpersistenterror"),
        ("35_", AuthenticationError, "invalidtoken"),
    ],
)
def test_recorded_errors_map_into_the_error_tree(
    rsps: responses.RequestsMock, name: str, error: type[Exception], code: str
) -> None:
    replay(rsps, name, check_fields=False)
    with pytest.raises(error) as caught:
        make_client().run(Calls.read_competency(999999))
    assert getattr(caught.value, "code", None) == code
    assert TOKEN not in str(caught.value)


# -- failures that are not in the recordings ---------------------------------------------


def test_empty_body_means_web_services_are_off(rsps: responses.RequestsMock) -> None:
    FakeMoodle(web_services=False).install(rsps)
    with pytest.raises(FatalRemoteError) as caught:
        make_client().site_info()
    assert caught.value.code == "webservicesdisabled"
    assert "disabled" in str(caught.value)


def test_html_answer_is_reported(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, ENDPOINT, body="<html>login</html>", status=200)
    with pytest.raises(FatalRemoteError, match="not JSON"):
        make_client().site_info()


def test_function_outside_the_service(rsps: responses.RequestsMock) -> None:
    FakeMoodle(functions={"core_webservice_get_site_info"}).install(rsps)
    with pytest.raises(PermissionDeniedError) as caught:
        make_client().run(Calls.get_scale_values(2))
    assert caught.value.code == "accessexception"
    assert "service may lack" in str(caught.value)


def test_server_errors_are_retried_for_reads_only(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, ENDPOINT, status=503)
    rsps.add(responses.POST, ENDPOINT, json=[{"id": 1, "name": "A"}])
    waits: list[float] = []
    client = make_client()
    client.transport.sleep = waits.append
    assert [v.name for v in client.run(Calls.get_scale_values(9))] == ["A"]
    assert len(waits) == 1
    rsps.add(responses.POST, ENDPOINT, status=503)
    with pytest.raises(RetriableRemoteError):
        client.run(Calls.delete_competency(4))
    assert client.requests_sent == 3


def test_unexpected_answer_shape(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, ENDPOINT, json={"not": "a list"})
    with pytest.raises(FatalRemoteError, match="unexpected answer shape"):
        make_client().run(Calls.get_scale_values(2))


def test_token_never_shows(rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.add(
        responses.POST,
        ENDPOINT,
        json={"exception": "moodle_exception", "errorcode": "x", "message": f"echo {TOKEN}"},
    )
    client = make_client()
    with pytest.raises(FatalRemoteError) as caught:
        client.run(Calls.get_scale_values(2))
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(client)
    assert TOKEN not in caplog.text
    settings = MoodleSettings(url=URL, token=TOKEN)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


def test_http_url_needs_permission() -> None:
    with pytest.raises(ConfigurationError, match="http"):
        make_client().__class__("http://moodle.test", TOKEN)
    with pytest.raises(ConfigurationError, match="token"):
        make_client().__class__(URL, "  ")


# -- batching ----------------------------------------------------------------------------


def test_batching_is_detected_and_stops_at_the_first_error(fake: FakeMoodle) -> None:
    client = make_client()
    assert client.batching is True
    result = client.run_many(
        [Calls.get_scale_values(2), Calls.get_scale_values(404), Calls.get_scale_values(1)]
    )
    assert [len(v) for v in result.values] == [2]
    assert isinstance(result.error, NotFoundError)
    assert result.error.operation == "core_competency_get_scale_values"
    # site info + one batch request; the third call never ran
    assert fake.http_requests == 2
    assert fake.calls.count("core_competency_get_scale_values") == 2


def test_batches_are_cut_to_the_batch_size(fake: FakeMoodle) -> None:
    client = make_client(batch_size=2)
    result = client.run_many([Calls.get_scale_values(2)] * 5)
    assert len(result.raise_for_error()) == 5
    assert fake.http_requests == 1 + 3


def test_without_batching_each_call_is_a_request(rsps: responses.RequestsMock) -> None:
    site = FakeMoodle(batching=False)
    site.install(rsps)
    client = make_client()
    result = client.run_many([Calls.get_scale_values(2), Calls.get_scale_values(1)])
    assert [len(v) for v in result.raise_for_error()] == [2, 3]
    assert site.http_requests == 3


def test_batching_required_but_not_offered(rsps: responses.RequestsMock) -> None:
    FakeMoodle(batching=False).install(rsps)
    with pytest.raises(ConfigurationError, match="tool_mobile_call_external_functions"):
        _ = make_client(batch=True).batching


def test_batched_arguments_are_json_with_int_booleans(fake: FakeMoodle) -> None:
    client = make_client()
    client.run_many([Calls.list_competency_frameworks(query="x")]).raise_for_error()
    body = dict(fake.bodies[-1])
    assert body["wsfunction"] == "tool_mobile_call_external_functions"
    args = json.loads(body["requests[0][arguments]"])
    assert args["onlyvisible"] == 0
    assert args["context"] == {"contextlevel": "system", "instanceid": 0}
    assert body["requests[0][settingraw]"] == "1"


def test_site_info_model_ignores_secrets() -> None:
    info = SiteInfo.model_validate(
        {"sitename": "x", "userprivateaccesskey": "secret", "functions": []}
    )
    assert "secret" not in repr(info)


def test_connect_builds_the_client_of_the_settings(rsps: responses.RequestsMock) -> None:
    FakeMoodle().install(rsps)
    settings = MoodleSettings(url=URL, token=TOKEN, batch=False, batch_size=7)
    client = connect(settings, session=requests.Session())
    assert client.batch_size == 7
    assert client.batching is False
