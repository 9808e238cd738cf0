"""Regenerate evidence.jsonl: deterministic, varied evidence for the bundled example.

    python examples/customer-support/make_evidence.py

Ten learners of rising ability, every leaf competency, every evidence kind, plus one
lapsed certification (expired), one withdrawn assessment (voided) and one attestation
visible to managers only.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

LEARNERS = [
    "amara.okafor",
    "ben.schulz",
    "chloe.martin",
    "diego.ramos",
    "elif.kaya",
    "farah.haddad",
    "george.lee",
    "hana.sato",
    "ivan.petrov",
    "julia.nowak",
]
KINDS_BY_COMPETENCY = {
    "product.catalogue": ["assessment", "observation", "course_completion"],
    "product.pricing": ["assessment", "observation"],
    "product.integrations": ["project_artifact", "assessment", "certification"],
    "comm.listening": ["observation", "attestation"],
    "comm.written": ["assessment", "observation", "project_artifact"],
    "comm.de-escalation": ["observation", "lms_rating"],
    "ts.diagnosis": ["assessment", "observation", "project_artifact"],
    "ts.knowledge-base": ["assessment", "lms_rating"],
    "ts.escalation": ["observation", "attestation"],
}
LEVELS = ["beginning", "developing", "proficient", "expert"]
SOURCES = {
    "assessment": ("lrs", "xapi"),
    "observation": ("coaching-app", "obs"),
    "project_artifact": ("portfolio", "art"),
    "certification": ("certifier", "cert"),
    "attestation": ("hr", "att"),
    "course_completion": ("moodle", "cc"),
    "lms_rating": ("moodle", "rating"),
}
SPECIAL = [
    {
        "id": "cs-9001",
        "learner": "ben.schulz",
        "competency": "product.integrations",
        "kind": "certification",
        "success": True,
        "observed_at": "2024-03-01T09:00:00Z",
        "recorded_at": "2024-03-01T09:05:00Z",
        "expires_at": "2026-03-01T00:00:00Z",
        "source_system": "certifier",
        "source_id": "cert-legacy-77",
        "note": "legacy integration certificate, lapsed",
    },
    {
        "id": "cs-9002",
        "learner": "julia.nowak",
        "competency": "comm.written",
        "kind": "assessment",
        "score": 0.12,
        "success": False,
        "observed_at": "2026-05-04T10:00:00Z",
        "recorded_at": "2026-05-04T10:30:00Z",
        "voided": True,
        "source_system": "lrs",
        "source_id": "xapi-void-demo",
        "note": "withdrawn: graded against the wrong rubric",
    },
    {
        "id": "cs-9003",
        "learner": "hana.sato",
        "competency": "ts.escalation",
        "kind": "attestation",
        "level": "expert",
        "observed_at": "2026-10-20T15:00:00Z",
        "recorded_at": "2026-10-21T08:00:00Z",
        "visibility": "managers",
        "source_system": "hr",
        "source_id": "att-manager-review",
        "note": "team lead attestation",
    },
]


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(seed: int = 20261128) -> list[dict[str, object]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    number = 0
    for rank, learner in enumerate(LEARNERS):
        skill = 0.45 + 0.055 * rank
        for competency, kinds in KINDS_BY_COMPETENCY.items():
            low = 2 if competency == "product.integrations" else 1
            for attempt in range(rng.randint(low, 4)):
                number += 1
                kind = rng.choice(kinds)
                observed = start + timedelta(
                    days=rng.randint(0, 290), hours=rng.randint(0, 9), minutes=rng.randint(0, 59)
                )
                ability = min(1.0, max(0.05, rng.gauss(skill + 0.04 * attempt, 0.15)))
                system, prefix = SOURCES[kind]
                row: dict[str, object] = {
                    "id": f"cs-{number:04d}",
                    "learner": learner,
                    "competency": competency,
                    "kind": kind,
                }
                if kind in ("assessment", "project_artifact"):
                    row["score"] = round(ability, 2)
                    if kind == "assessment":
                        row["success"] = ability >= 0.75
                elif kind in ("observation", "attestation", "lms_rating"):
                    row["level"] = LEVELS[min(3, int(ability * 4))]
                elif kind == "course_completion":
                    row["success"] = True
                else:  # certification
                    row["success"] = ability >= 0.5
                    row["expires_at"] = _stamp(observed + timedelta(days=730))
                row["observed_at"] = _stamp(observed)
                row["recorded_at"] = _stamp(observed + timedelta(minutes=rng.randint(1, 600)))
                row["source_system"] = system
                row["source_id"] = f"{prefix}-{1000 + number}"
                rows.append(row)
    rows.extend(SPECIAL)
    rows.sort(key=lambda r: (str(r["observed_at"]), str(r["id"])))
    return rows


if __name__ == "__main__":
    target = Path(__file__).with_name("evidence.jsonl")
    with target.open("w", encoding="utf-8") as handle:
        for item in generate():
            handle.write(json.dumps(item) + "\n")
