"""Pure mapping: guids, descriptions, framework <-> outcome tree, scores, rollups."""

from __future__ import annotations

import pytest

from comp_adapters.canvas import mapping, wire
from comp_adapters.canvas.mapping import (
    ROOT,
    GroupNode,
    OutcomeNode,
    OutcomeTree,
    Rating,
    competency_guid,
    desired_tree,
    framework_from_tree,
    framework_guid,
    parse_guid,
    rollup_guid,
)
from comp_adapters.canvas.planner import infer_new_decay
from comp_adapters.core.calculation import effective_calculation_int
from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError

# -- vendor_guid -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("framework", "competency", "guid"),
    [
        ("CS", "product.catalogue", "CS:product.catalogue"),
        ("my framework", "a b", "my%20framework:a%20b"),
        ("fw", "x:y", "fw:x%3Ay"),
        ("fw", "50%", "fw:50%25"),
        ("fw", "tab\there", "fw:tab%09here"),
        ("Ärzte", "Übung", "Ärzte:Übung"),
    ],
)
def test_competency_guid_has_no_whitespace_and_parses_back(
    framework: str, competency: str, guid: str
) -> None:
    assert competency_guid(framework, competency) == guid
    assert not any(ch.isspace() for ch in guid)
    assert parse_guid(guid) == (framework, competency, False)


def test_rollup_and_framework_guids_parse() -> None:
    assert parse_guid(rollup_guid("fw", "a:b")) == ("fw", "a:b", True)
    assert parse_guid(framework_guid("my fw")) == ("my fw", None, False)


@pytest.mark.parametrize(
    "guid", ["canvas_outcome:12", "canvas_outcome_group:3", "a:b:c", "a::b", ":a", "a:b:rollup:x"]
)
def test_foreign_guids_do_not_parse(guid: str) -> None:
    assert parse_guid(guid) is None


@pytest.mark.parametrize(
    "key", ["canvas_outcome", "my-canvas_outcome", "x_canvas_outcome_group", "Canvas_Outcome"]
)
def test_keys_that_would_make_canvas_id_references_are_refused(key: str) -> None:
    # lib/outcomes/import.rb find_prior_outcome matches /canvas_outcome:(\d+)/ unanchored:
    # 'my-canvas_outcome:12' would bind to outcome 12. Issue 11 item 13.
    with pytest.raises(MappingError, match="canvas_outcome:<number>"):
        competency_guid(key, "12")


@pytest.mark.parametrize(
    ("guid", "problem"),
    [
        ("legacy-canvas_outcome:12", "'canvas_outcome:12'"),
        ("x:canvas_outcome_group:3", "'canvas_outcome_group:3'"),
        ("has space", "whitespace"),
        ("fine:guid", None),
        ("canvas_outcomes:x", None),
    ],
)
def test_guids_a_csv_import_would_misread(guid: str, problem: str | None) -> None:
    found = mapping.guid_problem_for_csv(guid)
    assert (found is None) == (problem is None)
    if problem is not None:
        assert problem in str(found)


# -- descriptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt", "out"),
    [
        ("A & B < C", "plain", "A &amp; B &lt; C"),
        ("<p>x</p>", "html", "<p>x</p>"),
        ("*md* & co", "markdown", "*md* &amp; co"),
        (None, "plain", None),
    ],
)
def test_description_out(text: str | None, fmt: str, out: str | None) -> None:
    assert mapping.description_out(text, fmt) == out


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("A &amp; B", ("A & B", "plain")),
        ("<p>Para</p>", ("<p>Para</p>", "html")),
        ("", (None, "plain")),
        (None, (None, "plain")),
        ("3 < 4", ("3 < 4", "plain")),
    ],
)
def test_description_in(html: str | None, expected: tuple[str | None, str]) -> None:
    assert mapping.description_in(html) == expected


# -- framework -> tree -------------------------------------------------------------------------


