"""Cost of governance on large inputs, as ratios to work measured in the same process.

1. Audit verification: a chain of ``--entries`` ingest-batch entries is verified; the
   reference is hashing the same canonical JSON with ``hashlib`` alone (what any
   verification must do at least). ``verify_vs_hashing`` is how many times that verify costs.
2. Evaluation in force with carry-over: ``--learners`` learners x 20 competencies, 5
   pieces of evidence each, across one release that splits a competency in two; the
   reference is one plain ``rules.evaluate`` of the same evidence with the new version.
   ``carry_over_vs_evaluate`` is the overhead of judging by the version in force and
   carrying results across the change.
3. Semantic diff of a ``--competencies``-competency framework with a tenth renamed (keys
   changed, same title and description) against the canonical hashing of both documents.

Best of ``--repeat`` runs each. Ends with ``RESULT verify_entries_per_s=<n>
verify_vs_hashing=<x> carry_over_vs_evaluate=<x> diff_vs_hashing=<x>``.

    .venv/bin/python benchmarks/governance_bench.py [--entries N] [--learners N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from comp_adapters.core import Evidence, framework_from_data
from comp_adapters.governance import (
    CarryOver,
    append_all,
    content_hash,
    diff_frameworks,
    evaluate_in_force,
    ingest_batch_record,
    release,
    verify,
)
from comp_adapters.governance.audit import CHAIN_FORMAT
from comp_adapters.rules import evaluate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCALE = {
    "levels": [
        {"key": "no", "name": "Not yet", "points": 1},
        {"key": "yes", "name": "Yes", "points": 3, "proficient": True},
    ],
    "default_level": "yes",
}


def check(condition: bool, what: str) -> None:
    """Stop when the measured work does not do what it should (then its time means nothing)."""
    if not condition:
        raise SystemExit(f"benchmark check failed: {what}")


def best(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_verify(entries: int, repeat: int) -> tuple[float, float]:
    records = [
        ingest_batch_record(
            source="lrs",
            cursor_before={"since": i},
            cursor_after={"since": i + 1},
            counts={"new": i % 97, "duplicate": i % 5},
            actor="sync",
            at=T0 + timedelta(seconds=i),
        )
        for i in range(entries)
    ]
    chain = append_all(None, records)
    check(verify(chain, head=chain[-1].head).ok, "the chain verifies")
    documents = [
        {
            "chain": CHAIN_FORMAT,
            "seq": e.seq,
            "at": e.at.isoformat().replace("+00:00", "Z"),
            "kind": e.kind,
            "actor": e.actor,
            "payload": e.payload,
            "prev_hash": e.prev_hash,
        }
        for e in chain
    ]

    def reference() -> None:
        for document in documents:
            text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            hashlib.sha256(text.encode()).hexdigest()

    verify_s = best(repeat, lambda: verify(chain, head=chain[-1].head))
    return entries / verify_s, verify_s / best(repeat, reference)


def framework_data(competencies: int, *, split: bool) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"key": f"c{n}", "title": f"Competency {n}"} for n in range(competencies)
    ]
    if split:
        items[0]["related"] = [
            {"type": "replaced_by", "key": "c0.a"},
            {"type": "replaced_by", "key": "c0.b"},
        ]
        items += [{"key": "c0.a", "title": "Half A"}, {"key": "c0.b", "title": "Half B"}]
    return {"key": "BENCH", "title": "Bench", "scale": SCALE, "competencies": items}


def bench_carry_over(learners: int, repeat: int) -> float:
    change = T0 + timedelta(days=60)
    one = release(
        framework_from_data(framework_data(20, split=False)),
        version="1",
        effective_from=T0,
        rationale="r",
        actor="a",
        at=T0,
    )
    two = release(
        framework_from_data(framework_data(20, split=True)),
        version="2",
        effective_from=change,
        rationale="r",
        actor="a",
        at=T0,
    )
    evidence = [
        Evidence(
            id=f"e{learner}-{competency}-{k}",
            learner=f"learner{learner}",
            competency=f"c{competency}",
            level="yes" if (learner + k) % 3 else "no",
            observed_at=T0 + timedelta(days=(learner + competency + 17 * k) % 120),
        )
        for learner in range(learners)
        for competency in range(20)
        for k in range(5)
    ]
    as_of = T0 + timedelta(days=150)
    policy = CarryOver()
    carried = evaluate_in_force([one, two], evidence, as_of=as_of, carry_over=policy).carried
    check(bool(carried), "the split carries results over")
    governed = best(
        repeat, lambda: evaluate_in_force([one, two], evidence, as_of=as_of, carry_over=policy)
    )
    plain = best(repeat, lambda: evaluate(two.framework, evidence, as_of=as_of))
    return governed / plain


def bench_diff(competencies: int, repeat: int) -> float:
    old_data: dict[str, Any] = {
        "key": "BENCH",
        "title": "Bench",
        "scale": SCALE,
        "competencies": [
            {
                "key": f"c{n}",
                "title": f"Competency {n}",
                "description": f"What competency {n} means.",
                **({"parent": f"c{n // 10}"} if n >= 10 else {}),
            }
            for n in range(competencies)
        ],
    }
    new_data = json.loads(json.dumps(old_data))
    renamed = {f"c{n}": f"r{n}" for n in range(competencies) if n % 10 == 3}
    for item in new_data["competencies"]:
        item["key"] = renamed.get(item["key"], item["key"])
        if "parent" in item:
            item["parent"] = renamed.get(item["parent"], item["parent"])
    old, new = framework_from_data(old_data), framework_from_data(new_data)
    check(len(diff_frameworks(old, new).renamed) == len(renamed), "every rename is recognised")
    diff_s = best(repeat, lambda: diff_frameworks(old, new))
    hashing_s = best(repeat, lambda: (content_hash(old), content_hash(new)))
    return diff_s / hashing_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--competencies", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rate, verify_ratio = bench_verify(args.entries, args.repeat)
    print(f"verify: {rate:,.0f} entries/s, {verify_ratio:.2f}x hashing alone")
    carry_ratio = bench_carry_over(args.learners, args.repeat)
    print(f"evaluate in force with carry-over: {carry_ratio:.2f}x one plain evaluate")
    diff_ratio = bench_diff(args.competencies, args.repeat)
    print(f"diff: {diff_ratio:.2f}x hashing both documents")
    print(
        f"RESULT verify_entries_per_s={rate:.0f} verify_vs_hashing={verify_ratio:.2f} "
        f"carry_over_vs_evaluate={carry_ratio:.2f} diff_vs_hashing={diff_ratio:.2f}"
    )


if __name__ == "__main__":
    main()
