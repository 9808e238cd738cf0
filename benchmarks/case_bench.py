"""Throughput of the CASE file format on a large synthetic package (a script, not a test).

Builds a CFPackage of ~20,000 items (5 levels deep, every item with an isChildOf and a
cross relation, one rubric criterion per 50 items), then times reading it into the core
model (lenient parse + mapping) and writing it back as strict CASE 1.1 JSON. The reference,
measured in the same process on the same package, is the JSON work alone (``json.loads`` of
the input, ``json.dumps`` of the output): the ratios say how many times that the whole read
and write cost, whatever the machine's load. Ends with ``RESULT case_read_items_per_s=<n>
case_write_items_per_s=<n> read_vs_json_loads=<x> write_vs_json_dumps=<x> items=<n>``.

    .venv/bin/python benchmarks/case_bench.py [--items N]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from comp_adapters.case.package_format import case_json, read_case_data

NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
STAMP = "2024-05-01T10:00:00+00:00"


def ident(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def build(count: int) -> dict[str, Any]:
    doc = ident("doc")
    items, associations, criteria = [], [], []
    fanout = 7
    for n in range(count):
        item = ident(f"item{n}")
        parent = doc if n < fanout else ident(f"item{n // fanout - 1}")
        items.append(
            {
                "identifier": item,
                "uri": f"https://case.example.org/uri/{item}",
                "fullStatement": f"Statement {n}: " + "students can reason about it " * 4,
                "humanCodingScheme": f"B.{n}",
                "CFItemType": "Standard",
                "educationLevel": ["09", "10"],
                "lastChangeDateTime": STAMP,
            }
        )
        for kind, target in (
            ("isChildOf", parent),
            ("isRelatedTo", ident(f"item{(n * 31) % count}")),
        ):
            if kind == "isRelatedTo" and target == item:
                continue
            associations.append(
                {
                    "identifier": ident(f"{kind}{n}"),
                    "uri": f"https://case.example.org/uri/{kind}{n}",
                    "associationType": kind,
                    "originNodeURI": {"title": "", "identifier": item, "uri": f"u:{item}"},
                    "destinationNodeURI": {"title": "", "identifier": target, "uri": f"u:{target}"},
                    "sequenceNumber": n % fanout + 1 if kind == "isChildOf" else None,
                    "lastChangeDateTime": STAMP,
                }
            )
        if n % 50 == 0:
            criteria.append(
                {
                    "identifier": ident(f"crit{n}"),
                    "uri": f"u:crit{n}",
                    "CFItemURI": {"title": "", "identifier": item, "uri": f"u:{item}"},
                    "lastChangeDateTime": STAMP,
                    "CFRubricCriterionLevels": [
                        {
                            "identifier": ident(f"lvl{n}.{k}"),
                            "uri": f"u:lvl{n}.{k}",
                            "quality": q,
                            "score": k,
                            "lastChangeDateTime": STAMP,
                        }
                        for k, q in enumerate(
                            ("Beginning", "Developing", "Proficient", "Advanced"), 1
                        )
                    ],
                }
            )
    return {
        "CFDocument": {
            "identifier": doc,
            "uri": f"https://case.example.org/uri/{doc}",
            "creator": "Benchmark",
            "title": "Synthetic framework",
            "lastChangeDateTime": STAMP,
        },
        "CFItems": items,
        "CFAssociations": associations,
        "CFRubrics": [
            {
                "identifier": ident("rubric"),
                "uri": "u:rubric",
                "lastChangeDateTime": STAMP,
                "CFRubricCriteria": criteria,
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (the best counts)")
    args = parser.parse_args()
    text = json.dumps(build(args.items))
    # Each reference is measured next to the step it describes, with the same objects alive
    # (the garbage collector's work grows with the heap).
    loads_s = best_of(args.repeat, lambda: json.loads(text))
    read_s = best_of(args.repeat, lambda: read_case_data(json.loads(text)))
    framework, warnings = read_case_data(json.loads(text))
    now = datetime(2025, 1, 1, tzinfo=UTC)
    out, _ = case_json(framework, now=now)
    written = json.loads(out)
    dumps_s = best_of(args.repeat, lambda: json.dumps(written, indent=2, ensure_ascii=False))
    write_s = best_of(args.repeat, lambda: case_json(framework, now=now))
    print(
        f"{args.items} items, {len(framework.competencies)} competencies, "
        f"{len(warnings)} warnings; "
        f"package {len(text) / 1e6:.1f} MB in, {len(out) / 1e6:.1f} MB out; best of "
        f"{args.repeat}: read {read_s:.2f}s (json.loads {loads_s:.2f}s), "
        f"write {write_s:.2f}s (json.dumps {dumps_s:.2f}s)"
    )
    print(
        f"RESULT case_read_items_per_s={args.items / read_s:.0f} "
        f"case_write_items_per_s={args.items / write_s:.0f} "
        f"read_vs_json_loads={read_s / loads_s:.1f} write_vs_json_dumps={write_s / dumps_s:.1f} "
        f"items={args.items}"
    )


def best_of(times: int, run: Callable[[], object]) -> float:
    """The shortest of ``times`` runs of ``run``, in seconds (the reference measurement)."""
    found = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        found.append(time.perf_counter() - start)
    return min(found)


if __name__ == "__main__":
    main()