def test_desired_tree_maps_parents_to_groups_and_leaves_to_outcomes(example: Framework) -> None:
    tree = desired_tree(example)
    assert [g.guid for g in tree.groups] == [
        "CS-SUPPORT",
        "CS-SUPPORT:product",
        "CS-SUPPORT:communication",
        "CS-SUPPORT:troubleshooting",
    ]
    assert tree.groups[0].parent == ROOT
    assert {g.parent for g in tree.groups[1:]} == {"CS-SUPPORT"}
    leaves = {c.key for c in example.competencies if not example.children_of(c.key)}
    assert {parse_guid(o.guid).competency for o in tree.outcomes} == leaves  # type: ignore[union-attr]
    catalogue = next(o for o in tree.outcomes if o.guid.endswith(":product.catalogue"))
    assert catalogue.parents == ("CS-SUPPORT:product",)
    assert catalogue.ratings == (
        Rating(4.0, "Expert"),
        Rating(3.0, "Proficient"),
        Rating(2.0, "Developing"),
        Rating(1.0, "Beginning"),
    )
    assert catalogue.mastery_points == 3.0
    assert (catalogue.calculation_method, catalogue.calculation_int) == ("decaying_average", 65)
    assert catalogue.display_name == "product.catalogue"
    pricing = next(o for o in tree.outcomes if o.guid.endswith(":product.pricing"))
    assert (pricing.calculation_method, pricing.calculation_int) == ("highest", None)
    assert any("rollup rule" in note for note in tree.notes)


def test_desired_tree_parent_outcomes_sit_inside_their_group(example: Framework) -> None:
    tree = desired_tree(example, parent_outcomes=True)
    rollups = [o for o in tree.outcomes if o.guid.endswith(":rollup")]
    assert [(o.guid, o.parents) for o in rollups] == [
        ("CS-SUPPORT:product:rollup", ("CS-SUPPORT:product",)),
        ("CS-SUPPORT:communication:rollup", ("CS-SUPPORT:communication",)),
        ("CS-SUPPORT:troubleshooting:rollup", ("CS-SUPPORT:troubleshooting",)),
    ]


def test_desired_tree_without_scales_leaves_scale_fields_out(example: Framework) -> None:
    tree = desired_tree(example, scales=False)
    assert all(
        o.ratings == () and o.mastery_points is None and o.calculation_method is None
        for o in tree.outcomes
    )


def test_standard_decay_is_expected_back_as_legacy_without_the_flag() -> None:
    framework = _framework(method="standard_decaying_average", calc_int=70)
    tree = desired_tree(framework, new_decay=False)
    assert tree.outcomes[0].calculation_method == "decaying_average"
    assert any("outcomes_new_decaying_average_calculation" in n for n in tree.notes)
    assert desired_tree(framework).outcomes[0].calculation_method == "standard_decaying_average"


def test_titles_over_255_characters_are_refused() -> None:
    framework = _framework(title="x" * 256)
    with pytest.raises(MappingError, match="at most 255"):
        desired_tree(framework)


def _methods(*pairs: tuple[str, str]) -> OutcomeTree:
    return OutcomeTree(outcomes=tuple(OutcomeNode(g, g, calculation_method=m) for g, m in pairs))


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ((("a", "standard_decaying_average"),), True),
        ((("x", "weighted_average"),), False),
        ((("a", "decaying_average"),), False),  # ours, wanted standard, stored as legacy
        ((("b", "decaying_average"),), None),  # wanted legacy: tells nothing
        ((("a", "latest"),), None),
        ((), None),
    ],
)
def test_infer_new_decay_from_what_canvas_stores(
    stored: tuple[tuple[str, str], ...], expected: bool | None
) -> None:
    desired = _methods(("a", "standard_decaying_average"), ("b", "decaying_average"))
    assert infer_new_decay(desired, _methods(*stored)) is expected


# -- scales --------------------------------------------------------------------------------------


def test_scale_from_ratings_marks_levels_from_mastery_points() -> None:
    scale = mapping.scale_from_ratings(
        [Rating(3, "Excellent"), Rating(2, "Better"), Rating(1, "Good")], 2.0
    )
    assert [(lv.key, lv.points, lv.proficient) for lv in scale.levels] == [
        ("Good", 1.0, False),
        ("Better", 2.0, True),
        ("Excellent", 3.0, True),
    ]
    assert scale.default_level == "Better"
    assert scale.mastery_points is None  # exactly a level's points


