"""The served fakes' state by natural keys, and the duplicates in it.

The fakes' own ``snapshot()`` gives their data by natural keys (idnumbers, vendor_guids,
titles; database ids left out) as sorted tuples, so a duplicate shows as a repeated entry
and two states compare equal exactly when they hold the same records. The duplicate counts
here name what "the same object twice" means on each system.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.canvas.fake_canvas import FakeCanvas
from tests.moodle.fake_moodle import FakeMoodle


def _repeats(keys: Iterable[Any]) -> int:
    """How many entries repeat an earlier one (3 copies of a key count 2)."""
    return sum(count - 1 for count in Counter(keys).values() if count > 1)


def moodle_state(site: FakeMoodle) -> tuple[Any, ...]:
    """Frameworks, competencies, related pairs, course links, ratings (and how many
    evidence records each rated user competency holds: a repeated rating is visible)."""
    ratings_evidence = tuple(
        sorted(
            (
                uc["userid"],
                site.competencies[uc["competencyid"]]["idnumber"]
                if uc["competencyid"] in site.competencies
                else f"#{uc['competencyid']}",
                len(site.evidence_of.get(uc["id"], [])),
            )
            for uc in site.user_competencies.values()
        )
    )
    return (*site.snapshot(), ratings_evidence)


def moodle_duplicates(site: FakeMoodle) -> int:
    """Frameworks sharing an idnumber, competencies sharing (framework, idnumber), repeated
    related pairs and course links."""
    frameworks, _competencies, related, links, _ratings = site.snapshot()
    framework_of = {fid: fw["idnumber"] for fid, fw in site.frameworks.items()}
    return (
        _repeats(fw[0] for fw in frameworks)
        + _repeats(
            (framework_of.get(c["competencyframeworkid"]), c["idnumber"])
            for c in site.competencies.values()
        )
        + _repeats(related)
        + _repeats((link[0], link[1]) for link in links)
    )


def canvas_state(canvas: FakeCanvas) -> tuple[Any, ...]:
    """Active groups and outcomes with their links (``FakeCanvas.snapshot``), plus the
    context's mastery scale and calculation method."""
    settings = (
        tuple(sorted((ctx, json_text(v)) for ctx, v in canvas.proficiency.items())),
        tuple(sorted((ctx, repr(v)) for ctx, v in canvas.calc_method.items())),
    )
    return (*canvas.snapshot(), settings)


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def canvas_duplicates(canvas: FakeCanvas) -> int:
    """Active groups sharing (context, parent, vendor_guid or title), active outcomes sharing
    a vendor_guid (or, without one, a title) in a context, and an outcome linked twice into
    one group."""
    groups = [g for g in canvas.groups.values() if g["active"] and g["parent_id"] is not None]
    outcomes = [o for o in canvas.outcomes.values() if o["active"]]
    links = [link for link in canvas.links.values() if link["active"]]
    return (
        _repeats((g["context"], g["parent_id"], g["vendor_guid"] or g["title"]) for g in groups)
        + _repeats((o["context"], o["vendor_guid"] or o["title"]) for o in outcomes)
        + _repeats((link["group_id"], link["outcome_id"]) for link in links)
    )
