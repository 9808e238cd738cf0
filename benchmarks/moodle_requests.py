"""Requests Moodle needs: a push batched vs one call per request, and the life cycle of
real frameworks (push, re-push, rate 100 learners, re-rate).

1. Pushes a 500-competency framework (5 domains x 9 skills x 10 indicators, 50 rules, 50
   cross-references) into the fake Moodle of the test suite, once with
   ``tool_mobile_call_external_functions`` batching and once without, then plans the same
   framework again (an unchanged re-sync) and counts what it writes.
2. For the example framework and the generated 703-item framework whose texts Moodle
   refuses as they are (``tests/moodle/generated.py``), batched: push, push again, rate
   100 learners (5 observations each, computed by the rules engine), rate again; the
   requests of each step and the writes of the repeated ones (target: 0).

Run from the repository root::

    .venv/bin/python benchmarks/moodle_requests.py

The last line is ``RESULT competencies=500 requests_batched=<n> requests_unbatched=<n>
resync_writes=<n> <name>_push=<n> <name>_repush=<n> <name>_repush_writes=<n>
<name>_rate=<n> <name>_rerate=<n> <name>_rerate_writes=<n>`` for ``example`` and
``text703`` (target: batched <= 500/20 + 10 = 35, every repeated write count 0).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
import responses

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.moodle.conftest import AS_OF, EXAMPLE, FOUR_LEVEL_SCALE, FOUR_LEVELS, four_level_scale
from tests.moodle.fake_moodle import TOKEN, URL, FakeMoodle
from tests.moodle.generated import evidence_for, text_heavy_framework

from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from comp_adapters.moodle.adapter import MoodleAdapter
from comp_adapters.moodle.settings import MoodleSettings
from comp_adapters.native import load_framework
from comp_adapters.rules import evaluate

DOMAINS, SKILLS, INDICATORS = 5, 9, 10


def big_framework() -> Framework:
    competencies = []
    for d in range(DOMAINS):
        domain = f"D{d}"
        competencies.append(
            {"key": domain, "title": f"Domain {d}", "rollup": {"type": "all_children"}}
        )
        for s in range(SKILLS):
            skill = f"{domain}.S{s}"
            children = [f"{skill}.I{i}" for i in range(INDICATORS)]
            competencies.append(
                {
                    "key": skill,
                    "title": f"Skill {d}.{s}",
                    "description": f"<p>What skill {d}.{s} covers.</p>",
                    "description_format": "html",
                    "parent": domain,
                    "rollup": {
                        "type": "points",
                        "base_points": 6,
                        "children": [
                            {"key": c, "points": 1, "required": i == 0}
                            for i, c in enumerate(children)
                        ],
                    },
                }
            )
            for i, child in enumerate(children):
                item: dict[str, object] = {
                    "key": child,
                    "title": f"Indicator {d}.{s}.{i}",
                    "parent": skill,
                }
                if i == 0 and s + 1 < SKILLS:
                    item["related"] = [{"key": f"{domain}.S{s + 1}.I1"}]
                if i == 0 and s + 1 == SKILLS and d + 1 < DOMAINS:
                    item["related"] = [{"key": f"D{d + 1}.S0.I2"}]
                competencies.append(item)
    return framework_from_data(
        {
            "key": "BENCH-500",
            "title": "Benchmark framework",
            "scale": four_level_scale(),
            "taxonomy_levels": ["domain", "skill", "indicator"],
            "competencies": competencies,
        }
    )


def push(framework: Framework, *, batch: bool) -> tuple[int, int, int, int, float]:
    """(plan changes, requests, resync requests, resync writes, seconds) for one site."""
    site = FakeMoodle(batching=batch, scales={FOUR_LEVEL_SCALE: FOUR_LEVELS})
    with responses.RequestsMock() as mock:
        site.install(mock)
        settings = MoodleSettings(url=URL, token=TOKEN, batch=batch, scale_id=FOUR_LEVEL_SCALE)
        adapter = MoodleAdapter.from_settings(settings, session=requests.Session())
        started = time.perf_counter()
        plan = adapter.plan_framework(framework)
        adapter.apply(plan)
        seconds = time.perf_counter() - started
        requests_used = site.http_requests
        writes_before = site.writes
        again = MoodleAdapter.from_settings(settings, session=requests.Session())
        replan = again.plan_framework(framework)
        report = again.apply(replan)
        resync_requests = site.http_requests - requests_used
        resync_writes = site.writes - writes_before
        if report.writes != len(replan.writes):
            raise RuntimeError("the re-sync applied something else than it planned")
    return len(plan.writes), requests_used, resync_requests, resync_writes, seconds


def life_cycle(framework: Framework, learners: int = 100) -> dict[str, int]:
    """Requests (and writes) of push, re-push, rate and re-rate, batched."""
    site = FakeMoodle(scales={FOUR_LEVEL_SCALE: FOUR_LEVELS})
    counts: dict[str, int] = {}

    def adapter() -> MoodleAdapter:
        settings = MoodleSettings(url=URL, token=TOKEN, batch=True, scale_id=FOUR_LEVEL_SCALE)
        return MoodleAdapter.from_settings(settings, session=requests.Session())

    def step(name: str, do: Callable[[], object]) -> None:
        before_requests, before_writes = site.http_requests, site.writes
        do()
        counts[name] = site.http_requests - before_requests
        counts[f"{name}_writes"] = site.writes - before_writes

    with responses.RequestsMock() as mock:
        site.install(mock)

        def sync() -> None:  # as the CLI does: one adapter plans and applies
            pusher = adapter()
            pusher.apply(pusher.plan_framework(framework))

        step("push", sync)
        step("repush", sync)
        for n in range(learners):
            site.add_user(f"learner{n}")
        results = evaluate(framework, evidence_for(framework, learners, 5), as_of=AS_OF)
        rater = adapter()
        step("rate", lambda: rater.apply(rater.plan_proficiency(results, framework=framework)))
        step("rerate", lambda: rater.apply(rater.plan_proficiency(results, framework=framework)))
    return counts


def main() -> int:
    framework = big_framework()
    count = len(framework.competencies)
    changes, batched, resync_requests, resync_writes, t_batched = push(framework, batch=True)
    _, unbatched, resync_unbatched, resync_writes_u, t_unbatched = push(framework, batch=False)
    print(f"framework: {count} competencies, {changes} changes to write on an empty site")
    print(f"one call per change:   {changes} write requests (+ the reads)")
    print(f"without batching:      {unbatched} requests ({t_unbatched:.2f}s against the fake)")
    print(f"with batching:         {batched} requests ({t_batched:.2f}s against the fake)")
    print(f"batching saves:        {unbatched / batched:.1f}x fewer requests")
    print(
        f"unchanged re-sync:     {resync_requests} requests batched, "
        f"{resync_unbatched} unbatched; writes {resync_writes} / {resync_writes_u}"
    )
    target = count / 20 + 10
    print(f"target batched <= {target:.0f}: {'met' if batched <= target else 'MISSED'}")
    cycles = {
        "example": life_cycle(load_framework(EXAMPLE)),
        "text703": life_cycle(text_heavy_framework()),
    }
    for name, c in cycles.items():
        print(
            f"{name}: push {c['push']} requests ({c['push_writes']} writes), re-push "
            f"{c['repush']} ({c['repush_writes']} writes), rate 100 learners {c['rate']} "
            f"({c['rate_writes']} writes), re-rate {c['rerate']} ({c['rerate_writes']} writes)"
        )
    extra = " ".join(
        f"{name}_{step}={c[key]}"
        for name, c in cycles.items()
        for step, key in (
            ("push", "push"),
            ("repush", "repush"),
            ("repush_writes", "repush_writes"),
            ("rate", "rate"),
            ("rerate", "rerate"),
            ("rerate_writes", "rerate_writes"),
        )
    )
    print(
        f"RESULT competencies={count} requests_batched={batched} "
        f"requests_unbatched={unbatched} resync_writes={resync_writes} {extra}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
