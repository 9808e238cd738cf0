"""The proficiency API: current and past results, paging, gaps, coverage, ETags."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from comp_adapters.core.timeutil import format_utc
from comp_adapters.native import load_framework

from .conftest import EARLY, EXAMPLE, NOW, Served

API = "/api/v1/frameworks/CS-SUPPORT"


def get(served: Served, path: str, who: str = "admin", **headers: str) -> Any:
    answer = served.client.get(path, headers={**served.auth(who), **headers})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_frameworks_are_listed(served: Served) -> None:
    body = get(served, "/api/v1/frameworks")
    [framework] = body["frameworks"]
    assert framework["key"] == "CS-SUPPORT"
    assert framework["public"] is False
    by_id = get(served, f"/api/v1/frameworks/{framework['case_document_id']}/learners?limit=1")
    assert by_id["framework"] == "CS-SUPPORT"


def test_a_learners_current_proficiency_is_the_stored_one(served: Served) -> None:
    body = get(served, f"{API}/learners/diego.ramos/proficiency")
    stored = {
        r.result.competency: r
        for r in served.store.latest_proficiency("CS-SUPPORT", learners=["diego.ramos"])
    }
    assert {p["competency"] for p in body["proficiency"]} == set(stored)
    for shown in body["proficiency"]:
        record = stored[shown["competency"]]
        assert shown["level"] == record.result.level
        assert shown["score"] == record.result.score
        assert shown["proficient"] == record.result.proficient
        assert shown["as_of"] == format_utc(record.result.as_of)
    framework = load_framework(EXAMPLE / "framework.json")
    assert set(stored) <= {c.key for c in framework.walk()}


def test_as_of_gives_what_was_in_force_then(served: Served) -> None:
    path = f"{API}/learners/ivan.petrov/proficiency"
    early = get(served, f"{path}?as_of={format_utc(EARLY)}")
    assert early["as_of"] == format_utc(EARLY)
    stored = served.store.proficiency_as_of("CS-SUPPORT", EARLY, learner="ivan.petrov")
    assert [(p["competency"], p["level"], p["as_of"]) for p in early["proficiency"]] == [
        (r.result.competency, r.result.level, format_utc(r.result.as_of)) for r in stored
    ]
    assert {p["as_of"] for p in early["proficiency"]} == {format_utc(EARLY)}
    now = get(served, path)
    assert format_utc(NOW) in {p["as_of"] for p in now["proficiency"]}
    assert len(now["proficiency"]) > len(early["proficiency"])
    before = format_utc(EARLY - timedelta(days=3650))
    assert get(served, f"{path}?as_of={before}")["proficiency"] == []


def test_learners_are_paged_with_a_cursor(served: Served) -> None:
    seen: list[str] = []
    path = f"{API}/learners?limit=3"
    pages = 0
    while True:
        answer = served.client.get(path, headers=served.auth("admin"))
        assert answer.status_code == 200
        body = answer.json()
        seen.extend(item["learner"] for item in body["items"])
        pages += 1
        if body["next_cursor"] is None:
            assert "Link" not in answer.headers
            break
        assert 'rel="next"' in answer.headers["Link"]
        path = f"{API}/learners?limit=3&cursor={body['next_cursor']}"
    stored = sorted({r.result.learner for r in served.store.latest_proficiency("CS-SUPPORT")})
    assert seen == stored
    assert pages == -(-len(stored) // 3)
    bad = served.client.get(f"{API}/learners?cursor=%%%", headers=served.auth("admin"))
    assert bad.status_code == 400


def test_a_manager_pages_through_their_team_only(served: Served) -> None:
    body = get(served, f"{API}/learners?limit=100", who="julia")
    assert [item["learner"] for item in body["items"]] == [
        "amara.okafor",
        "ben.schulz",
        "chloe.martin",
        "diego.ramos",
    ]


def test_etag_gives_304_when_nothing_changed(served: Served) -> None:
    path = f"{API}/learners/diego.ramos/proficiency"
    first = served.client.get(path, headers=served.auth("admin"))
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = served.client.get(path, headers={**served.auth("admin"), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    weak = served.client.get(
        path, headers={**served.auth("admin"), "If-None-Match": f'"x", W/{etag}'}
    )
    assert weak.status_code == 304
    # The tag is the body's: another viewer, shown other evidence, gets another tag.
    amara = f"{API}/learners/amara.okafor/proficiency"
    admin_tag = served.client.get(amara, headers=served.auth("admin")).headers["ETag"]
    own = served.client.get(amara, headers={**served.auth("amara"), "If-None-Match": admin_tag})
    assert own.status_code == 200
    assert own.headers["ETag"] != admin_tag
    assert "ev-learner-only-amara" in own.text


def test_gaps_of_a_learner_against_their_roles(served: Served) -> None:
    body = get(served, f"{API}/learners/diego.ramos/gaps")
    assert body["as_of"] == format_utc(NOW)
    assert body["gaps"], "diego has gaps in the example"
    assert {g["person"] for g in body["gaps"]} == {"diego.ramos"}
    assert all(not g["met"] for g in body["gaps"])
    priorities = [g["priority"] for g in body["gaps"]]
    assert priorities == sorted(priorities, reverse=True)
    everything = get(served, f"{API}/learners/diego.ramos/gaps?include_met=true")
    assert len(everything["gaps"]) >= len(body["gaps"])


def test_coverage_per_team_and_role(served: Served) -> None:
    admin = get(served, f"{API}/coverage")
    assert set(admin["by_team"]) == {"Support North", "Support South"}
    assert {c["team"] for c in admin["by_team_and_role"]} == {"Support North", "Support South"}
    cells = {(c["team"], c["role"]): c for c in admin["by_team_and_role"]}
    assert sum(c["requirements"] for c in cells.values()) == admin["requirements"]
    julia = get(served, f"{API}/coverage", who="julia")
    assert set(julia["by_team"]) == {"Support North"}
    assert julia["people"] == 4
    assert julia["viewer"] == "manager:julia.nowak"


def test_unknown_framework_and_bad_as_of(served: Served) -> None:
    missing = served.client.get("/api/v1/frameworks/NOPE/learners", headers=served.auth("admin"))
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown_framework"
    bad = served.client.get(f"{API}/learners?as_of=yesterday", headers=served.auth("admin"))
    assert bad.status_code == 400
    assert "as_of" in bad.json()["message"]
