"""Nothing a viewer may not see appears anywhere in the HTML, JSON or CSV made for them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from comp_adapters.cli.main import main
from comp_adapters.cli.reports import write_gaps_csv
from comp_adapters.core import Evidence, Framework
from comp_adapters.reports import Assignment, Policy, RoleProfiles, Viewer, analyse_evidence
from comp_adapters.reports.render import render_html
from tests.reports.conftest import AS_OF, FIXTURES

# What each viewer must be shown (the ids of counted evidence behind results they may see);
# everything else in the fixture is hidden from them. Private evidence does not count, so no
# result rests on it and not even the auditor's outputs list it.
SHOWN = {
    "learner:ann": {"ev-public-ann", "ev-org-ann", "ev-learner-ann"},
    "learner:cy": set(),  # cy's only evidence is for managers
    "manager:max": {
        "ev-public-ann",
        "ev-org-ann",
        "ev-managers-ann",
        "ev-org-bo",
        "ev-managers-cy",
    },
    "admin": {
        "ev-public-ann",
        "ev-org-ann",
        "ev-managers-ann",
        "ev-org-bo",
        "ev-managers-cy",
        "ev-org-max",
    },
    "auditor": {
        "ev-public-ann",
        "ev-org-ann",
        "ev-managers-ann",
        "ev-learner-ann",
        "ev-org-bo",
        "ev-learner-bo",
        "ev-managers-cy",
        "ev-org-max",
    },
}


def _outputs(
    framework: Framework,
    profiles: RoleProfiles,
    people: list[Assignment],
    evidence: list[Evidence],
    viewer: str,
) -> dict[str, str]:
    analysis = analyse_evidence(
        framework, profiles, people, evidence, as_of=AS_OF, viewer=Viewer.parse(viewer)
    )
    records = analysis.gap_records(include_met=True)
    csv_text = io.StringIO()
    write_gaps_csv(records, csv_text)
    data = analysis.data()
    return {
        "html": render_html(data),
        "json": json.dumps({"gaps": records, "report": data}),
        "csv": csv_text.getvalue(),
    }


@pytest.mark.parametrize("viewer", sorted(SHOWN))
def test_hidden_evidence_never_appears(
    viewer: str,
    mean_framework: Framework,
    profiles: RoleProfiles,
    people: list[Assignment],
    visibility_evidence: list[Evidence],
) -> None:
    outputs = _outputs(mean_framework, profiles, people, visibility_evidence, viewer)
    shown = SHOWN[viewer]
    for item in visibility_evidence:
        assert item.note is not None
        for name, text in outputs.items():
            if item.id in shown:
                if name != "csv":  # the CSV lists ids only
                    assert item.note in text, (viewer, name, item.note)
                assert item.id in text, (viewer, name, item.id)
            else:
                assert item.id not in text, (viewer, name, item.id)
                assert item.note not in text, (viewer, name, item.note)


def test_a_manager_sees_their_team_only(
    mean_framework: Framework,
    profiles: RoleProfiles,
    people: list[Assignment],
    visibility_evidence: list[Evidence],
) -> None:
    analysis = analyse_evidence(
        mean_framework,
        profiles,
        people,
        visibility_evidence,
        as_of=AS_OF,
        viewer=Viewer.parse("manager:ann"),
    )
    assert analysis.gap_records(include_met=True) == []
    assert analysis.kpis["people"] == 0
    assert analysis.notes == ["manager:ann may see nobody in the people file"]
    mine = analyse_evidence(
        mean_framework,
        profiles,
        people,
        visibility_evidence,
        as_of=AS_OF,
        viewer=Viewer.parse("learner:bo"),
    )
    assert {r["person"] for r in mine.gap_records(include_met=True)} == {"bo"}


def test_private_evidence_counts_only_when_the_policy_says_so(
    mean_framework: Framework,
    profiles: RoleProfiles,
    people: list[Assignment],
    visibility_evidence: list[Evidence],
) -> None:
    def solo(policy: Policy, viewer: str) -> dict[str, object]:
        analysis = analyse_evidence(
            mean_framework,
            profiles,
            people,
            visibility_evidence,
            as_of=AS_OF,
            viewer=Viewer.parse(viewer),
            policy=policy,
        )
        return next(r for r in analysis.gap_records(include_met=True) if r["person"] == "max")

    assert solo(Policy(), "admin")["current_points"] == 2.0  # developing only
    counted = solo(Policy(count_private=True), "admin")
    assert counted["current_points"] == 1.5  # mean of developing and the private beginning
    assert [e["id"] for e in counted["evidence"]] == ["ev-org-max"]
    assert counted["explanation"] is None  # it would describe the hidden evidence
    audited = solo(Policy(count_private=True), "auditor")
    assert {e["id"] for e in audited["evidence"]} == {"ev-org-max", "ev-private-max"}


@pytest.mark.parametrize("viewer", ["learner:hana.sato", "manager:sofia.rossi"])
def test_example_managers_attestation(
    viewer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example's attestation for managers (cs-9003) reaches hana.sato's manager, not her."""
    args = ["--as-of", "2026-11-01T00:00:00Z", "--viewer", viewer]
    assert main(["gaps", *args, "--all", "--json"]) == 0
    text = capsys.readouterr().out
    assert (
        main(["report", *args, "-o", str(tmp_path / "r.html"), "--data", str(tmp_path / "d.json")])
        == 0
    )
    html = (tmp_path / "r.html").read_text() + (tmp_path / "d.json").read_text()
    manager = viewer.startswith("manager")
    assert ("cs-9003" in text) is manager
    assert ("team lead attestation" in text) is manager
    if not manager:  # the report lists unmet requirements only: hana's escalation is met
        assert "cs-9003" not in html
        assert "team lead attestation" not in html
    assert "cs-9002" not in text  # voided: no result rests on it


def test_fixture_notes_are_distinct() -> None:
    lines = (FIXTURES / "evidence_visibility.jsonl").read_text().splitlines()
    notes = [json.loads(line)["note"] for line in lines]
    assert len(set(notes)) == len(notes)
    assert not any(a in b for a in notes for b in notes if a != b)
