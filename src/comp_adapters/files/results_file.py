"""``results-file``: computed proficiency kept in a JSON or CSV file.

The plan merges the results it is given into what the file holds (a result replaces the
file's row for its learner and competency; other rows stay), so the engine can hand over
only the results that changed. The same results always give the same bytes, so an
unchanged re-sync is a NOOP:

- a JSON file holds one compact result a line, learner and competency first, the lines in
  byte order (so by learner, then competency, as JSON spells them); merging a few changed
  results into a large file reads none of its other rows (:mod:`.sorted_lines`);
- a CSV file's rows are ordered by learner, then by the competency's place in the framework.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import orjson
from pydantic import Field

from comp_adapters.core.framework import Framework
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.errors import Problem, ValidationError
from comp_adapters.files.sorted_lines import (
    CLOSE,
    OPEN,
    merge_rows,
    render_lines,
    sorted_lines,
)
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
        bytes stay the same (or when no result is given and the file exists)."""
        if not proficiencies and self.path.exists():
            return self._planner.unchanged("no result changed since the file was written")
        if self.format == "json":
            return self._plan_json(proficiencies)
        rows = self._existing_csv()
        new = {(r.learner, r.competency): self._csv_row(r) for r in proficiencies}
        added = any(pair not in rows for pair in new)
        rows.update(new)
        ordered: list[Row]
        if added or not self.path.exists():
            order = {c.key: i for i, c in enumerate(framework.competencies)}
            last = len(order)
            keys = sorted(rows, key=lambda p: (p[0], order.get(p[1], last), p[1]))
            ordered = [rows[pair] for pair in keys]
        else:  # the file's own order, already canonical: only values were replaced
            ordered = list(rows.values())
        return self._planner.plan(
            _render_csv(ordered), fields={"results": len(ordered), "given": len(proficiencies)}
        )

    def _plan_json(self, proficiencies: Sequence[Proficiency]) -> Plan:
        """The results merged into the file's lines: by binary search when the file is in
        this adapter's layout and order, else after parsing it whole (rewritten in order)."""
        try:
            raw: bytes | None = self.path.read_bytes()
        except FileNotFoundError:
            raw = None
        lines = [] if raw is None else sorted_lines(raw)
        if lines is None:
            assert raw is not None  # noqa: S101 - an absent file has no lines to sort
            lines = sorted(self._lines_of(raw).values())
        merged = merge_rows(lines, ((_key_prefix(r), _json_line(r)) for r in proficiencies))
        return self._planner.plan(
            render_lines(merged),
            fields={"results": len(merged), "given": len(proficiencies)},
            current=raw,
        )

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return self._planner.apply(plan, journal=journal)

    # -- the two formats ----------------------------------------------------------------

    def _csv_row(self, result: Proficiency) -> Row:
        data = result.model_dump(mode="json")
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

    def _lines_of(self, raw: bytes) -> dict[tuple[str, str], bytes]:
        """A results file not in this adapter's order (or layout) as a line per result,
        learner and competency first, by (learner, competency).

        A file in this adapter's layout (an older order, say) has each line's key read from
        its start without parsing the rest; any other JSON list of results is parsed whole.
        """
        if raw.startswith(OPEN) and raw.endswith(CLOSE):
            rows: dict[tuple[str, str], bytes] = {}
            for each in raw[len(OPEN) : -len(CLOSE)].split(b"\n"):
                line = each.removesuffix(b",")
                pair = _line_key(line)
                if pair is None:
                    break
                rows[pair] = line
            else:
                return rows
        return {
            pair: orjson.dumps({"learner": pair[0], "competency": pair[1], **row})
            for pair, row in self._parse_json(raw).items()
        }

    def _parse_json(self, raw: bytes) -> dict[tuple[str, str], Row]:
        source = str(self.path)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(
                [Problem(f"not a results file: invalid JSON: {exc.msg}", file=source)]
            ) from None
        if not isinstance(data, list) or not all(
            isinstance(row, dict)
            and isinstance(row.get("learner"), str)
            and isinstance(row.get("competency"), str)
            for row in data
        ):
            raise ValidationError(
                [Problem("not a results file: expected a JSON list of results", file=source)]
            )
        return {(row["learner"], row["competency"]): row for row in data}

    def _existing_csv(self) -> dict[tuple[str, str], Row]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise ValidationError(
                [
                    Problem(
                        f"not a results file: expected the columns {', '.join(CSV_COLUMNS)}",
                        file=str(self.path),
                        line=1,
                    )
                ]
            )
        return {(row["learner"], row["competency"]): dict(row) for row in reader}


_STRING = rb'("(?:[^"\\]|\\.)*")'
_KEY = re.compile(rb'\{"learner":' + _STRING + rb',"competency":' + _STRING + rb"[,}]")
"""The start of a result line as this adapter writes it (orjson, fields in model order)."""


_SIMPLE_KEY = re.compile(rb'^\{"learner":"([^"\\\n]*)","competency":"([^"\\\n]*)"[,}]', re.M)
"""The key at the start of each line of a file this adapter wrote, when neither part holds
an escape: one pass over the whole file finds them all (at most one a line)."""

_PREFIX = b'{"learner":"'
_MIDDLE = b'","competency":"'


def _line_key(line: bytes) -> tuple[str, str] | None:
    """(learner, competency) of a result line this adapter wrote; ``None`` for another."""
    if line.startswith(_PREFIX):
        middle = line.find(_MIDDLE, len(_PREFIX))
        end = line.find(b'"', middle + len(_MIDDLE)) if middle > 0 else -1
        learner = line[len(_PREFIX) : middle]
        if end > 0 and b"\\" not in learner and line[end + 1 : end + 2] in (b",", b"}"):
            competency = line[middle + len(_MIDDLE) : end]
            if b"\\" not in competency:
                return learner.decode(), competency.decode()
    found = _KEY.match(line)  # escapes in a key: the exact, slower way
    if found is None:
        return None
    return orjson.loads(found.group(1)), orjson.loads(found.group(2))


def _json_line(result: Proficiency) -> bytes:
    """One result as compact JSON, its fields in the model's order: learner and competency
    first (its key prefix)."""
    return orjson.dumps(result.model_dump(mode="json"))


def _key_prefix(result: Proficiency) -> bytes:
    """How the result's line begins, up to the end of its key (see :func:`_json_line`)."""
    return orjson.dumps({"learner": result.learner, "competency": result.competency})[:-1]


def _render_csv(rows: list[Row]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
