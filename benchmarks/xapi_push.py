"""Requests and time of an xAPI push: one POST per batch vs a GET and a PUT per statement.

Pushes ``--n`` proficiency statements into the fake LRS of the test suite (a real HTTP server
on 127.0.0.1), once the way ``xapi push`` does it now (one paged query of what the LRS holds,
then one POST per batch of 200) and once the way it did before issue 12 (a GET by id, then a
PUT, per statement), each into an empty LRS, in the same process; then pushes the same
results again (a re-run) and counts what that sends. Run from the repository root::

    .venv/bin/python benchmarks/xapi_push.py [--n 500]

The last line is ``RESULT statements=<n> requests_batched=<n> requests_per_statement=<n>
resync_posts=<n> time_ratio=<per-statement time / batched time>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.xapi.fake_lrs import FakeLrs

from comp_adapters.core.proficiency import Proficiency
from comp_adapters.xapi import IdentityConfig, MappingConfig, XapiAdapter

MAPPING = MappingConfig(
    identity=IdentityConfig(push_home_page="https://lms.example.org"),
    competency_iri_base="https://competencies.example.org/",
)


def results(n: int) -> list[Proficiency]:
    return [
        Proficiency(
            learner=f"learner{i // 10}",
            competency=f"c{i % 10}",
            score=None,
            level=None,
            proficient=i % 3 != 0,
            method="latest",
            as_of=datetime(2026, 3, 1, tzinfo=UTC),
            explanation=f"latest of 1 result: {i}",
        )
        for i in range(n)
    ]


def batched(n: int) -> tuple[float, int, int]:
    """Seconds and requests of a push, and POSTs of the re-run."""
    lrs = FakeLrs().start()
    try:
        adapter = XapiAdapter(lrs.client(version="1.0.3"), mapping=MAPPING)
        start = time.perf_counter()
        adapter.apply(adapter.plan_proficiency(results(n)))
        seconds = time.perf_counter() - start
        requests = len(lrs.requests)
        _check(lrs, n)
        lrs.requests.clear()
        adapter.apply(adapter.plan_proficiency(results(n)))
        return seconds, requests, lrs.count("POST")
    finally:
        lrs.stop()


def per_statement(n: int) -> tuple[float, int]:
    """The former way: look each id up, then PUT it."""
    lrs = FakeLrs().start()
    try:
        client = lrs.client(version="1.0.3")
        adapter = XapiAdapter(client, mapping=MAPPING)
        start = time.perf_counter()
        for item in adapter.proficiency_statements(results(n)):
            if client.get_statement(item.id) is None:
                client.put_statement(item.id, item.to_json())
        seconds = time.perf_counter() - start
        _check(lrs, n)
        return seconds, len(lrs.requests)
    finally:
        lrs.stop()


def _check(lrs: FakeLrs, n: int) -> None:
    if len(lrs.rows) != n:
        raise SystemExit(f"the LRS holds {len(lrs.rows)} statements, not {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    new_s, new_requests, resync_posts = batched(args.n)
    old_s, old_requests = per_statement(args.n)
    print(f"batched:       {new_requests} requests, {new_s:.3f} s")
    print(f"per statement: {old_requests} requests, {old_s:.3f} s")
    print(
        f"RESULT statements={args.n} requests_batched={new_requests} "
        f"requests_per_statement={old_requests} resync_posts={resync_posts} "
        f"time_ratio={old_s / new_s:.1f}"
    )


if __name__ == "__main__":
    main()
