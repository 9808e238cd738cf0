"""``Framework.model_copy`` must not keep navigation caches of the original."""

from __future__ import annotations

from pathlib import Path

from comp_adapters.native import load_framework

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support" / "framework.json"


def test_copy_with_new_competencies_navigates_the_new_ones() -> None:
    framework = load_framework(EXAMPLE)
    assert next(framework.walk()).title == "Product knowledge"  # fills the caches
    renamed = tuple(c.model_copy(update={"title": c.title.upper()}) for c in framework.competencies)
    copy = framework.model_copy(update={"competencies": renamed})
    assert next(copy.walk()).title == "PRODUCT KNOWLEDGE"
    assert copy.get("product").title == "PRODUCT KNOWLEDGE"
    assert [c.key for c in copy.children_of("product")] == [
        c.key for c in framework.children_of("product")
    ]
    # the original is untouched
    assert next(framework.walk()).title == "Product knowledge"
