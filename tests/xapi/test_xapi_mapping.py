"""Pure tests of statements -> evidence, proficiency -> statements, and the wire models."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import MappingError, ValidationError
from comp_adapters.examples import example_dir
from comp_adapters.native import load_framework
from comp_adapters.xapi import mapping as mapping_module
from comp_adapters.xapi import wire
from comp_adapters.xapi.mapping import (
    BAD,
    EVIDENCE,
    SKIP,
    VOID,
    IdentityConfig,
    MappingConfig,
    StatementMapper,
    VerbRule,
    mapping_from_data,
    mbox_sha1sum,
    parse_instant,
    proficiency_statement,
    proficiency_statement_id,
    score_of,
)
from comp_adapters.xapi.mapping_file import load_mapping
from tests.xapi.conftest import account, statement, void

HOME = "https://lms.example.org"
QUIZ = "https://courses.example.org/quiz/1"
CMI5 = {"objectType": "Activity", "id": wire.CMI5_CATEGORY}
CONFIG = mapping_from_data(
    {
        "identity": {
            "account_home_pages": [HOME],
            "learners": [
                {"learner": "carla", "mbox": "mailto:Carla@Example.ORG"},
                {"learner": "dev", "openid": "https://id.example.org/dev"},
                {"learner": "eve", "account": {"homePage": "https://other.org", "name": "e1"}},
                {"learner": "fay", "mbox_sha1sum": "A" * 40},
            ],
        },
        "activities": [
            {"id": QUIZ, "competencies": ["quiz"]},
            {"prefix": "https://courses.example.org/sim/", "competencies": ["sim"]},
            {
                "prefix": "https://courses.example.org/graded/",
                "competencies": ["graded"],
                "when": {"https://example.org/ext/mode": "graded"},
            },
            {
                "id": "https://courses.example.org/project",
                "competencies": ["project"],
                "verbs": ["http://adlnet.gov/expapi/verbs/completed"],
                "kind": "project_artifact",
            },
            {
                "id": "https://courses.example.org/au/7",
                "competencies": ["au7"],
                "mastery_score": 0.8,
                "move_on": "Passed",
            },
        ],
        "competency_iris": {"https://competencies.example.org/listening": "comm.listening"},
        "competency_iri_base": "https://competencies.example.org/cs/",
        "competency_extension": "https://example.org/ext/competency",
    }
)


def run(item: Any, config: MappingConfig = CONFIG) -> tuple[str, Any]:
    return StatementMapper(config).map(item)


def one(item: Any, config: MappingConfig = CONFIG) -> Evidence:
    kind, value = run(item, config)
    assert kind == EVIDENCE, value
    assert len(value) == 1
    evidence: Evidence = value[0]
    return evidence


@pytest.mark.parametrize(
    ("verb", "result", "kind", "success", "score"),
    [
        ("passed", {"score": {"scaled": 0.9}}, EvidenceKind.ASSESSMENT, True, 0.9),
        ("https://adlnet.gov/expapi/verbs/passed", {}, EvidenceKind.ASSESSMENT, True, None),
        ("failed", {"score": {"raw": 3, "min": 0, "max": 10}}, EvidenceKind.ASSESSMENT, False, 0.3),
        ("completed", None, EvidenceKind.COURSE_COMPLETION, True, None),
        ("mastered", None, EvidenceKind.ASSESSMENT, True, None),
        ("scored", {"score": {"scaled": 0.4}}, EvidenceKind.ASSESSMENT, None, 0.4),
        (
            "scored",
            {"score": {"scaled": 0.4}, "success": False},
            EvidenceKind.ASSESSMENT,
            False,
            0.4,
        ),
        (
            "https://w3id.org/xapi/adl/verbs/satisfied",
            None,
            EvidenceKind.COURSE_COMPLETION,
            True,
            None,
        ),
        ("http://w3id.org/xapi/adl/verbs/waived", None, EvidenceKind.ATTESTATION, True, None),
        ("https://w3id.org/xapi/tla/verbs/achieved", None, EvidenceKind.ATTESTATION, True, None),
        ("https://w3id.org/xapi/tla/verbs/revoked", None, EvidenceKind.CERTIFICATION, False, None),
        ("http://id.tincanapi.com/verb/earned", None, EvidenceKind.CERTIFICATION, True, None),
        ("passed", {"success": False}, EvidenceKind.ASSESSMENT, False, None),
    ],
)
def test_verbs_give_kind_and_verdict(
    verb: str, result: Any, kind: EvidenceKind, success: bool | None, score: float | None
) -> None:
    evidence = one(statement(verb, result=result))
    assert (evidence.kind, evidence.success, evidence.score) == (kind, success, score)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (statement("experienced"), "verb is no evidence"),
        (statement("answered", scaled=1.0), "verb is no evidence"),
        (statement(activity="https://elsewhere.org/x"), "no competency for the activity"),
        (statement(actor=account("zed", "https://unknown.org")), "unknown learner"),
        (statement(object={"objectType": "SubStatement"}), "object is a SubStatement"),
        (statement("scored"), "no result (score or success)"),
        (
            statement(context={"extensions": {wire.CMI5_LAUNCH_MODE_EXT: "Review"}}),
            "cmi5 launchMode Review carries no judgement",
        ),
        (
            statement(activity="https://courses.example.org/graded/a"),
            "no competency for the activity",
        ),
        (
            statement("passed", activity="https://courses.example.org/project"),
            "no competency for the activity",
        ),
        (
            statement(
                "passed",
                result={"success": True, "extensions": {wire.EXPLANATION_EXT: "computed"}},
            ),
            "computed proficiency statement",
        ),
    ],
)
def test_statements_that_match_nothing_are_skipped_with_a_reason(item: Any, reason: str) -> None:
    assert run(item) == (SKIP, reason)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ([], None),
        ({**statement(), "actor": None}, "actor"),
        ({k: v for k, v in statement().items() if k != "actor"}, "actor"),
        ({k: v for k, v in statement().items() if k != "verb"}, "verb"),
        ({**statement(), "verb": {"display": {}}}, "verb.id"),
        ({k: v for k, v in statement().items() if k != "object"}, "object"),
        ({**statement(), "id": 7}, "id"),
        ({**statement(), "timestamp": "yesterday"}, "timestamp"),
        ({**void("x"), "object": {"objectType": "Activity", "id": "x"}}, "object"),
    ],
)
def test_bad_statements_are_reported_with_the_field(item: Any, field: str | None) -> None:
    kind, (message, where) = run(item)
    assert kind == BAD
    assert where == field
    assert message


def test_voiding_statement_names_its_target() -> None:
    assert run(void("1f2e")) == (VOID, "1f2e")
    https_void = {**void("1f2e"), "verb": {"id": "https://adlnet.gov/expapi/verbs/voided"}}
    assert run(https_void) == (VOID, "1f2e")


@pytest.mark.parametrize(
    ("actor", "learner"),
    [
        (account("ann"), "ann"),
        ({"mbox": "mailto:Carla@example.org"}, "carla"),
        ({"mbox": "mailto:Carla@EXAMPLE.org"}, "carla"),
        ({"mbox_sha1sum": mbox_sha1sum("mailto:Carla@example.org")}, "carla"),
        ({"mbox_sha1sum": "a" * 40}, "fay"),
        ({"openid": "https://id.example.org/dev"}, "dev"),
        (account("e1", "https://other.org"), "eve"),
    ],
)
def test_every_ifi_maps_to_a_learner(actor: dict[str, Any], learner: str) -> None:
    assert one(statement(actor=actor)).learner == learner


def test_unknown_actors_can_be_kept_under_their_ifi() -> None:
    config = CONFIG.model_copy(update={"identity": IdentityConfig(unknown="ifi")})
    assert one(statement(actor={"mbox": "mailto:x@Y.org"}), config).learner == "mbox:x@y.org"
    assert one(statement(actor=account("z", "https://h")), config).learner == "account:https://h|z"


def test_competencies_from_rules_iris_context_and_extensions() -> None:
    graded = statement(
        activity="https://courses.example.org/graded/a",
        context={"extensions": {"https://example.org/ext/mode": "graded"}},
    )
    assert one(graded).competency == "graded"
    assert one(statement(activity="https://courses.example.org/sim/9")).competency == "sim"
    tla = statement(
        "https://w3id.org/xapi/tla/verbs/achieved",
        object={
            "objectType": "Activity",
            "id": "https://competencies.example.org/listening",
            "definition": {"type": wire.TLA_COMPETENCY_TYPE},
        },
    )
    assert one(tla).competency == "comm.listening"
    by_base = statement(activity="https://competencies.example.org/cs/ts.diagnosis")
    assert one(by_base).competency == "ts.diagnosis"
    context = statement(
        context={
            "contextActivities": {
                "grouping": {"id": "https://competencies.example.org/listening"},
                "other": [{"id": "https://competencies.example.org/cs/comm.written"}],
            },
            "extensions": {"https://example.org/ext/competency": ["ts.escalation", "bad key"]},
        }
    )
    kind, made = run(context)
    assert kind == EVIDENCE
    assert [e.competency for e in made] == [
        "quiz",
        "comm.listening",
        "comm.written",
        "ts.escalation",
    ]
    assert next(e.id for e in made) == f"xapi:{context['id']}:quiz"
    project = statement("completed", activity="https://courses.example.org/project")
    assert one(project).kind == EvidenceKind.PROJECT_ARTIFACT


def test_rules_that_do_not_match_the_verb_lend_nothing_to_the_statement() -> None:
    """The project rule only holds for ``completed``: a ``passed`` on the same activity
    whose competency comes from the context is an assessment, not a project artifact."""
    passed = statement(
        "passed",
        activity="https://courses.example.org/project",
        context={
            "contextActivities": {
                "grouping": [{"id": "https://competencies.example.org/listening"}]
            }
        },
    )
    evidence = one(passed)
    assert (evidence.competency, evidence.kind) == ("comm.listening", EvidenceKind.ASSESSMENT)
    completed = {**passed, "verb": {"id": wire.VERB_COMPLETED}}
    kind, made = run(completed)
    assert kind == EVIDENCE
    assert [(e.competency, e.kind) for e in made] == [
        ("project", EvidenceKind.PROJECT_ARTIFACT),
        ("comm.listening", EvidenceKind.PROJECT_ARTIFACT),
    ]


def test_voiding_is_never_evidence_whatever_the_verb_table_says() -> None:
    config = CONFIG.model_copy(
        update={
            "add_verbs": (
                VerbRule(verbs=(wire.VERB_VOIDED,), kind=EvidenceKind.OTHER, success=True),
            )
        }
    )
    assert run(void("1f2e"), config) == (VOID, "1f2e")


def test_granted_competency_learner_is_the_object() -> None:
    granted = statement(
        "https://w3id.org/xapi/tla/verbs/conferred",
        actor=account("registrar", "https://registry.org"),
        object={"objectType": "Agent", "account": {"homePage": HOME, "name": "ann"}},
        context={
            "contextActivities": {
                "grouping": [{"id": "https://competencies.example.org/listening"}]
            }
        },
    )
    evidence = one(granted)
    assert (evidence.learner, evidence.competency, evidence.kind) == (
        "ann",
        "comm.listening",
        EvidenceKind.CERTIFICATION,
    )


def test_tla_confidence_sign_is_the_verdict() -> None:
    asserted = statement(
        "https://w3id.org/xapi/tla/verbs/asserted",
        context={"extensions": {wire.TLA_CONFIDENCE_EXT: -0.5}},
    )
    assert one(asserted).success is False


def _cmi5(verb: str, *, au: str = QUIZ, reg: str = "r1", **kw: Any) -> dict[str, Any]:
    extensions = kw.pop("extensions", {})
    return statement(
        verb,
        activity=au,
        context={
            "registration": reg,
            "contextActivities": {"category": [CMI5]},
            "extensions": extensions,
        },
        **kw,
    )


def test_cmi5_mastery_score_judges_the_scaled_score() -> None:
    ext = {wire.CMI5_MASTERY_SCORE_EXT: 0.86}
    assert one(_cmi5("passed", scaled=0.88, extensions=ext)).success is True
    # A "passed" below the masteryScore breaks cmi5's rule: the score decides.
    assert one(_cmi5("passed", scaled=0.8, extensions=ext)).success is False
    # From the activity's configured launch data.
    au7 = "https://courses.example.org/au/7"
    assert one(_cmi5("scored", au=au7, scaled=0.79)).success is False
    assert one(_cmi5("scored", au=au7, scaled=0.8)).success is True


def test_cmi5_move_on_decides_which_verdicts_count() -> None:
    mapper = StatementMapper(CONFIG)
    launched = _cmi5("launched", extensions={wire.CMI5_MOVE_ON_EXT: "Completed"})
    assert mapper.map(launched) == (SKIP, "verb is no evidence")
    assert mapper.map(_cmi5("passed", scaled=0.9)) == (
        SKIP,
        "cmi5 moveOn Completed: passed does not count",
    )
    assert mapper.map(_cmi5("completed"))[0] == EVIDENCE
    # Another registration has no launch data: everything counts.
    assert mapper.map(_cmi5("passed", reg="r2"))[0] == EVIDENCE
    # Configured moveOn of an AU: Passed ignores completed.
    au7 = "https://courses.example.org/au/7"
    assert (
        mapper.map(_cmi5("completed", au=au7))[1] == "cmi5 moveOn Passed: completed does not count"
    )
    # NotApplicable: no verdict counts; statements outside the cmi5 category are unaffected.
    na = {wire.CMI5_MOVE_ON_EXT: "NotApplicable"}
    assert mapper.map(_cmi5("passed", extensions=na))[0] == SKIP
    assert mapper.map(statement("passed", context={"extensions": na}))[0] == EVIDENCE


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ({"scaled": 0.25}, 0.25),
        ({"scaled": -0.5}, 0.0),
        ({"scaled": 1}, 1.0),
        ({"raw": 5, "min": 0, "max": 20}, 0.25),
        ({"raw": 5}, None),
        ({"raw": 5, "min": 10, "max": 10}, None),
        ({"raw": 30, "min": 0, "max": 20}, 1.0),
        ("0.5", None),
        ({"scaled": True}, None),
    ],
)
def test_score_from_scaled_else_raw_min_max(score: Any, expected: float | None) -> None:
    assert score_of(score) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T10:00:00.123+01:00", datetime(2026, 1, 5, 9, 0, 0, 123000, tzinfo=UTC)),
        ("2026-01-05T09:00:00Z", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T09:00:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("not a time", None),
        (None, None),
    ],
)
def test_instants_are_utc(text: Any, expected: datetime | None) -> None:
    assert parse_instant(text) == expected


def assert_same_as_validated(evidence: Evidence) -> None:
    """``evidence`` (built without validation) is exactly what validation would build."""
    given = {name: evidence.__dict__[name] for name in evidence.model_fields_set}
    validated = Evidence.model_validate(given)
    assert evidence == validated
    assert list(evidence.__dict__) == list(validated.__dict__)
    for name, value in validated.__dict__.items():
        assert type(evidence.__dict__[name]) is type(value), name
        assert evidence.__dict__[name] == value, name
    assert evidence.model_fields_set == validated.model_fields_set
    assert evidence.model_dump_json() == validated.model_dump_json()
    assert evidence.__pydantic_extra__ == validated.__pydantic_extra__
    assert evidence.__pydantic_private__ == validated.__pydantic_private__


def test_the_fast_evidence_builder_sets_fields_of_the_model() -> None:
    assert set(Evidence.model_fields) >= mapping_module._FIELDS_SET
    assert list(one(statement()).__dict__) == list(Evidence.model_fields)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
_INSTANTS = st.sampled_from(
    [
        "2026-01-05T09:00:00.000Z",
        "2026-01-05T10:00:00+01:00",
        "2026-01-05T09:00:00",
        "2026-01-05T09:00:00.123456789Z",
        "2026-01-05",
        "2026-01-05T09:00:00-00:00",
        "yesterday",
        "",
    ]
) | st.datetimes(timezones=st.timezones()).map(lambda value: value.isoformat())
_PATHS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    (("id",), st.sampled_from([None, "", 7, "s-1"])),
    (("actor",), st.sampled_from([account("ann"), {"mbox": "mailto:Carla@EXAMPLE.org"}, {}, 5])),
    (("actor", "account", "name"), st.text(max_size=300) | _JSON),
    (
        ("verb", "id"),
        st.sampled_from(
            [
                f"{wire.ADL_VERBS}{v}"
                for v in ("passed", "failed", "completed", "scored", "launched", "voided")
            ]
            + ["https://w3id.org/xapi/tla/verbs/asserted", "https://adlnet.gov/expapi/verbs/passed"]
        ),
    ),
    (
        ("object", "id"),
        st.sampled_from(
            [
                QUIZ,
                "https://courses.example.org/graded/x",
                "https://courses.example.org/project",
                "https://courses.example.org/au/7",
                "https://competencies.example.org/cs/ok.key",
                "https://competencies.example.org/cs/bad key",
            ]
        )
        | _JSON,
    ),
    (
        ("object", "objectType"),
        st.sampled_from([None, "Activity", "Agent", "SubStatement", "StatementRef"]) | _JSON,
    ),
    (("result", "score", "scaled"), st.floats() | _JSON),
    (("result", "score", "raw"), st.floats() | st.integers(-5, 200) | _JSON),
    (("result", "score", "min"), st.sampled_from([0, 10, -1.5])),
    (("result", "score", "max"), st.sampled_from([100, 10, 0.5])),
    (("result", "success"), _JSON),
    (("result", "extensions"), st.sampled_from([{}, {wire.EXPLANATION_EXT: "x"}])),
    (("context", "registration"), _JSON | st.just("r1")),
    (("context", "extensions", wire.CMI5_MASTERY_SCORE_EXT), st.floats(0, 1) | _JSON),
    (
        ("context", "extensions", wire.CMI5_MOVE_ON_EXT),
        st.sampled_from(["Passed", "Completed", "NotApplicable", "CompletedOrPassed"]) | _JSON,
    ),
    (
        ("context", "extensions", wire.CMI5_LAUNCH_MODE_EXT),
        st.sampled_from(["Normal", "Review"]) | _JSON,
    ),
    (("context", "extensions", wire.TLA_CONFIDENCE_EXT), st.floats() | _JSON),
    (
        ("context", "extensions", "https://w3id.org/xapi/comp/contextextensions/expires"),
        _INSTANTS | _JSON,
    ),
    (
        ("context", "extensions", "https://example.org/ext/competency"),
        st.lists(st.text(max_size=12), max_size=3) | _JSON,
    ),
    (
        ("context", "extensions", "https://example.org/ext/mode"),
        st.sampled_from(["graded", "other"]),
    ),
    (
        ("context", "contextActivities", "grouping"),
        st.sampled_from(
            [
                [{"id": "https://competencies.example.org/listening"}],
                {"id": "https://competencies.example.org/cs/x.y"},
            ]
        )
        | _JSON,
    ),
    (("context", "contextActivities", "category"), st.sampled_from([[CMI5], CMI5, []]) | _JSON),
    (("timestamp",), _INSTANTS | _JSON),
    (("stored",), _INSTANTS | _JSON),
]


def _put(item: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        if type(item.get(name)) is not dict:
            item[name] = {}
        item = item[name]
    item[path[-1]] = value


@st.composite
def _statements(draw: st.DrawFn) -> dict[str, Any]:
    item = statement(
        draw(st.sampled_from(["passed", "failed", "completed", "scored"])),
        scaled=draw(st.none() | st.floats(0, 1)),
        stored="2026-01-06T00:00:00Z",
    )
    for index in draw(st.lists(st.integers(0, len(_PATHS) - 1), max_size=6)):
        path, values = _PATHS[index]
        _put(item, path, draw(values))
    return item


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_statements(), min_size=1, max_size=3))
def test_any_statement_maps_without_raising_to_evidence_equal_to_validated(
    items: list[dict[str, Any]],
) -> None:
    mapper = StatementMapper(CONFIG)  # the launches remembered carry over between items
    for item in items:
        kind, value = mapper.map(item)
        assert kind in (EVIDENCE, VOID, SKIP, BAD)
        if kind == EVIDENCE:
            assert value
            for evidence in value:
                assert_same_as_validated(evidence)


def test_fast_evidence_equals_fully_validated_evidence() -> None:
    items = [
        statement(scaled=0.5, stored="2026-01-06T00:00:00Z"),
        statement(
            "failed",
            result={"score": {"raw": 1, "min": 0, "max": 4}},
            context={
                "extensions": {
                    "https://w3id.org/xapi/comp/contextextensions/expires": "2027-01-01T00:00:00Z"
                }
            },
        ),
        statement("completed", actor={"openid": "https://id.example.org/dev"}),
    ]
    for item in items:
        kind, made = run(item)
        assert kind == EVIDENCE
        for evidence in made:
            assert_same_as_validated(evidence)
            assert evidence.model_copy(update={"voided": True}).voided


def test_evidence_of_several_competencies_are_separate_objects() -> None:
    # One statement, three competencies: each evidence has its own fields (the builder
    # copies the first one's dict for the others, so none may see another's id).
    grouping = [
        {"id": "https://competencies.example.org/listening"},
        {"id": "https://competencies.example.org/cs/x.y"},
    ]
    item = statement(scaled=0.5, context={"contextActivities": {"grouping": grouping}})
    kind, made = run(item)
    assert kind == EVIDENCE
    assert [e.competency for e in made] == ["quiz", "comm.listening", "x.y"]
    assert [e.id for e in made] == [f"xapi:{item['id']}:{e.competency}" for e in made]
    assert len({id(e.__dict__) for e in made}) == len({id(e.model_fields_set) for e in made}) == 3
    for evidence in made:
        assert_same_as_validated(evidence)
        assert evidence.score == 0.5
        assert evidence.source_id == item["id"]


def test_missing_statement_id_gets_a_stable_content_id() -> None:
    item = {k: v for k, v in statement().items() if k != "id"}
    first, second = one(item), one(json.loads(json.dumps(item)))
    assert first.id == second.id
    assert first.source_id == second.source_id


def test_mapping_files_json_and_toml(tmp_path: Path) -> None:
    toml = tmp_path / "mapping.toml"
    toml.write_text(
        'source_system = "lrs"\n[identity]\naccount_home_pages = ["https://lms"]\n'
        '[[activities]]\nprefix = "https://c/"\ncompetencies = ["x"]\n'
    )
    assert load_mapping(toml).activities[0].competencies == ("x",)
    bad = tmp_path / "mapping.json"
    bad.write_text('{"activities": [{"competencies": []}], "colour": 1}')
    with pytest.raises(ValidationError) as caught:
        load_mapping(bad)
    text = str(caught.value)
    assert "mapping.json" in text
    assert "activities.0.competencies" in text
    assert "colour" in text
    broken = tmp_path / "broken.toml"
    broken.write_text("[identity\n")
    with pytest.raises(ValidationError, match=r"broken\.toml"):
        load_mapping(broken)


def _proficiency(**changes: Any) -> Proficiency:
    base = {
        "learner": "ann",
        "competency": "ts.escalation",
        "score": 3.0,
        "level": "proficient",
        "proficient": True,
        "method": "latest",
        "as_of": datetime(2026, 2, 1, tzinfo=UTC),
        "explanation": "latest of 2 results: 3 points -> Proficient (proficient)",
    }
    return Proficiency.model_validate({**base, **changes})


def test_proficiency_statement_is_deterministic_and_strict() -> None:
    config = MappingConfig(
        identity=IdentityConfig(push_home_page=HOME),
        competency_iri_base="https://competencies.example.org/cs/",
    )
    first = proficiency_statement(_proficiency(), config=config)
    assert first == proficiency_statement(_proficiency(), config=config)
    assert first.id == proficiency_statement_id(_proficiency())
    assert first.id != proficiency_statement_id(_proficiency(level="expert"))
    assert first.id != proficiency_statement_id(
        _proficiency(as_of=datetime(2026, 2, 2, tzinfo=UTC))
    )
    data = first.to_json()
    assert data["actor"] == {"objectType": "Agent", "account": {"homePage": HOME, "name": "ann"}}
    assert data["verb"]["id"] == wire.VERB_ACHIEVED
    assert data["object"]["id"] == "https://competencies.example.org/cs/ts.escalation"
    assert data["result"]["success"] is True
    assert data["result"]["extensions"][wire.EXPLANATION_EXT].startswith("latest of 2")
    assert data["timestamp"] == "2026-02-01T00:00:00.000Z"
    # Our own statement, read back, is no evidence.
    read_back = {**data, "actor": {"account": {"homePage": HOME, "name": "ann"}}}
    own = MappingConfig(
        identity=IdentityConfig(account_home_pages=(HOME,)),
        competency_iri_base="https://competencies.example.org/cs/",
    )
    assert run(read_back, own) == (SKIP, "computed proficiency statement")
    with pytest.raises(MappingError, match="no xAPI identity"):
        proficiency_statement(_proficiency(), config=MappingConfig(competency_iri_base="x:"))
    with pytest.raises(MappingError, match="no activity IRI"):
        proficiency_statement(_proficiency(), config=MappingConfig(identity=config.identity))


def test_wire_query_and_models() -> None:
    query = wire.StatementQuery(
        agent={"mbox": "mailto:a@b.org"},
        verb="v",
        activity="a?b&c",
        registration="r",
        related_activities=True,
        related_agents=False,
        since=datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
        until=datetime(2026, 1, 2, tzinfo=UTC),
        limit=5,
        format="exact",
        attachments=False,
        ascending=True,
    )
    assert query.to_params() == {
        "agent": '{"mbox":"mailto:a@b.org"}',
        "verb": "v",
        "activity": "a?b&c",
        "registration": "r",
        "related_activities": "true",
        "related_agents": "false",
        "since": "2026-01-01T10:00:00.123Z",
        "until": "2026-01-02T00:00:00.000Z",
        "limit": "5",
        "format": "exact",
        "attachments": "false",
        "ascending": "true",
    }
    assert wire.StatementQuery(statement_id="x").to_params() == {"statementId": "x"}
    lenient = wire.Statement.model_validate(
        {
            **statement(),
            "context": {
                "contextActivities": {"parent": {"id": "p"}},
                "contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:i@x"}}],
            },
            "vendor": 1,
        }
    )
    assert lenient.context is not None
    assert lenient.context.context_activities == {"parent": [{"id": "p"}]}
    with pytest.raises(ValueError, match="exactly one"):
        wire.OutAgent(mbox="mailto:a@b.org", openid="https://x")
    digest = hashlib.sha1(b"mailto:a@b.org", usedforsecurity=False).hexdigest()
    assert mbox_sha1sum("mailto:a@B.ORG") == digest


# -- issue 12 item 7: result.completion false ------------------------------------------------


def test_completed_with_completion_false_is_no_evidence() -> None:
    """39 of the 70 ``completed`` statements of the real DATASIM data carry it; all became
    successful evidence before, rating learners proficient on them alone."""
    not_completed = statement("completed", result={"completion": False})
    assert run(not_completed) == (SKIP, "result.completion is false (not completed)")
    scored = statement("completed", scaled=0.9, result={"completion": False})
    assert run(scored)[0] == SKIP
    satisfied = statement("https://w3id.org/xapi/adl/verbs/satisfied", result={"completion": False})
    assert run(satisfied)[0] == SKIP
    done = one(statement("completed", result={"completion": True}))
    assert (done.kind, done.success) == (EvidenceKind.COURSE_COMPLETION, True)
    assert one(statement("completed")).success is True  # no result: the verb's verdict
    # completion says nothing about a pass: a passed statement still counts.
    passed = one(statement("passed", scaled=0.8, result={"completion": False}))
    assert (passed.success, passed.score) == (True, 0.8)


# -- issue 12 item 9: one rule for score.scaled both ways -----------------------------------


def test_scaled_score_is_one_rule_both_ways() -> None:
    framework = load_framework(example_dir() / "framework.json")  # scale 1..4 points
    key = "product.catalogue"
    scale = framework.scale_for(key)
    assert (scale.min_points, scale.max_points) == (1.0, 4.0)
    config = MappingConfig(
        identity=IdentityConfig(push_home_page=HOME),
        competency_iri_base="https://competencies.example.org/cs/",
    )
    written = proficiency_statement(
        _proficiency(competency=key, score=3.64), config=config, framework=framework
    ).to_json()["result"]["score"]
    assert written == {"scaled": 0.88, "raw": 3.64, "min": 1.0, "max": 4.0}  # not 3.64/4
    # The reader gets the same fraction from raw/min/max alone as from the scaled we wrote.
    assert score_of({k: v for k, v in written.items() if k != "scaled"}) == pytest.approx(0.88)
    assert score_of(written) == 0.88
    assert mapping_module.scaled_score(3.64, 1, 4) == pytest.approx(0.88)


def test_a_score_below_the_scale_travels_without_min_and_max() -> None:
    """raw must lie within min..max when they are given; the engine can compute points
    below the lowest level (a fraction of the top points)."""
    framework = load_framework(example_dir() / "framework.json")
    config = MappingConfig(
        identity=IdentityConfig(push_home_page=HOME),
        competency_iri_base="https://competencies.example.org/cs/",
    )
    low = proficiency_statement(
        _proficiency(competency="product.catalogue", score=0.4, level="novice", proficient=False),
        config=config,
        framework=framework,
    ).to_json()["result"]["score"]
    assert low == {"scaled": 0.0, "raw": 0.4}


def test_since_given_as_text_is_sent_with_every_digit() -> None:
    query = wire.StatementQuery(since="2026-01-01T11:00:00.1234567+01:00", until="2026-01-02")
    assert query.to_params() == {
        "since": "2026-01-01T10:00:00.1234567Z",
        "until": "2026-01-02T00:00:00.000Z",
    }
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        wire.StatementQuery(since="yesterday")
