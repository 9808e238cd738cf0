"""``results-file``: computed proficiency kept in a JSON or CSV file.

The plan merges the results it is given into what the file holds (a result replaces the
file's row for its learner and competency; other rows stay), so the engine can hand over
only the results that changed. Rows are ordered by learner, then by the competency's place
in the framework, so the same results always give the same bytes: an unchanged re-sync is
a NOOP.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import orjson
from pydantic import Field

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.files.writing import FilePlanner
from comp_adapters.protocols import Capability
from comp_adapters.settings import AdapterSettings
from comp_adapters.sync.apply import ApplyReport
from comp_adapters.sync.journal import Journal
from comp_adapters.sync.plan import Plan

if TYPE_CHECKING:
    import requests

CSV_COLUMNS = (
    "learner",
    "competency",
    "level",
    "score",
    "proficient",
    "method",
    "as_of",
    "evidence_ids",
    "explanation",
)
"""The columns of a CSV results file (``evidence_ids`` joined with spaces)."""

Row = dict[str, Any]


class ResultsFileSettings(AdapterSettings):
    """Where the results go and as what."""

    path: Path = Field(description="the results file")
    format: Literal["json", "csv"] | None = Field(
        default=None, description="json or csv; default: from the file's suffix"
    )


class ResultsFileAdapter:
    """Writes proficiency results to one file."""

    name: ClassVar[str] = "results-file"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WRITES_PROFICIENCY})
    settings_model: ClassVar[type[AdapterSettings]] = ResultsFileSettings

    def __init__(self, settings: ResultsFileSettings) -> None:
        self.path = settings.path
        chosen = settings.format or ("csv" if self.path.suffix.lower() == ".csv" else "json")
        self.format: Literal["json", "csv"] = chosen
        self._planner = FilePlanner(self.name, self.path, "results-file")

    @classmethod
    def from_settings(
        cls,
        settings: AdapterSettings,
        *,
        session: requests.Session | None = None,  # noqa: ARG003 - no HTTP here
    ) -> Self:
        if not isinstance(settings, ResultsFileSettings):
            raise TypeError("results-file takes ResultsFileSettings")
        return cls(settings)

    @property
    def target(self) -> str:
        return f"file {self.path}"

    def plan_proficiency(
        self, proficiencies: Sequence[Proficiency], *, framework: Framework
    ) -> Plan:
        """One change rewriting the file with these results merged in; NOOP when the
        bytes stay the same."""
        rows = self._existing()
        for result in proficiencies:
            rows[(result.learner, result.competency)] = self._row(result)
        order = {c.key: i for i, c in enumerate(framework.competencies)}
        ordered = [
            rows[pair]
            for pair in sorted(rows, key=lambda p: (p[0], order.get(p[1], len(order)), p[1]))
        ]
        data = self._render(ordered)
        return self._planner.plan(
            data, fields={"results": len(ordered), "given": len(proficiencies)}
        )

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return self._planner.apply(plan, journal=journal)

    # -- the two formats ----------------------------------------------------------------

    def _row(self, result: Proficiency) -> Row:
        data = result.model_dump(mode="json")
        if self.format == "json":
            return data
        return {
            "learner": data["learner"],
            "competency": data["competency"],
            "level": data["level"] or "",
            "score": "" if data["score"] is None else repr(float(data["score"])),
            "proficient": "true" if data["proficient"] else "false",
            "method": data["method"],
            "as_of": data["as_of"],
            "evidence_ids": " ".join(data["evidence_ids"]),
            "explanation": data["explanation"],
        }

    def _render(self, rows: list[Row]) -> bytes:
        if self.format == "json":
            return orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n"
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")

    def _existing(self) -> dict[tuple[str, str], Row]:
        """The rows the file holds now, by (learner, competency); none without a file."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        source = str(self.path)
        if self.format == "json":
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ValidationError(
                    [Problem(f"not a results file: invalid JSON: {exc.msg}", file=source)]
                ) from None
            if not isinstance(data, list) or not all(
                isinstance(row, dict) and {"learner", "competency"} <= row.keys() for row in data
            ):
                raise ValidationError(
                    [Problem("not a results file: expected a JSON list of results", file=source)]
                )
            return {(row["learner"], row["competency"]): row for row in data}
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise ValidationError(
                [
                    Problem(
                        f"not a results file: expected the columns {', '.join(CSV_COLUMNS)}",
                        file=source,
                        line=1,
                    )
                ]
            )
        return {(row["learner"], row["competency"]): dict(row) for row in reader}
