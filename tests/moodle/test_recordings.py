"""Recordings 36-50 of a real Moodle 5.0, replayed against the fake and the client.

The fake is set up as the recorded site was (framework 44 with scale 3, three
competencies before the recorded ones, user 3, the id counters where the site's were),
then every recorded request is sent as recorded: the fake must answer with the same
HTTP status and the same answer (errors field for field, answers in every recorded
field). Then the client and the adapter are checked on the same answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from comp_adapters.errors import ConflictError, FatalRemoteError, NotFoundError
from comp_adapters.moodle.client import Calls, MoodleClient
from comp_adapters.moodle.wire import CompetencyCreate, CompetencyUpdate
from tests.moodle.conftest import FOUR_LEVELS, RECORDINGS, make_client
from tests.moodle.fake_moodle import ENDPOINT, TOKEN, URL, FakeMoodle
from tests.moodle.replay import assert_like_recording

SECOND_SERIES = [f"{n}_" for n in range(36, 51)]
REC_FW_CONFIG = (
    '[{"scaleid":"3"},{"id":3,"scaledefault":1,"proficient":1},'
    '{"id":4,"scaledefault":0,"proficient":1}]'
)


def load(prefix: str) -> dict[str, Any]:
    path = next(RECORDINGS.glob(f"{prefix}*.json"))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def recorded_site(rsps: responses.RequestsMock) -> FakeMoodle:
    """The fake as the recorded site stood before request 36."""
    site = FakeMoodle(scales={3: list(FOUR_LEVELS)})
    site.install(rsps)
    assert (
        site.add_user("amara.okafor", email="amara.okafor@example.org", fullname="Amara Okafor")
        == 3
    )
    site.ids.update(framework=43, competency=11332, usercompetency=312, evidence=211)
    framework = site.dispatch(
        "core_competency_create_competency_framework",
        {
            "competencyframework": {
                "shortname": "REC-FW",
                "idnumber": "REC-FW",
                "description": "plain",
                "scaleid": 3,
                "scaleconfiguration": REC_FW_CONFIG,
                "contextid": 1,
            }
        },
    )
    assert framework["id"] == 44
    for n in range(3):
        site.dispatch(
            "core_competency_create_competency",
            {
                "competency": {
                    "shortname": f"Earlier {n}",
                    "idnumber": f"REC2-{n}",
                    "competencyframeworkid": 44,
                }
            },
        )
    return site


def send_as_recorded(rec: dict[str, Any]) -> requests.Response:
    fields = [(k, TOKEN if k == "wstoken" else v) for k, v in rec["request_params"]]
    return requests.post(ENDPOINT, data=fields, timeout=5)


def test_the_fake_answers_the_second_series_like_moodle(rsps: responses.RequestsMock) -> None:
    site = recorded_site(rsps)
    for prefix in SECOND_SERIES:
        rec = load(prefix)
        if prefix == "50_":
            site.web_services = False
        answer = send_as_recorded(rec)
        assert answer.status_code == rec["http_status"], prefix
        if rec["response_raw"] == "":
            assert answer.text == "", prefix
            continue
        recorded, ours = json.loads(rec["response_raw"]), answer.json()
        if rec["is_moodle_exception"]:
            assert ours == recorded, prefix  # the error exactly, no debuginfo
        else:
            assert_like_recording(recorded, ours, prefix)
    # What the database held afterwards: the rating 44 failed to answer was stored.
    stored = site.user_competencies[(3, 11338)]
    assert (stored["grade"], stored["proficiency"]) == (4, True)
    assert [e["grade"] for e in site.evidence if e["usercompetencyid"] == stored["id"]] == [3, 4]
    assert not any(
        c["idnumber"] in ("REC2-AMP", "REC2-LT", "REC2-SUP") for c in site.competencies.values()
    )


@pytest.fixture
def recorded(rsps: responses.RequestsMock) -> FakeMoodle:
    site = recorded_site(rsps)
    for prefix in SECOND_SERIES[:6]:  # 36-41: the competencies the later ones use
        send_as_recorded(load(prefix))
    return site


def test_a_partial_update_keeps_the_format_only_when_it_is_sent(recorded: FakeMoodle) -> None:
    """42/43: an update without descriptionformat resets it to 1; with it, it is kept."""
    client = make_client()
    client.run(Calls.update_competency(CompetencyUpdate(id=11338, shortname="Renamed")))
    assert recorded.competencies[11338]["descriptionformat"] == 1
    client.run(Calls.update_competency(CompetencyUpdate(id=11338, descriptionformat=2)))
    client.run(
        Calls.update_competency(CompetencyUpdate(id=11338, shortname="Again", descriptionformat=2))
    )
    assert recorded.competencies[11338]["descriptionformat"] == 2


def test_the_client_rates_and_reads_without_raw_mode(recorded: FakeMoodle) -> None:
    """44-47: grading and the summary work once ratings exist, because the client asks
    for raw text only where answers are compared."""
    client = make_client(batch=False)
    for grade in (3, 4):
        evidence = client.run(Calls.grade_competency(3, 11338, grade, "note"))
        assert evidence.grade == grade
    summary = client.run(Calls.user_competency_summary(3, 11338))
    assert summary.usercompetency is not None
    assert summary.usercompetency.grade == 4
    assert [e.grade for e in summary.evidence] == [4, 3]
    sent = [dict(fields) for fields in recorded.bodies[-3:]]
    assert all("moodlewssettingraw" not in fields for fields in sent)
    batched = make_client(batch=True).run_many([Calls.user_competency_summary(3, 11338)])
    assert batched.error is None
    assert ("requests[0][settingraw]", "0") in recorded.bodies[-1]


def test_batched_errors_keep_their_code(recorded: FakeMoodle) -> None:
    """48: a failed call's exception is a JSON string with message and errorcode; 49: the
    batch stops there, later calls get no answer."""
    client = make_client(batch=True)
    result = client.run_many(
        [
            Calls.create_competency(
                CompetencyCreate(shortname="Dup", idnumber="REC2-PLAIN", competencyframeworkid=44)
            ),
            Calls.read_competency(11338),
        ]
    )
    assert result.values == []
    assert isinstance(result.error, ConflictError)
    assert result.error.code == "invalidpersistenterror"
    assert "already in use" in str(result.error)
    assert "{" not in str(result.error)  # no dict shown
    stopped = client.run_many([Calls.read_competency(999999999), Calls.read_competency(11338)])
    assert stopped.values == []
    assert isinstance(stopped.error, NotFoundError)
    assert stopped.error.code == "invalidrecordunknown"
    answer = json.loads(recorded_answer_of_last_batch(recorded))
    assert len(answer["responses"]) == 1


def recorded_answer_of_last_batch(site: FakeMoodle) -> str:
    """The fake's answer to the last batch, sent again (answers are not kept)."""
    return requests.post(ENDPOINT, data=site.bodies[-1], timeout=5).text


