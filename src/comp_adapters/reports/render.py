"""The report as one self-contained HTML file: Jinja2 templates shipped in the package.

Everything is inline (CSS, SVG, a little JavaScript for filtering and paging the learner
lists), so the file opens offline, loads nothing from any network and prints cleanly (the
print style shows every listed learner and hides the controls). The heat map colours cells
by coverage on a colour-blind-safe sequential palette (viridis), shows the numbers on hover
(SVG titles) and repeats them in a table; the trend chart has a table too. For large
organisations the page lists the learners with the most at stake (``learners`` of the
report data, 200 by default) and says how many it leaves out; the full lists come from
``comp-adapters gaps --csv`` or a report filtered by team, role or manager.

Input is the report's data (:meth:`comp_adapters.reports.analysis.Analysis.data`); this
module only lays it out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from comp_adapters.errors import ConfigurationError

PALETTE = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
"""Viridis in five steps, low to high coverage: readable with every common colour-vision
deficiency and in greyscale (its lightness rises monotonically)."""
DARK = frozenset(PALETTE[:3])
CELL, LABEL_W, LABEL_H = 26, 190, 150
TREND_W, TREND_H, TREND_PAD = 640, 220, 40


def colour(value: float | None) -> str:
    """The palette colour of a coverage (0..1); grey for no data."""
    if value is None:
        return "#d9d9d9"
    return PALETTE[min(int(value * len(PALETTE)), len(PALETTE) - 1)]


def _environment() -> Any:
    try:
        import jinja2  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ConfigurationError(
            "the HTML report needs Jinja2: pip install 'comp-adapters[reports]'"
        ) from None
    return jinja2.Environment(
        loader=jinja2.PackageLoader("comp_adapters.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def heatmap_layout(heatmap: Mapping[str, Any], titles: Mapping[str, str]) -> dict[str, Any]:
    """Cell positions, colours and labels of the heat map's SVG."""
    cells = []
    for r, (name, values, counts) in enumerate(
        zip(heatmap["rows"], heatmap["cells"], heatmap["counts"], strict=True)
    ):
        for c, (key, value, count) in enumerate(
            zip(heatmap["columns"], values, counts, strict=True)
        ):
            if value is None:
                continue
            cells.append(
                {
                    "x": LABEL_W + c * CELL,
                    "y": LABEL_H + r * CELL,
                    "row": name,
                    "column": key,
                    "value": value,
                    "percent": round(value * 100),
                    "count": count,
                    "fill": colour(value),
                    "ink": "#ffffff" if colour(value) in DARK else "#000000",
                    "title": f"{name} \u00d7 {titles.get(key, key)}: {value * 100:.0f}% met "
                    f"({count} requirement{'s' if count != 1 else ''})",
                }
            )
    return {
        "cells": cells,
        "rows": [
            {"name": name, "y": LABEL_H + r * CELL + CELL / 2 + 4}
            for r, name in enumerate(heatmap["rows"])
        ],
        "columns": [
            {"key": key, "title": titles.get(key, key), "x": LABEL_W + c * CELL + CELL / 2}
            for c, key in enumerate(heatmap["columns"])
        ],
        "width": LABEL_W
        + len(heatmap["columns"]) * CELL
        + LABEL_H // 2
        + 40,  # room for the last rotated label
        "height": LABEL_H + len(heatmap["rows"]) * CELL + 10,
        "cell": CELL,
        "label_h": LABEL_H,
    }


def trend_layout(trend: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Point positions of the coverage trend chart (0-100% on the y axis)."""
    known = [p for p in trend if p["coverage"] is not None]
    step = (TREND_W - 2 * TREND_PAD) / max(len(trend) - 1, 1)
    points = []
    for i, point in enumerate(trend):
        if point["coverage"] is None:
            continue
        points.append(
            {
                "x": round(TREND_PAD + i * step, 1),
                "y": round(TREND_H - TREND_PAD - point["coverage"] * (TREND_H - 2 * TREND_PAD), 1),
                "label": point["as_of"][:10],
                "percent": round(point["coverage"] * 100, 1),
            }
        )
    return {
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "width": TREND_W,
        "height": TREND_H,
        "pad": TREND_PAD,
        "grid": [
            {
                "y": round(TREND_H - TREND_PAD - f * (TREND_H - 2 * TREND_PAD), 1),
                "label": f"{f:.0%}",
            }
            for f in (0, 0.25, 0.5, 0.75, 1)
        ],
        "empty": not known,
    }


def render_html(data: Mapping[str, Any]) -> str:
    """The report page of ``data`` (a report's data, see the module doc)."""
    template = _environment().get_template("report.html.j2")
    titles = data["competencies"]
    return str(
        template.render(
            data=data,
            kpis=data["kpis"],
            heat=heatmap_layout(data["kpis"]["heatmap"], titles),
            trend=trend_layout(data["kpis"]["trend"]),
            palette=[
                {"fill": fill, "label": f"{i * 20}-{(i + 1) * 20}%"}
                for i, fill in enumerate(PALETTE)
            ],
            pct=_percent,
            change=data.get("change"),
            data_json=json.dumps({"learners": len(data["learners"])}),
        )
    )


def _percent(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f}%"
