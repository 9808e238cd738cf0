"""Requests a Canvas push takes: CSV import vs REST, and the writes of an unchanged re-sync.

Pushes a 1,000-competency framework (10 groups of 100 outcomes, plus the framework's own
group) into the stateful fake Canvas of the test suite, once per strategy, counting every
HTTP request the adapter sends (plan reads, writes, polls and the read-back); then plans
and applies again against the unchanged context and counts the writes. Targets: the CSV
strategy takes at most 10 requests; an unchanged re-sync writes nothing.

    .venv/bin/python benchmarks/canvas_requests.py

The last line is ``RESULT outcomes=1000 requests_csv=<n> requests_rest=<n> resync_writes=<n>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import responses

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from canvas.builders import big_framework  # noqa: E402
from canvas.fake_canvas import BASE, TOKEN, FakeCanvas  # noqa: E402
from comp_adapters.canvas import CanvasAdapter, CanvasSettings  # noqa: E402
from comp_adapters.core.framework import Framework  # noqa: E402

OUTCOMES = 1000
GROUPS = 10


def adapter(strategy: str) -> CanvasAdapter:
    settings = CanvasSettings(
        url=BASE,
        token=TOKEN,
        account="1",
        strategy=strategy,
        poll_interval=0,
        retry_backoff=0,
    )
    return CanvasAdapter.from_settings(settings)


def push(fake: FakeCanvas, target: Framework, strategy: str) -> tuple[int, int, float]:
    fake.reset()
    start = time.perf_counter()
    canvas = adapter(strategy)
    canvas.apply(canvas.plan_framework(target))
    elapsed = time.perf_counter() - start
    outcomes = sum(1 for o in fake.outcomes.values() if o["active"])
    return canvas.client.requests_sent, outcomes, elapsed


def main() -> int:
    target = big_framework(OUTCOMES, GROUPS, key="BENCH")
    fake = FakeCanvas()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        csv_requests, csv_outcomes, csv_time = push(fake, target, "csv")
        print(
            f"csv : {csv_requests:5d} requests, {csv_outcomes} outcomes, {csv_time:.2f}s "
            f"(target <= 10 requests)"
        )
        writes_before = fake.writes
        again = adapter("auto")
        plan = again.plan_framework(target)
        again.apply(plan)
        resync_writes = fake.writes - writes_before
        print(
            f"re-sync: plan has {len(plan.writes)} write(s), {again.client.requests_sent} "
            f"read request(s), {resync_writes} write request(s) (target 0)"
        )
        rest_requests, rest_outcomes, rest_time = push(fake, target, "rest")
        print(f"rest: {rest_requests:5d} requests, {rest_outcomes} outcomes, {rest_time:.2f}s")
    if not csv_outcomes == rest_outcomes == OUTCOMES:
        print(f"wrong number of outcomes: csv {csv_outcomes}, rest {rest_outcomes}")
        return 1
    print(
        f"RESULT outcomes={OUTCOMES} requests_csv={csv_requests} "
        f"requests_rest={rest_requests} resync_writes={resync_writes}"
    )
    return 0 if csv_requests <= 10 and resync_writes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