def test_scale_from_ratings_defaults_mastery_to_top_and_keeps_in_between_mastery() -> None:
    top = mapping.scale_from_ratings([Rating(5, "A"), Rating(0, "B")], None)
    assert [lv.proficient for lv in top.levels] == [False, True]
    between = mapping.scale_from_ratings([Rating(4, "A"), Rating(2, "B"), Rating(0, "C")], 2.5)
    assert between.mastery_points == 2.5
    assert between.default_level == "A"


@pytest.mark.parametrize(
    ("ratings", "mastery", "message"),
    [
        ([Rating(2, "a"), Rating(2, "b")], None, "two ratings"),
        ([Rating(2, "a"), Rating(-1, "b")], None, "below 0"),
        ([Rating(2, "a")], 3.0, "above the top"),
        ([], None, "no ratings"),
    ],
)
def test_scale_from_ratings_refuses(
    ratings: list[Rating], mastery: float | None, message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        mapping.scale_from_ratings(ratings, mastery)


def test_duplicate_or_blank_rating_names_get_point_keys() -> None:
    scale = mapping.scale_from_ratings([Rating(2, "Same"), Rating(1, "Same"), Rating(0, "")], 1)
    assert [lv.key for lv in scale.levels] == ["level-0", "Same", "level-2"]
    assert scale.levels[0].name == "0 points"


# -- tree -> framework -----------------------------------------------------------------------


def test_desired_tree_round_trips_to_the_same_framework(example: Framework) -> None:
    back = framework_from_tree(desired_tree(example))
    assert back.key == example.key
    assert back.title == example.title
    assert back.description == example.description
    assert [(c.key, c.parent, c.title, c.description) for c in back.walk()] == [
        (c.key, c.parent, c.title, c.description) for c in example.walk()
    ]
    for competency in example.competencies:
        if example.children_of(competency.key):
            continue
        assert back.method_for(competency.key) == (
            example.method_for(competency.key)[0],
            effective_calculation_int(*example.method_for(competency.key)),
        )
        ours = example.scale_for(competency.key)
        theirs = back.scale_for(competency.key)
        assert [(lv.name, lv.points, lv.proficient) for lv in theirs.levels] == [
            (lv.name, lv.points, lv.proficient) for lv in ours.levels
        ]
        assert theirs.effective_mastery_points == ours.effective_mastery_points


def test_foreign_tree_keeps_guids_as_keys_and_picks_the_common_scale() -> None:
    tree = OutcomeTree(
        groups=(GroupNode("g1", "Group one"),),
        outcomes=(
            OutcomeNode(
                "o1",
                "One",
                ratings=(Rating(3, "A"), Rating(0, "B")),
                mastery_points=3,
                calculation_method="latest",
                parents=("g1",),
            ),
            OutcomeNode(
                "o2",
                "Two",
                ratings=(Rating(3, "A"), Rating(0, "B")),
                mastery_points=3,
                calculation_method="latest",
                parents=("g1",),
            ),
            OutcomeNode(
                "canvas_outcome:9",
                "Nine",
                ratings=(Rating(5, "X"), Rating(1, "Y")),
                mastery_points=5,
                calculation_method="weighted_average",
                calculation_int=40,
            ),
        ),
    )
    framework = framework_from_tree(tree, framework_key="imported")
    assert [c.key for c in framework.walk()] == ["g1", "o1", "o2", "canvas_outcome:9"]
    assert framework.get("o1").parent == "g1"
    assert framework.calculation_method.value == "latest"
    assert framework.get("o1").scale is None
    nine = framework.get("canvas_outcome:9")
    assert nine.scale is not None
    assert nine.scale.max_points == 5
    assert (nine.calculation_method, nine.calculation_int) == ("decaying_average", 40)
    assert nine.external_ids == {"canvas.vendor_guid": "canvas_outcome:9"}


def test_rollup_outcome_gives_the_parent_its_scale_and_ids() -> None:
    tree = OutcomeTree(
        groups=(GroupNode("fw", "FW"), GroupNode("fw:p", "Parent", parent="fw")),
        outcomes=(
            OutcomeNode(
                "fw:leaf",
                "Leaf",
                ratings=(Rating(4, "A"), Rating(0, "B")),
                mastery_points=4,
                calculation_method="latest",
                parents=("fw:p",),
            ),
            OutcomeNode(
                "fw:p:rollup",
                "Parent",
                ratings=(Rating(10, "Big"), Rating(0, "Z")),
                mastery_points=10,
                calculation_method="latest",
                parents=("fw:p",),
                canvas_id=77,
            ),
        ),
    )
    framework = framework_from_tree(tree)
    parent = framework.get("p")
    assert parent.external_ids["canvas.rollup_outcome_id"] == "77"
    assert parent.scale is not None
    assert parent.scale.max_points == 10
    assert [c.key for c in framework.competencies] == ["p", "leaf"]


# -- results and rollups -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "percent"),
    [
        ({"score": 2, "possible": 5}, 0.4),
        ({"score": 2, "possible": 5, "percent": 0.9}, 0.9),
        # alignment threshold 0.5 lands on the outcome's 0.75: 0.4 -> 0.4*0.75/0.5 = 0.6
        ({"score": 2, "possible": 5, "alignment_mastery": 0.5}, 0.6),
        # above it the band [0.5, 1] maps onto [0.75, 1]: 0.8 -> 0.75 + 0.3*0.5 = 0.9
        ({"score": 4, "possible": 5, "alignment_mastery": 0.5}, 0.9),
        ({"score": 3, "possible": None}, 0.75),
        ({"score": None, "possible": 5}, None),
        # possible 0: over the outcome's points possible, else over its mastery points
        ({"score": 3, "possible": 0}, 0.75),
        ({"score": 1.5, "possible": 0, "points_possible": 0.0}, 0.5),
        ({"score": 1, "possible": 0, "points_possible": 0.0, "mastery_points": 0.0}, None),
        # a threshold equal to the outcome's (3/4) changes nothing
        ({"score": 2, "possible": 5, "alignment_mastery": 0.75}, 0.4),
        # exactly at the alignment threshold: lands on the outcome's mastery fraction
        ({"score": 3, "possible": 5, "alignment_mastery": 0.6}, 0.75),
        # rounded to 4 places, as Canvas stores it
        ({"score": 1, "possible": 3}, 0.3333),
        ({"score": 1, "possible": 3, "alignment_mastery": 0.9}, 0.2778),
    ],
)
def test_result_percent(kwargs: dict[str, float | None], percent: float | None) -> None:
    args: dict[str, float | None] = {
        "score": None,
        "possible": None,
        "percent": None,
        "alignment_mastery": None,
        "points_possible": 4.0,
        "mastery_points": 3.0,
        **kwargs,
    }
    got = mapping.result_percent(**args)
    if percent is None:
        assert got is None
    else:
        assert got == pytest.approx(percent, abs=1e-12)


