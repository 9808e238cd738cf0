"""The fake Moodle answers the recorded requests the way the real Moodle 5.0 did."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from comp_adapters.moodle.client import encode_form
from tests.moodle.conftest import RECORDINGS
from tests.moodle.fake_moodle import ENDPOINT, TOKEN, FakeMoodle
from tests.moodle.replay import assert_like_recording

# The recorded session, in order (search, count, manage page and user creation are
# functions the adapter does not use, so the fake leaves them out).
SEQUENCE = [
    "02_",
    "04_",
    "05_",
    "06_",
    "07_",
    "08_",
    "09_",
    "10_",
    "11_",
    "12_",
    "13_",
    "14_",
    "15_",
    "16_",
    "17_",
    "18_",
    "21_",
    "24_",
    "25_",
    "26_",
    "27_",
    "28_",
    "29_",
    "30_",
    "31_",
    "32_",
    "33_",
    "34_",
    "35_",
]


def _load(prefix: str) -> dict[str, Any]:
    path = next(RECORDINGS.glob(f"{prefix}*.json"))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def site(rsps: responses.RequestsMock) -> FakeMoodle:
    fake = FakeMoodle(batching=False)
    fake.admin_email = "admin@example.com"  # as on the site of the first series
    fake.install(rsps)
    fake.add_user("learner1795905284", fullname="Lea Learner")  # id 3, as in the recording
    return fake


def test_fake_answers_like_the_recordings(site: FakeMoodle) -> None:
    session = requests.Session()
    for prefix in SEQUENCE:
        rec = _load(prefix)
        token = "0" * 32 if prefix == "35_" else TOKEN
        fields = [("wstoken", token), *[tuple(p) for p in rec["request_params"]]]
        answer = session.post(ENDPOINT, data=fields)
        assert answer.status_code == 200
        recorded = json.loads(rec["response_raw"])
        ours = answer.json()
        assert_like_recording(recorded, ours, prefix)


def _call(site: FakeMoodle, function: str, **params: Any) -> Any:
    fields = [("wstoken", TOKEN), ("wsfunction", function), ("moodlewsrestformat", "json")]
    fields += encode_form(params)
    return requests.post(ENDPOINT, data=fields, timeout=5).json()


def test_fake_enforces_the_documented_rules(site: FakeMoodle) -> None:
    site.debugging = True  # the reasons of refusals are in debuginfo
    config = '[{"scaleid":"2"},{"id":2,"scaledefault":1,"proficient":1}]'
    fw = _call(
        site,
        "core_competency_create_competency_framework",
        competencyframework={
            "shortname": "F",
            "idnumber": "F",
            "scaleid": 2,
            "scaleconfiguration": config,
            "contextlevel": "system",
            "instanceid": 0,
        },
    )
    other = _call(
        site,
        "core_competency_create_competency_framework",
        competencyframework={
            "shortname": "G",
            "idnumber": "G",
            "scaleid": 2,
            "scaleconfiguration": config,
            "contextid": 1,
        },
    )
    # unknown keys are rejected (an id on a create)
    bad = _call(
        site,
        "core_competency_create_competency",
        competency={"id": 9, "shortname": "x", "idnumber": "x", "competencyframeworkid": fw["id"]},
    )
    assert bad["message"] == "Invalid parameter value detected"
    assert "Unexpected keys (id)" in bad["debuginfo"]
    # a required list sent empty is "only arrays accepted"
    assert (
        _call(site, "core_competency_list_competencies", filters="")["errorcode"]
        == "invalidparameter"
    )
    # framework idnumbers are unique site-wide, competency idnumbers per framework
    dup = _call(
        site,
        "core_competency_create_competency_framework",
        competencyframework={
            "shortname": "H",
            "idnumber": "F",
            "scaleid": 2,
            "scaleconfiguration": config,
            "contextid": 1,
        },
    )
    assert dup["message"] == "Error: This ID number is already in use"
    parent = _call(
        site,
        "core_competency_create_competency",
        competency={"shortname": "p", "idnumber": "p", "competencyframeworkid": fw["id"]},
    )
    assert (
        _call(
            site,
            "core_competency_create_competency",
            competency={"shortname": "p", "idnumber": "p", "competencyframeworkid": fw["id"]},
        )["errorcode"]
        == "invalidpersistenterror"
    )
    assert (
        _call(
            site,
            "core_competency_create_competency",
            competency={"shortname": "p", "idnumber": "p", "competencyframeworkid": other["id"]},
        )["idnumber"]
        == "p"
    )
    child = _call(
        site,
        "core_competency_create_competency",
        competency={
            "shortname": "c",
            "idnumber": "c",
            "competencyframeworkid": fw["id"],
            "parentid": parent["id"],
        },
    )
    assert (
        _call(
            site,
            "core_competency_update_competency",
            competency={
                "id": parent["id"],
                "ruletype": "core_competency\\competency_rule_all",
                "ruleoutcome": 2,
            },
        )
        is True
    )
    # creating a child resets the parent's rule
    _call(
        site,
        "core_competency_create_competency",
        competency={
            "shortname": "d",
            "idnumber": "d",
            "competencyframeworkid": fw["id"],
            "parentid": parent["id"],
        },
    )
    reread = _call(site, "core_competency_read_competency", id=parent["id"])
    assert (reread["ruletype"], reread["ruleoutcome"]) == (None, 0)
    # a points config that names a non-child is refused
    points = json.dumps(
        {"base": {"points": 1}, "competencies": [{"id": parent["id"], "points": 1, "required": 0}]}
    )
    assert (
        _call(
            site,
            "core_competency_update_competency",
            competency={
                "id": parent["id"],
                "ruletype": "core_competency\\competency_rule_points",
                "ruleoutcome": 2,
                "ruleconfig": points,
            },
        )["errorcode"]
        == "invalidpersistenterror"
    )
    # deletes answer false while in use
    _call(site, "core_competency_grade_competency", userid=3, competencyid=child["id"], grade=2)
    assert _call(site, "core_competency_delete_competency", id=parent["id"]) is False
    assert _call(site, "core_competency_delete_competency_framework", id=fw["id"]) is False
    # a used scale cannot change
    assert (
        _call(
            site,
            "core_competency_update_competency_framework",
            competencyframework={
                "id": fw["id"],
                "scaleid": 1,
                "scaleconfiguration": '[{"scaleid":"1"},{"id":1,"scaledefault":1,"proficient":1}]',
            },
        )["errorcode"]
        == "invalidpersistenterror"
    )
    # a hidden framework cannot be linked to a course
    site.add_course(5)
    assert (
        _call(
            site,
            "core_competency_update_competency_framework",
            competencyframework={"id": other["id"], "visible": False},
        )
        is True
    )
    hidden_comp = _call(
        site,
        "core_competency_list_competencies",
        filters=[{"column": "competencyframeworkid", "value": str(other["id"])}],
    )[0]
    assert (
        _call(
            site,
            "core_competency_add_competency_to_course",
            courseid=5,
            competencyid=hidden_comp["id"],
        )["errorcode"]
        == "codingerror"
    )
    # booleans must be 0/1, not words
    assert (
        _call(
            site,
            "core_competency_list_competency_frameworks",
            context={"contextid": 1},
            onlyvisible="true",
        )["errorcode"]
        == "invalidparameter"
    )


def _raw_call(site: FakeMoodle, function: str, *, raw: bool = True, **params: Any) -> Any:
    fields = [("wstoken", TOKEN), ("wsfunction", function), ("moodlewsrestformat", "json")]
    if raw:
        fields.append(("moodlewssettingraw", "1"))
    fields += encode_form(params)
    return requests.post(ENDPOINT, data=fields, timeout=5).json()


def _tree(site: FakeMoodle) -> dict[str, int]:
    """A framework with p -> (c1 -> g), c2 and a root s; their ids by name."""
    config = '[{"scaleid":"2"},{"id":2,"scaledefault":1,"proficient":1}]'
    fw = _raw_call(
        site,
        "core_competency_create_competency_framework",
        competencyframework={
            "shortname": "T",
            "idnumber": "T",
            "scaleid": 2,
            "scaleconfiguration": config,
            "contextid": 1,
        },
    )
    ids = {"fw": fw["id"]}
    for name, parent in (("p", None), ("c1", "p"), ("c2", "p"), ("g", "c1"), ("s", None)):
        created = _raw_call(
            site,
            "core_competency_create_competency",
            competency={
                "shortname": name,
                "idnumber": name,
                "description": 'Line one\nline "two"',
                "descriptionformat": 2,
                "competencyframeworkid": fw["id"],
                "parentid": ids[parent] if parent else 0,
            },
        )
        ids[name] = created["id"]
    return ids


def _set_points(site: FakeMoodle, parent: int, entries: list[dict[str, Any]], base: Any = 1) -> Any:
    return _raw_call(
        site,
        "core_competency_update_competency",
        competency={
            "id": parent,
            "ruletype": "core_competency\\competency_rule_points",
            "ruleoutcome": 2,
            "ruleconfig": json.dumps({"base": {"points": base}, "competencies": entries}),
        },
    )


def test_fake_validates_points_rules_like_moodle(site: FakeMoodle) -> None:
    ids = _tree(site)

    def entry(name: str, required: Any = 0, points: Any = 1) -> dict[str, Any]:
        return {"id": ids[name], "points": points, "required": required}

    refused = "invalidpersistenterror"
    # only existing DIRECT children may be named
    assert _set_points(site, ids["p"], [entry("g")])["errorcode"] == refused  # grandchild
    assert _set_points(site, ids["p"], [entry("s")])["errorcode"] == refused  # not a child
    missing = [{"id": 999, "points": 1, "required": 0}]
    assert _set_points(site, ids["p"], missing)["errorcode"] == refused
    assert _set_points(site, ids["p"], [entry("c1"), entry("c1")])["errorcode"] == refused
    assert _set_points(site, ids["p"], [entry("c1")], base=2)["errorcode"] == refused
    # PHP's validate_param: false is not a PARAM_BOOL, 0 and true are; "2" is a PARAM_INT
    assert _set_points(site, ids["p"], [entry("c1", required=False)])["errorcode"] == refused
    assert _set_points(site, ids["p"], [entry("c1", points=1.5)])["errorcode"] == refused
    assert _set_points(site, ids["p"], [entry("c1", required=True), entry("c2")]) is True
    assert _set_points(site, ids["p"], [entry("c1", points="2")], base="2") is True
    # a config without a rule type is refused ("Config but no rules")
    no_rule = _raw_call(
        site,
        "core_competency_update_competency",
        competency={"id": ids["s"], "ruleconfig": "null"},
    )
    assert no_rule["errorcode"] == refused


def test_fake_requires_keys_and_answers_raw_text_only_when_asked(site: FakeMoodle) -> None:
    ids = _tree(site)
    missing = _raw_call(
        site,
        "core_competency_create_competency",
        competency={"shortname": "x", "competencyframeworkid": ids["fw"]},
    )
    assert "debuginfo" not in missing  # only with site debugging on (recordings 36-39)
    site.debugging = True
    missing = _raw_call(
        site,
        "core_competency_create_competency",
        competency={"shortname": "x", "competencyframeworkid": ids["fw"]},
    )
    assert "Missing required key in single structure: idnumber" in missing["debuginfo"]
    raw = _raw_call(site, "core_competency_read_competency", id=ids["p"])
    assert (raw["description"], raw["descriptionformat"]) == ('Line one\nline "two"', 2)
    shown = _raw_call(site, "core_competency_read_competency", raw=False, id=ids["p"])
    assert shown["descriptionformat"] == 1
    assert shown["description"] == "Line one<br />\nline &quot;two&quot;"


def test_fake_formats_short_names_only_outside_raw_mode(site: FakeMoodle) -> None:
    """format_string (lib/weblib.php) without raw mode: a bare & is escaped, tags are
    stripped and < > escaped; raw mode answers what is stored (recording 40)."""
    ids = _tree(site)
    _raw_call(
        site,
        "core_competency_update_competency",
        competency={"id": ids["s"], "shortname": "Q&A < R", "descriptionformat": 2},
    )
    raw = _raw_call(site, "core_competency_read_competency", id=ids["s"])
    shown = _raw_call(site, "core_competency_read_competency", raw=False, id=ids["s"])
    assert (raw["shortname"], shown["shortname"]) == ("Q&A < R", "Q&amp;A &lt; R")


def test_fake_lookups_fail_whole_on_a_value_moodle_cleans(site: FakeMoodle) -> None:
    """core_user_get_users_by_field cleans every value with the field's type and refuses
    the whole call when one changes (user/externallib.php); matches are exact."""
    site.add_user("ann", email="ann@example.com")
    found = _call(site, "core_user_get_users_by_field", field="email", values=["ann@example.com"])
    assert [u["username"] for u in found] == ["ann"]
    assert (
        _call(site, "core_user_get_users_by_field", field="email", values=["Ann@example.com"]) == []
    )
    refused = _call(site, "core_user_get_users_by_field", field="username", values=["ann", "Ann"])
    assert refused["errorcode"] == "invalidparameter"
