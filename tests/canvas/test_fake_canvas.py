"""The fake Canvas follows Canvas: each rule with a test naming the Canvas code it follows.

Issue 11, "The fake follows Canvas": where the fake was more lenient than Canvas (headers
with spaces, named columns after ratings, a header without rows, a stray quote or mixed
line ends, guids padded with spaces, ``Active``, `` outcome ``, group rows with a method or
ratings, ``course_id`` on an outcome row, non-numeric points) and where it was stricter (a
group and an outcome sharing a guid, repeated parent guids, ``;`` files, SDA with int 30
and the flag off, a content type without charset). Plus the REST rules of items 11-14 and
the canvasapi recordings replayed against the fake.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from .conftest import FIXTURES
from .fake_canvas import API, TOKEN, FakeCanvas
from .test_canvas_files import CANVAS_FILES, NAMES

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADER = "vendor_guid,object_type,title,parent_guids,ratings,,,,\n"


def run_import(
    text: str,
    *,
    context: str = "accounts/1",
    content_type: str = "text/csv; charset=utf-8",
    extension: bool = True,
) -> dict[str, Any]:
    """POST an import as a raw body and poll it to its end (the fake ticks per request)."""
    params = {"import_type": "instructure_csv", **({"extension": "csv"} if extension else {})}
    started = requests.post(
        f"{API}/{context}/outcome_imports",
        params=params,
        data=text.encode("utf-8", "surrogateescape"),
        headers={**AUTH, "Content-Type": content_type},
        timeout=5,
    )
    assert started.status_code == 200, started.text
    job: dict[str, Any] = started.json()
    for _ in range(10):
        if job["workflow_state"] in ("succeeded", "failed"):
            return job
        job = requests.get(
            f"{API}/{context}/outcome_imports/{job['id']}", headers=AUTH, timeout=5
        ).json()
    raise AssertionError("import did not end")


def outcome(fake: FakeCanvas, guid: str) -> dict[str, Any]:
    (found,) = [o for o in fake.outcomes.values() if o["vendor_guid"] == guid and o["active"]]
    return found


def row_errors(job: dict[str, Any]) -> list[tuple[int, str]]:
    return [(row, message) for row, message in job["processing_errors"]]


# -- file-level failures (Outcomes::CSVImporter#parse_file, #validate_headers, #run) ---------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # validate_headers does not trim: " object_type" and " title" are not the fields.
        ("vendor_guid, object_type, title\nx,outcome,X\n", 'Missing required fields: ["title"'),
        (
            "vendor_guid,object_type,title,ratings,,colour\nx,outcome,X,1,A,\n",
            'Invalid fields after ratings: ["colour"]',
        ),
        ("vendor_guid,object_type,title,name\nx,outcome,X,n\n", 'Invalid fields: ["name"]'),
        ("vendor_guid,object_type,title\n", "File has no outcomes data"),
        ("", "File has no data"),
        # CSV::MalformedCSVError -> "Invalid CSV File": a stray quote, mixed line ends.
        ('vendor_guid,object_type,title\nx,outcome,6" tall\n', "Invalid CSV File"),
        ("vendor_guid,object_type,title\r\nx,outcome,X\ny,outcome,Y\r\n", "Invalid CSV File"),
    ],
)
def test_file_level_problems_fail_the_import(fake: FakeCanvas, text: str, message: str) -> None:
    job = run_import(text)
    assert job["workflow_state"] == "failed"
    assert row_errors(job)[0][0] == 1
    assert message in row_errors(job)[0][1]
    assert not [o for o in fake.outcomes.values() if o["active"]]


# -- row errors (Outcomes::Import#check_object, #import_group, #import_outcome) --------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (" x,outcome,X,,,,,,", 'The "vendor_guid" field must have no spaces'),
        ("x,outcome,,,,,,,", 'The "title" field is required'),
        ("x,Outcome,X,,,,,,", 'Invalid object_type: "Outcome"'),
        ("x, outcome ,X,,,,,,", 'Invalid object_type: " outcome "'),
        ("x,outcome,X,,lots,Top,,,", 'Invalid value for rating tier 1 threshold: "lots"'),
        ("x,outcome,X,,3,Top,,Mid,1", "Points for rating tier 2 not present"),
        (
            "x,outcome,X,,1,Low,3,Top,",
            "Points for tier 2 must be less than points for prior tier (3.0 is greater than 1.0)",
        ),
    ],
)
def test_row_problems_are_row_errors_and_the_import_succeeds(
    fake: FakeCanvas, row: str, message: str
) -> None:
    job = run_import(HEADER + row + "\n")
    assert job["workflow_state"] == "succeeded"
    assert row_errors(job) == [(2, message)]


def test_workflow_state_is_compared_as_written(fake: FakeCanvas) -> None:
    # Outcomes::Import::VALID_WORKFLOWS = [nil, "", "active", "deleted"]
    job = run_import("vendor_guid,object_type,title,workflow_state\nx,outcome,X,Active\n")
    assert row_errors(job) == [(2, '"workflow_state" must be either "active" or "deleted"')]


def test_group_rows_refuse_outcome_fields_and_outcome_rows_course_id(fake: FakeCanvas) -> None:
    # Outcomes::Import::OBJECT_ONLY_FIELDS / GROUP_ONLY_FIELDS
    text = (
        "vendor_guid,object_type,title,calculation_method,course_id,ratings,\n"
        "g,group,G,highest,,3,Top\n"
        "o,outcome,O,,5,,\n"
    )
    assert row_errors(run_import(text)) == [
        (2, 'Invalid fields for a group: ["calculation_method", "ratings"]'),
        (3, 'Invalid fields for an outcome: ["course_id"]'),
    ]


def test_a_group_and_an_outcome_may_share_a_guid_and_parents_may_repeat(
    fake: FakeCanvas,
) -> None:
    # Groups and outcomes are matched in their own tables (find_prior_group /
    # find_prior_outcome); find_parents takes parent_guids.strip.split.uniq.
    text = "vendor_guid,object_type,title,parent_guids\nsame,group,G,\nsame,outcome,O,same same\n"
    assert row_errors(run_import(text)) == []
    assert [k["group_id"] for k in fake._links_of(outcome(fake, "same")["id"])] == [
        next(g["id"] for g in fake.groups.values() if g["vendor_guid"] == "same")
    ]


def test_a_guid_may_appear_once_per_type(fake: FakeCanvas) -> None:
    text = "vendor_guid,object_type,title\nx,outcome,X\nx,outcome,Y\ng,group,G\ng,group,H\n"
    assert row_errors(run_import(text)) == [
        (3, 'Outcome "x" has already appeared in this import'),
        (5, 'Group "g" has already appeared in this import'),
    ]


def test_semicolon_files_are_read(fake: FakeCanvas) -> None:
    # As in CSVImporter#test_header_i18n, ';' when the header has more of them than commas.
    job = run_import("vendor_guid;object_type;title;description\nx;outcome;X;a, b\n")
    assert row_errors(job) == []
    assert outcome(fake, "x")["description"] == "a, b"


@pytest.mark.parametrize(("new_decay", "stored"), [(False, ("decaying_average", 30)), (True, None)])
def test_standard_decay_int_30_is_checked_after_the_flag_adjusts_the_method(
    fake: FakeCanvas, new_decay: bool, stored: tuple[str, int] | None
) -> None:
    # LearningOutcome#adjust_calculation_method runs before validate_calculation_int.
    fake.new_decay = new_decay
    job = run_import(
        "vendor_guid,object_type,title,calculation_method,calculation_int\n"
        "x,outcome,X,standard_decaying_average,30\n"
    )
    if stored is None:
        assert row_errors(job) == [
            (
                2,
                (
                    "Calculation int '30' is not a valid value for this calculation method. "
                    "The value must be between '50' and '99'"
                ),
            )
        ]
    else:
        assert row_errors(job) == []
        found = outcome(fake, "x")
        assert (found["calculation_method"], found["calculation_int"]) == stored


@pytest.mark.parametrize(
    ("content_type", "extension", "status"),
    [
        ("text/csv", False, 200),  # no charset: taken
        ("application/octet-stream", False, 200),
        ("text/csv; charset=utf-8", False, 200),
        ("text/csv; charset=ISO-8859-1", False, 400),
        ("text/csv; charset=ISO-8859-1", True, 200),  # with extension= the charset is not read
    ],
)
def test_content_type_check_follows_body_file(
    fake: FakeCanvas, content_type: str, extension: bool, status: int
) -> None:
    # OutcomeImportsApiController#body_file
    params = {"extension": "csv"} if extension else {}
    response = requests.post(
        f"{API}/accounts/1/outcome_imports",
        params=params,
        data=b"vendor_guid,object_type,title\nx,outcome,X\n",
        headers={**AUTH, "Content-Type": content_type},
        timeout=5,
    )
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"error": "Invalid content type, UTF-8 required"}


@pytest.mark.parametrize(
    ("locale", "cell", "points"),
    [(None, "2.5", 2.5), ("de", "2.5", 25.0), ("de", "2,5", 2.5), ("en", "1,000.5", 1000.5)],
)
def test_numbers_are_parsed_in_the_accounts_locale(
    fake: FakeCanvas, locale: str | None, cell: str, points: float
) -> None:
    # OutcomeImport#run sets I18n.locale to the account's default_locale;
    # CSVImporter#normalize_i18n removes its delimiter and maps its separator to '.'.
    fake.locale = locale
    job = run_import(
        f'vendor_guid,object_type,title,mastery_points,ratings,\nx,outcome,X,,"{cell}",A\n'
    )
    assert row_errors(job) == []
    assert outcome(fake, "x")["ratings"][0]["points"] == points


def test_a_rating_without_a_description_becomes_no_comment_unless_quoted(
    fake: FakeCanvas,
) -> None:
    # Ruby's CSV reads an empty unquoted cell as nil; LearningOutcome#rubric_criterion=
    # gives a nil description "No Comment"; a quoted "" stays empty.
    run_import('vendor_guid,object_type,title,ratings,,,\nx,outcome,X,2,,1,""\n')
    assert outcome(fake, "x")["ratings"] == [
        {"description": "No Comment", "points": 2.0},
        {"description": "", "points": 1.0},
    ]


def test_friendly_descriptions_are_set_and_deleted_by_imports(fake: FakeCanvas) -> None:
    # Outcomes::Import#import_outcome: present -> saved; blank (or no column) -> deleted.
    run_import("vendor_guid,object_type,title,friendly_description\nx,outcome,X,Kind words\n")
    oid = outcome(fake, "x")["id"]
    assert fake.friendly[("accounts/1", oid)] == {"description": "Kind words", "active": True}
    run_import("vendor_guid,object_type,title\nx,outcome,X\n")
    assert fake.friendly[("accounts/1", oid)]["active"] is False
    job = run_import(
        f"vendor_guid,object_type,title,friendly_description\ny,outcome,Y,{'w' * 256}\n"
    )
    assert row_errors(job) == [(2, "Friendly description is too long (maximum is 255 characters)")]


def test_a_changed_method_without_a_new_int_gets_the_default_int(fake: FakeCanvas) -> None:
    # As LearningOutcome#adjust_calculation_int does: a new method, the same int -> default.
    head = "vendor_guid,object_type,title,calculation_method,calculation_int\n"
    run_import(head + "x,outcome,X,n_mastery,3\n")
    run_import(head + "x,outcome,X,decaying_average,3\n")
    found = outcome(fake, "x")
    assert (found["calculation_method"], found["calculation_int"]) == ("decaying_average", 65)


def test_deleted_outcomes_still_match_by_vendor_guid(fake: FakeCanvas) -> None:
    # Issue 11 item 12. find_prior_outcome: where(vendor_guid).active_first - deleted ones
    # too. In its own context the outcome is revived (same id); elsewhere the row fails.
    run_import("vendor_guid,object_type,title\nx,outcome,X\n")
    first = outcome(fake, "x")
    fake.destroy_outcome(first)
    run_import("vendor_guid,object_type,title\nx,outcome,X again\n")
    assert outcome(fake, "x")["id"] == first["id"]
    fake.destroy_outcome(first)
    job = run_import("vendor_guid,object_type,title\nx,outcome,X\n", context="accounts/2")
    assert row_errors(job) == [
        (
            2,
            "Outcome with ID x already exists in another unrelated course or account (Account 1)",
        )
    ]


def test_a_deleted_row_renames_the_outcome_and_keeps_it_where_aligned(fake: FakeCanvas) -> None:
    # Issue 11 item 11 (why the adapter prunes by REST): import_outcome sets the row's title
    # and blank description, update_outcome_parents keeps links where the outcome is aligned.
    run_import("vendor_guid,object_type,title,description\nx,outcome,Reading,Reads well\n")
    found = outcome(fake, "x")
    fake.align(found["id"], "accounts/1")
    run_import("vendor_guid,object_type,title,workflow_state\nx,outcome,deleted,deleted\n")
    assert found["active"]
    assert (found["title"], found["description"]) == ("deleted", None)
    assert fake._links_of(found["id"])


def test_deleting_a_group_with_an_aligned_outcome_fails_the_whole_import(
    fake: FakeCanvas,
) -> None:
    # LearningOutcomeGroup#destroy -> ContentTag#destroy raises
    # LastLinkToOutcomeNotDestroyed, which parse_batch does not rescue: the batch's
    # transaction rolls back and OutcomeImport#run fails the import.
    run_import("vendor_guid,object_type,title,parent_guids\ng,group,G,\nx,outcome,X,g\n")
    fake.align(outcome(fake, "x")["id"], "accounts/1")
    before = fake.snapshot()
    job = run_import(
        "vendor_guid,object_type,title,parent_guids,workflow_state\n"
        "new,outcome,New,,\n"
        "g,group,G,,deleted\n"
    )
    assert job["workflow_state"] == "failed"
    assert "An unexpected error has occurred" in row_errors(job)[0][1]
    assert fake.snapshot() == before  # the new outcome of the same batch is gone too


def test_a_guid_containing_canvas_outcome_id_binds_to_that_outcome(fake: FakeCanvas) -> None:
    # Issue 11 item 13: find_prior_outcome matches /canvas_outcome:(\d+)/ unanchored.
    run_import("vendor_guid,object_type,title\nmine,outcome,Mine\n")
    target = outcome(fake, "mine")
    run_import(f"vendor_guid,object_type,title\nx-canvas_outcome:{target['id']},outcome,Hijacked\n")
    assert target["title"] == "Hijacked"


@pytest.mark.parametrize("name", NAMES)
def test_canvas_fixture_files_import_without_errors(fake: FakeCanvas, name: str) -> None:
    # Canvas's own spec files import cleanly into the fake.
    text = (CANVAS_FILES / name).read_text(encoding="utf-8")
    job = run_import(text)
    assert (job["workflow_state"], row_errors(job)) == ("succeeded", [])
    assert fake.snapshot()[1]


def test_the_canvasapi_import_sample_imports(fake: FakeCanvas) -> None:
    job = run_import((FIXTURES / "canvasapi_import.csv").read_text())
    assert (job["workflow_state"], row_errors(job)) == ("succeeded", [])
    assert len(fake._links_of(outcome(fake, "c")["id"])) == 2


# -- REST (OutcomeGroupsApiController, OutcomesApiController, ContentTag) -------------------


def _rest(method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{API}/{path}", headers=AUTH, timeout=5, **kwargs)


def _outcome_in(fake: FakeCanvas, context: str, group_id: int, title: str) -> dict[str, Any]:
    created = fake._new_outcome(context, {"title": title, "vendor_guid": title})
    fake._link_outcome(context, group_id, created["id"])
    return created


def test_unlinking_the_last_link_of_an_aligned_outcome_answers_400(fake: FakeCanvas) -> None:
    root = fake.root_id("accounts/1")
    aligned = _outcome_in(fake, "accounts/1", root, "Aligned")
    fake.align(aligned["id"], "courses/5")
    response = _rest("DELETE", f"accounts/1/outcome_groups/{root}/outcomes/{aligned['id']}")
    assert response.status_code == 400
    assert response.json() == {
        "message": "Outcome 'Aligned' cannot be deleted because it is aligned to content."
    }
    links = _rest("GET", "accounts/1/outcome_group_links").json()
    assert links[0]["can_unlink"] is False


def test_deleting_a_group_holding_such_a_link_answers_400_and_changes_nothing(
    fake: FakeCanvas,
) -> None:
    root = fake.root_id("accounts/1")
    group = json.loads(
        _rest("POST", f"accounts/1/outcome_groups/{root}/subgroups", json={"title": "G"}).text
    )
    free = _outcome_in(fake, "accounts/1", group["id"], "Free")
    aligned = _outcome_in(fake, "accounts/1", group["id"], "Aligned")
    fake.align(aligned["id"], "accounts/1")
    response = _rest("DELETE", f"accounts/1/outcome_groups/{group['id']}")
    assert response.status_code == 400
    assert (
        response.json() == "Outcome 'Aligned' cannot be deleted because it is aligned to content."
    )
    assert free["active"]
    assert fake.groups[group["id"]]["active"]


def test_the_last_link_in_its_own_context_deletes_the_outcome_everywhere(
    fake: FakeCanvas,
) -> None:
    # As ContentTag#destroy does (@should_destroy_outcome for the last native link), then
    # LearningOutcome#destroy removes every other link, the courses' too.
    root = fake.root_id("accounts/1")
    shared = _outcome_in(fake, "accounts/1", root, "Shared")
    fake._link_outcome("courses/5", fake.root_id("courses/5"), shared["id"])
    assert _rest("DELETE", f"accounts/1/outcome_groups/{root}/outcomes/{shared['id']}").ok
    assert not shared["active"]
    assert fake._links_of(shared["id"]) == []


def test_move_from_must_name_the_group_the_link_is_in(fake: FakeCanvas) -> None:
    root = fake.root_id("accounts/1")
    a = _rest("POST", f"accounts/1/outcome_groups/{root}/subgroups", json={"title": "A"}).json()
    b = _rest("POST", f"accounts/1/outcome_groups/{root}/subgroups", json={"title": "B"}).json()
    moved = _outcome_in(fake, "accounts/1", a["id"], "Moved")
    wrong = _rest(
        "PUT",
        f"accounts/1/outcome_groups/{b['id']}/outcomes/{moved['id']}",
        params={"move_from": root},
    )
    assert (wrong.status_code, wrong.json()) == (400, "error")
    elsewhere = _rest(
        "PUT",
        f"accounts/1/outcome_groups/{b['id']}/outcomes/{moved['id']}",
        params={"move_from": fake.root_id("accounts/2")},
    )
    assert elsewhere.status_code == 404
    right = _rest(
        "PUT",
        f"accounts/1/outcome_groups/{b['id']}/outcomes/{moved['id']}",
        params={"move_from": a["id"]},
    )
    assert right.ok
    assert [k["group_id"] for k in fake._links_of(moved["id"])] == [b["id"]]


def test_only_outcomes_available_to_a_context_can_be_linked_there(fake: FakeCanvas) -> None:
    # As Context#available_outcome has it: linked in the context or an account above it.
    other = _outcome_in(fake, "accounts/2", fake.root_id("accounts/2"), "Other")
    mine = _outcome_in(fake, "accounts/1", fake.root_id("accounts/1"), "Mine")
    course_root = fake.root_id("courses/5")
    refused = _rest("PUT", f"courses/5/outcome_groups/{course_root}/outcomes/{other['id']}")
    assert (refused.status_code, refused.json()) == (400, "error")
    assert _rest("PUT", f"courses/5/outcome_groups/{course_root}/outcomes/{mine['id']}").ok


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mastery_points": 3}, "Individual outcome mastery points cannot be modified."),
        (
            {"ratings": [{"points": 3, "description": "x"}]},
            "Individual outcome ratings cannot be modified.",
        ),
        (
            {"calculation_method": "latest"},
            "Individual outcome calculation values cannot be modified.",
        ),
    ],
)
def test_under_mastery_scales_put_outcome_answers_403_and_create_does_not(
    fake: FakeCanvas, body: dict[str, Any], message: str
) -> None:
    fake.mastery_scales = True
    root = fake.root_id("accounts/1")
    created = _rest(
        "POST",
        f"accounts/1/outcome_groups/{root}/outcomes",
        json={"title": "T", **body},
    )
    assert created.ok
    refused = _rest("PUT", f"outcomes/{created.json()['outcome']['id']}", json=body)
    assert (refused.status_code, refused.json()) == (403, {"error": message})


def test_rest_ratings_without_a_description_become_no_comment(fake: FakeCanvas) -> None:
    root = fake.root_id("accounts/1")
    created = _rest(
        "POST",
        f"accounts/1/outcome_groups/{root}/outcomes",
        json={"title": "T", "ratings": [{"points": 3}, {"points": 1, "description": ""}]},
    ).json()
    stored = fake.outcomes[created["outcome"]["id"]]
    assert stored["ratings"] == [
        {"description": "No Comment", "points": 3.0},
        {"description": "", "points": 1.0},
    ]


# -- the recordings, replayed against the fake -------------------------------------------------

RECORDED: dict[str, Any] = json.loads((FIXTURES / "canvasapi_outcome_responses.json").read_text())


def test_the_fake_answers_with_the_recorded_shapes(fake: FakeCanvas) -> None:
    # Where the fake and a recording disagree the fake is wrong: every key a recorded
    # response has, the fake's answer to the same request has too.
    root = fake.root_id("accounts/1")
    group = _rest("POST", f"accounts/1/outcome_groups/{root}/subgroups", json={"title": "G"}).json()
    link = _rest(
        "POST", f"accounts/1/outcome_groups/{group['id']}/outcomes", json={"title": "O"}
    ).json()
    full = _rest("GET", f"outcomes/{link['outcome']['id']}").json()
    pairs = [
        (RECORDED["outcome_group_create_subgroup_account"]["data"], group),
        (RECORDED["outcome_group_link_new_account"]["data"], link),
        (RECORDED["canvas_get_outcome"]["data"], full),
    ]
    for recorded, answered in pairs:
        # can_unlink on an outcome comes from the API docs' Outcome model; current
        # Api::V1::Outcome#outcome_json sends it on links only.
        missing = set(recorded) - set(answered)
        assert missing <= {"can_unlink"}, missing
