"""A generated 703-item framework shaped like the Common Core maths package, with its text.

Real frameworks hold text Moodle refuses as it is (issue 10, recordings 36-40): the
Common Core package has bare ``&``, ``<`` and ``>`` in descriptions and ``<sup>``/``<sub>``
in titles. This generator writes such a framework deterministically, so the tests do not
depend on a downloaded package: 19 domains x 4 clusters x 8 standards = 703 competencies,
with

* titles holding a bare ``&`` ("Operations & Algebraic Thinking"), ``<sup>``/``<sub>``
  (with and without Unicode forms), other tags, and a ``<`` that would start a tag;
* plain descriptions with ``R&D``, ``a < b``, ``b > a``, line breaks, surrounding white
  space, and long ones (over 2,000 characters);
* HTML descriptions (``<p>``, lists, ``<sup>``, ``R&amp;D``) and some HTML that Moodle's
  cleaner would rewrite (a bare ``&``, ``<br>``, upper-case tags, an unclosed ``<li>``);
* markdown descriptions with bare ``&`` and ``<``;
* all-children rules on clusters, points rules on domains (so rules are written over
  descriptions with every format);
* the four-level scale of the test site (``FOUR_LEVEL_SCALE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from comp_adapters.core.evidence import Evidence, EvidenceKind
from comp_adapters.core.framework import Framework
from comp_adapters.core.validation import framework_from_data
from tests.moodle.conftest import AS_OF, four_level_scale

DOMAINS, CLUSTERS, STANDARDS = 19, 4, 8
KEY = "CCSS-MATH-GEN"
SUBJECTS = (
    "Operations & Algebraic Thinking",
    "Number & Operations in Base Ten",
    "Measurement & Data",
    "Geometry",
    "Ratios & Proportional Relationships",
)
CLUSTER_TITLES = (
    "Work with radicals and integer exponents: x<sup>2</sup> = 9",
    "Sequences a<sub>n</sub> and a<sub>n+1</sub>",
    "Understand <em>place value</em>",
    "Use x<sup>q</sup> and H<sub>2</sub>O in context",
    "Compare a<b and b>a",
    "Represent & interpret data",
)
LONG = (
    "Students explain the structure of the problem, R&D style, and compare a < b with b > a "
    "across many worked examples; they justify each step and check it against the context. "
) * 12


def _description(index: int) -> dict[str, Any]:
    """Standard ``index``'s description: every kind of text, in turn."""
    kind = index % 12
    if kind == 0:
        return {"description": "Use R&D methods to solve problems.", "description_format": "plain"}
    if kind == 1:
        return {"description": "Know that a < b when b > a.", "description_format": "plain"}
    if kind == 2:
        return {
            "description": "Line one of the standard.\nLine two: 3 < 4 & 4 > 3.",
            "description_format": "plain",
        }
    if kind == 3:
        return {"description": LONG.strip(), "description_format": "plain"}
    if kind == 4:
        return {
            "description": "<p>Apply properties of operations.</p><ul><li>R&amp;D</li>"
            "<li>x<sup>2</sup></li></ul>",
            "description_format": "html",
        }
    if kind == 5:
        return {"description": "<p>Fluently add & subtract.</p>", "description_format": "html"}
    if kind == 6:
        return {
            "description": "<P>Interpret<br>products</P><ul><li>one<li>two</ul>",
            "description_format": "html",
        }
    if kind == 7:
        return {
            "description": "Solve *word problems* with a & b < c.",
            "description_format": "markdown",
        }
    if kind == 8:
        return {
            "description": "  Plain text with surrounding spaces.  \n",
            "description_format": "plain",
        }
    if kind == 9:
        return {"description": "Plain text Moodle takes as it is.", "description_format": "plain"}
    if kind == 10:
        return {
            "description": "<p>Already <strong>clean</strong> HTML.</p>",
            "description_format": "html",
        }
    return {}


def text_heavy_framework() -> Framework:
    """The 703-item framework (see the module docstring)."""
    competencies: list[dict[str, Any]] = []
    standard = 0
    for d in range(DOMAINS):
        domain = f"G{d}"
        clusters = [f"{domain}.C{c}" for c in range(CLUSTERS)]
        competencies.append(
            {
                "key": domain,
                "title": f"Grade {d}: {SUBJECTS[d % len(SUBJECTS)]}",
                "description": f"Domain {d}: R&D, 1 < 2 and 2 > 1.",
                "description_format": "plain",
                "rollup": {
                    "type": "points",
                    "outcome": "complete",
                    "base_points": 2,
                    "children": [
                        {"key": cluster, "points": 1, "required": n == 0}
                        for n, cluster in enumerate(clusters)
                    ],
                },
            }
        )
        for c, cluster in enumerate(clusters):
            competencies.append(
                {
                    "key": cluster,
                    "title": CLUSTER_TITLES[(d * CLUSTERS + c) % len(CLUSTER_TITLES)],
                    "parent": domain,
                    "description": f"Cluster {c} of grade {d}" + (" & more" if c % 2 else ""),
                    "description_format": "plain" if c % 3 else "html",
                    "rollup": {"type": "all_children", "outcome": "complete"},
                }
            )
            for s in range(STANDARDS):
                competencies.append(
                    {
                        "key": f"{cluster}.S{s}",
                        "title": f"Standard {d}.{c}.{s}" + (" (R&D)" if s == 0 else ""),
                        "parent": cluster,
                        **_description(standard),
                    }
                )
                standard += 1
    return framework_from_data(
        {
            "key": KEY,
            "title": "Generated mathematics standards <sup>(CCSS-like)</sup>",
            "description": "Generated framework: 703 items, R&D and a < b in its texts.",
            "description_format": "plain",
            "scale": four_level_scale(),
            "taxonomy_levels": ["domain", "concept", "outcome"],
            "competencies": competencies,
        }
    )


def evidence_for(framework: Framework, learners: int, per_learner: int) -> Iterator[Evidence]:
    """Observations of ``per_learner`` leaves per learner, levels in turn."""
    leaves = [c.key for c in framework.walk() if not framework.children_of(c.key)]
    levels = [level.key for level in framework.scale.levels]
    for n in range(learners):
        for j in range(per_learner):
            competency = leaves[(n * 7 + j * 3) % len(leaves)]
            yield Evidence(
                id=f"obs-{n}-{j}",
                learner=f"learner{n}@example.com",
                competency=competency,
                kind=EvidenceKind.OBSERVATION,
                level=levels[(n + j) % len(levels)],
                observed_at=AS_OF - timedelta(days=j + 1),
            )