def test_a_function_outside_the_service_is_named_in_a_batch(recorded: FakeMoodle) -> None:
    """tool_mobile's answer for a call outside the service is {"errorcode":
    "accessexception", "module": "webservice"}: shown as words with the hint, not as a
    dict (the raw dict of issue 10, item 2)."""
    recorded.functions.discard("core_user_get_users_by_field")
    result = make_client(batch=True).run_many([Calls.get_users_by_field("email", ["a@b.cd"])])
    assert result.error is not None
    assert result.error.code == "accessexception"
    assert "Access control exception" in str(result.error)
    assert "errorcode" not in str(result.error)


def test_web_services_off_is_one_clear_line(rsps: responses.RequestsMock) -> None:
    """50: HTTP 403 and an empty body."""
    FakeMoodle(web_services=False).install(rsps)
    with pytest.raises(FatalRemoteError) as caught:
        make_client().run(Calls.get_site_info())
    message = str(caught.value)
    assert "web services or the REST protocol are disabled" in message
    assert "HTTP 403" in message
    assert "\n" not in message


def test_a_url_that_is_not_the_site_root_is_one_clear_line(rsps: responses.RequestsMock) -> None:
    page = "<!DOCTYPE html>\n<html>\n<head><title>404 Not Found</title></head>\n</html>\n"
    rsps.add(responses.POST, f"{URL}/moodle/webservice/rest/server.php", status=404, body=page)
    client = MoodleClient(f"{URL}/moodle", TOKEN, session=requests.Session())
    with pytest.raises(NotFoundError) as caught:
        client.run(Calls.get_site_info())
    message = str(caught.value)
    assert "no Moodle web service at this URL" in message
    assert "HTTP 404" in message
    assert "\n" not in message
    assert "DOCTYPE" not in message
