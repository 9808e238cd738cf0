"""compute's table: the same text as the plain per-row rendering, from either engine, and
the garbage collector as it was afterwards."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest

from comp_adapters.cli.core_commands import render_table
from comp_adapters.cli.main import main
from comp_adapters.core.framework import Framework
from comp_adapters.evidence_reader import read_evidence_table
from comp_adapters.examples import example_dir
from comp_adapters.native import iter_evidence, load_framework
from comp_adapters.rules.engine import Evaluation, evaluate_detailed, evaluate_table
from comp_adapters.rules.proficiency_table import ProficiencyTable

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def reference_table(framework: Framework, result: Evaluation | ProficiencyTable) -> str:
    """The table formatted row by row, field by field: what render_table must give."""
    lines = [f"{framework.title} ({framework.key} v{framework.version}) as of 2026-11-01T00:00:00Z"]
    lines.append("")
    items = result.proficiencies if isinstance(result, Evaluation) else result.summaries()
    by_learner: dict[str, dict[str, object]] = {}
    for item in items:
        by_learner.setdefault(item.learner, {})[item.competency] = item
    order = list(framework.walk())
    names = [("  " * (framework.depth(c.key) - 1)) + c.title for c in order]
    width = max([len(n) for n in names] + [10])
    for learner in sorted(by_learner):
        lines.append(learner)
        lines.append(f"  {'competency':<{width}}  {'level':<14} {'score':>6}  proficient  method")
        for competency, name in zip(order, names, strict=True):
            found = by_learner[learner].get(competency.key)
            if found is None:
                why = "rule not met" if competency.rollup else "no evidence"
                lines.append(f"  {name:<{width}}  {'-':<14} {'':>6}  {'':<10}  {why}")
                continue
            level = getattr(found, "level", None)
            shown = framework.scale_for(competency.key).by_key[level].name if level else "-"
            score = getattr(found, "score", None)
            text = f"{score:.2f}" if score is not None else ""
            flag = "yes" if getattr(found, "proficient", False) else "no"
            if getattr(found, "review_requested", False):
                flag += " (review)"
            method = getattr(found, "method", "")
            lines.append(f"  {name:<{width}}  {shown:<14} {text:>6}  {flag:<10}  {method}")
        lines.append("")
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(result.skipped.items()))
    lines.append(
        f"{len(by_learner)} learners, {result.used} evidence used"
        + (f"; skipped: {skipped}" if skipped else "")
    )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("engine", ["rows", "columns"])
def test_the_table_is_the_row_by_row_rendering(engine: str) -> None:
    folder = example_dir()
    framework = load_framework(folder / "framework.json")
    evidence = folder / "evidence.jsonl"
    result: Evaluation | ProficiencyTable
    if engine == "rows":
        result = evaluate_detailed(framework, iter_evidence(evidence), as_of=AS_OF)
    else:
        result = evaluate_table(framework, read_evidence_table(evidence), as_of=AS_OF)
    text = render_table(framework, AS_OF, result)
    assert "(review)" in text  # the example has every kind of row
    assert "rule not met" in text or "no evidence" in text
    assert text == reference_table(framework, result)


def test_compute_leaves_the_collector_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    assert gc.isenabled()
    assert main(["compute", "--quiet", "--as-of", "2026-11-01"]) == 0
    assert gc.isenabled()
    assert "learners" in capsys.readouterr().out
