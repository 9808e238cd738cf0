"""Small framework versions built in code for the governance tests: a support framework
whose 2.0 splits "Communication" into written and verbal communication."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from comp_adapters.core import Evidence, Framework, framework_from_data
from comp_adapters.governance import (
    AuditEntry,
    append_all,
    applied_change_record,
    approval_record,
    approve,
    attestation_record,
    draft,
    draft_record,
    fingerprint,
    ingest_batch_record,
    release_draft,
    release_record,
)
from tests.conftest import FOUR_LEVELS

JAN = datetime(2026, 1, 1, tzinfo=UTC)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)
T0 = datetime(2026, 2, 1, 9, tzinfo=UTC)

V1: dict[str, Any] = {
    "key": "SUPPORT",
    "title": "Support skills",
    "scale": FOUR_LEVELS,
    "calculation_method": "latest",
    "competencies": [
        {"key": "service", "title": "Service", "rollup": {"type": "all_children"}},
        {
            "key": "comm",
            "title": "Communication",
            "description": "Writes and speaks clearly.",
            "parent": "service",
            "sequence": 1,
        },
        {"key": "empathy", "title": "Empathy", "parent": "service", "sequence": 2},
        {"key": "tools", "title": "Tooling", "external_ids": {"case": "c-tools"}},
    ],
}


def v1(**overrides: Any) -> Framework:
    data = copy.deepcopy(V1)
    data.update(overrides)
    return framework_from_data(data)


def v2_data(*, keep_comm: bool = True) -> dict[str, Any]:
    """2.0: "comm" split into "comm.written" and "comm.verbal". ``keep_comm``: "comm" stays,
    retired to the top level and marked replaced_by both (as CASE retires an item);
    otherwise it is gone."""
    data = copy.deepcopy(V1)
    competencies = [c for c in data["competencies"] if c["key"] != "comm" or keep_comm]
    for competency in competencies:
        if competency["key"] == "comm":
            competency["related"] = [
                {"type": "replaced_by", "key": "comm.written"},
                {"type": "replaced_by", "key": "comm.verbal"},
            ]
            del competency["sequence"]
            del competency["parent"]  # retired to the top level, out of the service rule
    competencies[1:1] = [
        {"key": "comm.written", "title": "Written communication", "parent": "service"},
        {"key": "comm.verbal", "title": "Verbal communication", "parent": "service"},
    ]
    data["competencies"] = competencies
    return data


def v2(*, keep_comm: bool = True) -> Framework:
    return framework_from_data(v2_data(keep_comm=keep_comm))


def ev(
    evidence_id: str,
    learner: str,
    competency: str,
    when: datetime,
    **fields: Any,
) -> Evidence:
    if not {"score", "level", "success"} & fields.keys():
        fields["level"] = "proficient"
    return Evidence(
        id=evidence_id, learner=learner, competency=competency, observed_at=when, **fields
    )


def audit_chain(length: int = 8) -> list[AuditEntry]:
    """A chain with one entry of every kind (five), then ingest batches up to ``length``."""
    drafted = draft(
        v2(), version="2.0", effective_from=MARCH, rationale="split comm", actor="alice", at=T0
    ).version
    approved = approve(drafted, actor="bob", at=T0 + timedelta(hours=1))
    released = release_draft(approved, actor="alice", at=T0 + timedelta(hours=2))
    records = [
        draft_record(drafted),
        approval_record(approved, approved.approvals[0]),
        release_record(released),
        applied_change_record(
            target="moodle-prod",
            key="comm.written",
            action="create",
            before=None,
            after=fingerprint({"shortname": "Written communication"}),
            actor="sync",
            at=T0 + timedelta(hours=3),
            plan="f" * 64,
            change_id="c1",
            version="SUPPORT@2.0",
        ),
        attestation_record(
            ev("att-1", "amara", "comm.verbal", T0, kind="attestation", note="observed on call"),
            actor="carol",
            at=T0 + timedelta(hours=4),
        ),
    ]
    records.extend(
        ingest_batch_record(
            source="lrs",
            cursor_before={"since": f"2026-02-01T0{i}:00:00Z"},
            cursor_after={"since": f"2026-02-01T0{i + 1}:00:00Z"},
            counts={"new": 10 * i, "duplicate": i},
            actor="sync",
            at=T0 + timedelta(hours=5 + i),
        )
        for i in range(length - len(records))
    )
    return append_all(None, records)