def _outcome(method: str = "decaying_average", calc_int: int | None = 65) -> wire.WireOutcome:
    return wire.WireOutcome.model_validate(
        {
            "id": 1,
            "title": "O",
            "points_possible": 5,
            "mastery_points": 3,
            "ratings": [{"points": 5, "description": "A"}, {"points": 0, "description": "B"}],
            "calculation_method": method,
            "calculation_int": calc_int,
        }
    )


def test_scaled_score_follows_canvas_example() -> None:
    # Canvas's spec: an assessment of 2/5 under a 4-point scale contributes 1.6.
    result = wire.WireOutcomeResult.model_validate(
        {"id": 1, "score": 2, "possible": 5, "links": {"user": 1, "learning_outcome": 1}}
    )
    four_point = _outcome().model_copy(update={"points_possible": 4.0, "ratings": None})
    assert mapping.scaled_score(result, four_point) == pytest.approx(1.6)


@pytest.mark.parametrize(
    ("score", "possible", "scale", "expected"),
    [
        (2, 5, None, 2.0),  # on the outcome's 5 points
        (2, 5, (4.0, 3.0), 1.6),  # on the context's 4-point mastery scale
        (1.5, 0, (0.0, 3.0), 1.5),  # points possible 0: percent over, then times, mastery
        (7, None, (0.0, 0.0), 7.0),  # no percent at all: the raw score
    ],
)
def test_scaled_score_on_the_effective_scale(
    score: float, possible: float | None, scale: tuple[float, float] | None, expected: float
) -> None:
    result = wire.WireOutcomeResult.model_validate(
        {"id": 1, "score": score, "possible": possible, "links": {"user": 1, "learning_outcome": 1}}
    )
    outcome = _outcome()
    if scale is not None and scale[0] == 0.0:
        outcome = outcome.model_copy(
            update={"points_possible": 0.0, "mastery_points": scale[1], "ratings": None}
        )
    assert mapping.scaled_score(result, outcome, scale=scale) == pytest.approx(expected)


def _results(scores: list[float]) -> list[wire.WireOutcomeResult]:
    return [
        wire.WireOutcomeResult.model_validate(
            {
                "id": i,
                "score": s,
                "possible": 5,
                "percent": s / 5,
                "submitted_or_assessed_at": f"2026-01-0{i + 1}T10:00:00Z",
                "links": {"user": "7", "learning_outcome": "1"},
            }
        )
        for i, s in enumerate(scores)
    ]


@pytest.mark.parametrize(
    ("method", "calc_int", "expected"),
    [
        ("decaying_average", 65, 4.13),  # Canvas: w*s_k + (1-w)*mean(older) = 4.125 -> 4.13
        ("standard_decaying_average", 65, 4.47),  # 1.65, 2.5275, 3.4846, 4.4696
        ("n_mastery", 3, 4.0),  # mean(3, 4, 5) with mastery 3
        ("n_mastery", 4, None),  # only 3 mastering scores
        ("highest", None, 5.0),
        ("latest", None, 5.0),
        ("average", None, 3.0),
    ],
)
def test_expected_rollups_give_canvas_numbers(
    method: str, calc_int: int | None, expected: float | None
) -> None:
    computed = mapping.expected_rollups(
        _results([1, 2, 3, 4, 5]), {"1": _outcome(method, calc_int)}
    )
    assert computed == {("7", "1"): (expected, 5)}


def test_expected_rollups_order_by_time_and_skip_hidden_and_scoreless() -> None:
    results = _results([5, 1])[::-1]  # given newest first
    hidden = _results([0])[0].model_copy(update={"id": 9, "hidden": True})
    blank = _results([0])[0].model_copy(update={"id": 10, "score": None})
    computed = mapping.expected_rollups([*results, hidden, blank], {"1": _outcome("latest", None)})
    assert computed == {("7", "1"): (1.0, 2)}


def test_compare_rollups_pairs_numbers() -> None:
    rollup = wire.WireRollup.model_validate(
        {"scores": [{"score": 4.13, "links": {"outcome": 1}}], "links": {"user": 7}}
    )
    checks = mapping.compare_rollups({("7", "1"): (4.13, 5)}, [rollup])
    assert [(c.user, c.outcome_id, c.ours, c.canvas, c.matches) for c in checks] == [
        ("7", "1", 4.13, 4.13, True)
    ]


# -- helpers -------------------------------------------------------------------------------------


def _framework(
    *, method: str = "latest", calc_int: int | None = None, title: str = "Leaf"
) -> Framework:
    competency: dict[str, object] = {"key": "leaf", "title": title, "calculation_method": method}
    if calc_int is not None:
        competency["calculation_int"] = calc_int
    return framework_from_data(
        {
            "key": "fw",
            "title": "FW",
            "scale": {
                "levels": [
                    {"key": "no", "name": "No", "points": 0},
                    {"key": "yes", "name": "Yes", "points": 1, "proficient": True},
                ],
                "default_level": "yes",
            },
            "competencies": [competency],
        }
    )
