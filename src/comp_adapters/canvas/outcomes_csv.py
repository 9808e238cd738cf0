"""Canvas's outcomes CSV (``doc/api/outcomes_csv.md``): read, write, and the ``canvas-csv`` format.

A sibling of :mod:`comp_adapters.canvas.mapping` (pure, no I/O besides the file itself),
split out because real files need a careful reader. It accepts what real exports hold: a
UTF-8 byte order mark, ``;`` as the separator (Excel in many locales; chosen when the header
has more ``;`` than ``,``, as Canvas does), CR-only, LF or CRLF line ends, quoted fields
spanning lines, trailing empty rows, ratings as ``points,description`` pairs in the unnamed
columns after ``ratings`` (rows may run past the header), non-ASCII titles and guids,
space-separated ``parent_guids``, decimal commas, and files without the ratings, canvas_id
or calculation columns. Every problem is reported with its file, line and column.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from comp_adapters._csv import csv_records, decode_csv_bytes, sniff_delimiter
from comp_adapters._files import atomic_write
from comp_adapters.canvas.mapping import (
    CANVAS_DEFAULT_MASTERY,
    CANVAS_DEFAULT_RATINGS,
    ROOT,
    GroupNode,
    OutcomeNode,
    OutcomeTree,
    PullDefaults,
    Rating,
    desired_tree,
    framework_from_file_tree,
    method_from_canvas,
    scale_from_ratings,
)
from comp_adapters.core.calculation import CalculationMethod, check_calculation_int
from comp_adapters.core.framework import Framework
from comp_adapters.errors import MappingError, Problem, ValidationError
from comp_adapters.plugins import FileFormat, FormatOption

REQUIRED = ("vendor_guid", "object_type", "title")
KNOWN = frozenset(
    {
        "vendor_guid",
        "object_type",
        "title",
        "description",
        "friendly_description",
        "display_name",
        "calculation_method",
        "calculation_int",
        "parent_guids",
        "workflow_state",
        "mastery_points",
        "course_id",
        "canvas_id",
        "ratings",
    }
)
_OUTCOME_ONLY = ("calculation_method", "calculation_int", "mastery_points")
"""Columns a group row may not fill (Canvas's own sample gives groups a display_name: ignored)."""
CSV_PULL_DEFAULTS = PullDefaults(
    ratings=tuple(Rating(p, d) for p, d in CANVAS_DEFAULT_RATINGS),
    mastery_points=CANVAS_DEFAULT_MASTERY,
    calculation_method=CalculationMethod.DECAYING_AVERAGE,
    calculation_int=65,
)
"""A blank method in a CSV means Canvas's default for new outcomes: decaying_average 65."""


# -- reading -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Header:
    columns: dict[str, int]
    ratings_at: int | None


def _parse_header(cells: list[str], source: str, problems: list[Problem]) -> _Header | None:
    names = [cell.strip() for cell in cells]
    columns: dict[str, int] = {}
    ratings_at = names.index("ratings") if "ratings" in names else None
    named = names if ratings_at is None else names[: ratings_at + 1]
    invalid = [n for n in named if n not in KNOWN]
    if invalid:
        problems.append(Problem(f"Invalid fields: {invalid}", source, 1, field=invalid[0]))
    if ratings_at is not None:
        after = [n for n in names[ratings_at + 1 :] if n]
        if after:
            problems.append(
                Problem(
                    f"Invalid fields after ratings: {after} (ratings must be the last column)",
                    source,
                    1,
                    field=after[0],
                )
            )
    for index, name in enumerate(named):
        if name in columns and name:
            problems.append(Problem("column appears twice", source, 1, field=name))
        columns.setdefault(name, index)
    missing = [n for n in REQUIRED if n not in columns]
    if missing:
        problems.append(Problem(f"Missing required fields: {missing}", source, 1))
    if problems:
        return None
    return _Header(columns, ratings_at)


def _number(text: str) -> float:
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    try:
        value = float(cleaned)
    except ValueError:
        value = float(cleaned.replace(",", ".")) if cleaned.count(",") == 1 else math.nan
    if not math.isfinite(value):
        raise ValueError(f"not a number: {text!r}")
    return value


def _integer(text: str) -> int:
    value = _number(text)
    if value != int(value):
        raise ValueError(f"not a whole number: {text!r}")
    return int(value)


class _Row:
    def __init__(self, cells: list[str], header: _Header, line: int, source: str) -> None:
        self.cells = cells
        self.header = header
        self.line = line
        self.source = source

    def get(self, name: str) -> str:
        """The cell of column ``name`` without surrounding blanks ("" when absent)."""
        return self.raw(name).strip()

    def raw(self, name: str) -> str:
        """The cell of column ``name`` as written (descriptions keep their spacing)."""
        index = self.header.columns.get(name)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    def problem(self, message: str, name: str | None = None) -> Problem:
        return Problem(message, self.source, self.line, field=name)


def tree_from_csv_text(text: str, *, source: str = "<csv>", lenient: bool = False) -> OutcomeTree:
    """Parse outcomes CSV text into a tree; every problem found is reported at once.

    ``lenient`` is for Canvas's own ``outcome_export_csv``: it holds whatever Canvas's REST
    API let anyone create (whitespace or repeated vendor_guids, ratings of equal points),
    which is not ours to refuse. Then only an unreadable header or CSV is an error; a row
    with a problem is kept as far as it can be read, and a row without a usable guid or
    object_type (or repeating an earlier guid) is left out and counted in the tree's notes.
    """
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    problems: list[Problem] = []
    groups: list[GroupNode] = []
    outcomes: list[OutcomeNode] = []
    skipped = 0
    try:
        records = csv_records(reader)
        first = next(records, None)
        if first is None:
            raise ValidationError([Problem("the file is empty: no header row", source, 1)])
        header = _parse_header(first[1], source, problems)
        if header is None:
            raise ValidationError(problems)
        seen: dict[str, int] = {}
        group_guids: set[str] = set()
        for line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue  # blank and trailing empty rows
            row = _Row(cells, header, line, source)
            node = _parse_row(row, seen, group_guids, problems, lenient=lenient)
            if isinstance(node, GroupNode):
                groups.append(node)
            elif isinstance(node, OutcomeNode):
                outcomes.append(node)
            elif node is _UNUSABLE:
                skipped += 1
    except csv.Error as exc:
        raise ValidationError(
            [*problems, Problem(f"malformed CSV: {exc}", source, reader.line_num or None)]
        ) from None
    if lenient:
        notes = (f"{skipped} row(s) of {source} without a usable guid or type",) if skipped else ()
        return OutcomeTree(groups=tuple(groups), outcomes=tuple(outcomes), notes=notes)
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems)
    if not groups and not outcomes:
        raise ValidationError([Problem("no outcome or group rows", source, 2)])
    return OutcomeTree(groups=tuple(groups), outcomes=tuple(outcomes))


class _Unusable(Enum):
    """What :func:`_parse_row` returns for a row that names no usable object."""

    ROW = "unusable row"


_UNUSABLE = _Unusable.ROW


def _parse_row(
    row: _Row,
    seen: dict[str, int],
    group_guids: set[str],
    problems: list[Problem],
    *,
    lenient: bool = False,
) -> GroupNode | OutcomeNode | _Unusable | None:
    """A group or outcome node from one row; ``None`` for a deleted row or (unless
    ``lenient``) a row with problems; :data:`_UNUSABLE` for a row naming no usable object."""
    start = len(problems)
    guid = row.get("vendor_guid")
    kind = row.get("object_type").lower()
    if not _check_identity(row, guid, kind, seen, problems) and lenient:
        return _UNUSABLE
    state = row.get("workflow_state").lower() or "active"
    if state not in ("active", "deleted"):
        problems.append(
            row.problem(
                f"workflow_state must be active or deleted, not {state!r}", "workflow_state"
            )
        )
    parents = tuple(row.get("parent_guids").split())
    problems.extend(
        row.problem(f"parent {parent!r} is not a group defined on an earlier row", "parent_guids")
        for parent in parents
        if parent not in group_guids
    )
    canvas_id = _optional(row, "canvas_id", _integer, problems)
    if kind == "group":
        group_guids.add(guid)  # even when the row has problems: no cascade of errors
        problems.extend(
            row.problem(f"a group row cannot have {name}", name)
            for name in (*_OUTCOME_ONLY, "friendly_description")
            if row.get(name)
        )
        if _ratings_cells(row):
            problems.append(row.problem("a group row cannot have ratings", "ratings"))
        if len(parents) > 1:
            problems.append(row.problem("a group can have only one parent", "parent_guids"))
        if state == "deleted" or (len(problems) > start and not lenient):
            return None
        return GroupNode(
            guid=guid,
            title=row.get("title"),
            description=row.raw("description") or None,
            parent=parents[0] if parents else ROOT,
            canvas_id=canvas_id,
            line=row.line,
        )
    mastery = _optional(row, "mastery_points", _number, problems)
    calc_int = _optional(row, "calculation_int", _integer, problems)
    _check_method(row, calc_int, problems)
    ratings = _parse_ratings(row, problems)
    if ratings:
        try:
            scale_from_ratings(ratings, mastery, where="ratings")
        except MappingError as exc:
            problems.append(row.problem(str(exc).removeprefix("ratings: "), "ratings"))
    if state == "deleted" or (len(problems) > start and not lenient):
        return None
    return OutcomeNode(
        guid=guid,
        title=row.get("title"),
        display_name=row.raw("display_name") or None,
        description=row.raw("description") or None,
        friendly_description=row.raw("friendly_description") or None,
        mastery_points=mastery,
        ratings=ratings,
        calculation_method=row.get("calculation_method") or None,
        calculation_int=calc_int,
        parents=parents or (ROOT,),
        canvas_id=canvas_id,
        line=row.line,
    )


def _check_identity(
    row: _Row, guid: str, kind: str, seen: dict[str, int], problems: list[Problem]
) -> bool:
    """Record the row's identity problems; whether it names one object (a new guid, a type)."""
    usable = True
    if not guid:
        problems.append(row.problem("vendor_guid is required", "vendor_guid"))
        usable = False
    elif guid in seen:
        problems.append(
            row.problem(
                f"vendor_guid {guid!r} has already appeared in this import (line {seen[guid]})",
                "vendor_guid",
            )
        )
        usable = False
    else:
        seen[guid] = row.line
        if any(ch.isspace() for ch in guid):
            problems.append(row.problem("vendor_guid must not contain whitespace", "vendor_guid"))
    if kind not in ("outcome", "group"):
        problems.append(
            row.problem(f"object_type must be 'outcome' or 'group', not {kind!r}", "object_type")
        )
        usable = False
    if not row.get("title"):
        problems.append(row.problem("title is required", "title"))
    return usable


def _check_method(row: _Row, calc_int: int | None, problems: list[Problem]) -> None:
    method_name = row.get("calculation_method") or None
    method: CalculationMethod | None = None
    try:
        method = method_from_canvas(method_name)
    except MappingError as exc:
        problems.append(row.problem(str(exc), "calculation_method"))
        return
    if method is not None and calc_int is not None:
        wrong = check_calculation_int(method, calc_int)
        if wrong:
            problems.append(row.problem(wrong, "calculation_int"))
    elif method is None and calc_int is not None:
        problems.append(
            row.problem("calculation_int without calculation_method", "calculation_int")
        )


def _optional(row: _Row, name: str, parse: Any, problems: list[Problem]) -> Any:
    text = row.get(name)
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        problems.append(row.problem(str(exc), name))
        return None


def _ratings_cells(row: _Row) -> list[str]:
    at = row.header.ratings_at
    if at is None:
        return []
    cells = [cell.strip() for cell in row.cells[at:]]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _parse_ratings(row: _Row, problems: list[Problem]) -> tuple[Rating, ...]:
    cells = _ratings_cells(row)
    ratings: list[Rating] = []
    for index in range(0, len(cells), 2):
        points_text = cells[index]
        description = cells[index + 1] if index + 1 < len(cells) else ""
        if not points_text and not description:
            continue
        try:
            points = _number(points_text)
        except ValueError:
            problems.append(
                row.problem(f"rating points must be a number, not {points_text!r}", "ratings")
            )
            return ()
        ratings.append(Rating(points, description))
    for high, low in itertools.pairwise(ratings):
        if low.points > high.points:
            problems.append(
                row.problem("ratings must be listed with points in non-increasing order", "ratings")
            )
            return ()
    return tuple(ratings)


def read_outcomes_csv(path: str | Path, *, framework_key: str | None = None) -> Framework:
    """Read an outcomes CSV file into a framework (see :func:`framework_from_tree`)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", source)]) from None
    tree = tree_from_csv_text(decode_csv_bytes(data, source=source), source=source)
    return framework_from_file_tree(
        tree,
        source=source,
        name=Path(path).stem,
        defaults=CSV_PULL_DEFAULTS,
        framework_key=framework_key,
    )


# -- writing -----------------------------------------------------------------------------------


def _format_number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def tree_to_csv(
    tree: OutcomeTree,
    *,
    scales: bool = True,
    delimiter: str = ",",
    deleted: Iterable[tuple[str, str]] = (),
) -> str:
    """The outcomes CSV of a tree: groups first (parents before children), then outcomes.

    ``scales=False`` leaves out the calculation, mastery and rating columns (Canvas ignores
    them under account-level mastery scales). ``deleted`` adds ``(object_type, guid)`` rows
    with ``workflow_state=deleted``. Calculation columns are always written explicitly, since
    a blank one resets an outcome to Canvas's default method.
    """
    include_friendly = any(o.friendly_description for o in tree.outcomes)
    header = ["vendor_guid", "object_type", "title", "description", "display_name"]
    if include_friendly:
        header.append("friendly_description")
    if scales:
        header += ["calculation_method", "calculation_int", "mastery_points"]
    header += ["parent_guids", "workflow_state"]
    width = max((len(o.ratings) for o in tree.outcomes), default=0) * 2 if scales else 0
    if scales:
        header += ["ratings"] + [""] * max(width - 1, 0)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for group in tree.groups:
        row = [group.guid, "group", group.title, group.description or "", ""]
        if include_friendly:
            row.append("")
        if scales:
            row += ["", "", ""]
        row += [group.parent, "active"]
        writer.writerow(_pad(row, len(header)))
    for outcome in tree.outcomes:
        row = [
            outcome.guid,
            "outcome",
            outcome.title,
            outcome.description or "",
            outcome.display_name or "",
        ]
        if include_friendly:
            row.append(outcome.friendly_description or "")
        if scales:
            row += [
                outcome.calculation_method or "",
                "" if outcome.calculation_int is None else str(outcome.calculation_int),
                _format_number(outcome.mastery_points),
            ]
        row += [" ".join(p for p in outcome.parents if p != ROOT), "active"]
        if scales:
            for rating in outcome.ratings:
                row += [_format_number(rating.points), rating.description]
        writer.writerow(_pad(row, len(header)))
    for kind, guid in deleted:
        row = [guid, kind, "deleted", "", ""]
        if include_friendly:
            row.append("")
        if scales:
            row += ["", "", ""]
        row += ["", "deleted"]
        writer.writerow(_pad(row, len(header)))
    return buffer.getvalue()


def _pad(row: list[str], width: int) -> list[str]:
    return row + [""] * (width - len(row)) if len(row) < width else row


def write_outcomes_csv(
    framework: Framework,
    path: str | Path,
    *,
    canvas_delimiter: str = "comma",
    canvas_bom: str = "no",
    canvas_scales: str = "yes",
    canvas_parent_outcomes: str = "no",
) -> None:
    """Write a framework as an outcomes CSV, atomically (nothing is written on error)."""
    tree = desired_tree(
        framework,
        parent_outcomes=canvas_parent_outcomes == "yes",
        scales=canvas_scales == "yes",
    )
    text = tree_to_csv(
        tree,
        scales=canvas_scales == "yes",
        delimiter=";" if canvas_delimiter == "semicolon" else ",",
    )
    with atomic_write(path, newline="") as handle:
        if canvas_bom == "yes":
            handle.write("\ufeff")
        handle.write(text)


# -- the registered file format ----------------------------------------------------------------


def sniff_outcomes_csv(path: Path, head: bytes) -> bool:
    """An outcomes CSV is recognised by its header: vendor_guid, object_type and title."""
    del path
    text = head.decode("utf-8-sig", errors="ignore")
    first = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    cells = {cell.strip().strip('"').strip() for cell in first.replace(";", ",").split(",")}
    return set(REQUIRED) <= cells


CANVAS_CSV = FileFormat(
    name="canvas-csv",
    description="Canvas outcomes CSV (outcome import/export; BOM and ';' accepted)",
    suffixes=(".csv",),
    sniff=sniff_outcomes_csv,
    read=read_outcomes_csv,
    write=write_outcomes_csv,
    options=(
        FormatOption(
            "canvas-delimiter", "field separator", choices=("comma", "semicolon"), default=None
        ),
        FormatOption("canvas-bom", "start with a UTF-8 BOM (Excel)", choices=("yes", "no")),
        FormatOption(
            "canvas-scales",
            "write ratings, mastery and calculation columns (no: account mastery scales)",
            choices=("yes", "no"),
        ),
        FormatOption(
            "canvas-parent-outcomes",
            "add an outcome inside each parent's group for its rolled-up proficiency",
            choices=("yes", "no"),
        ),
    ),
)
"""The ``canvas-csv`` format of ``comp-adapters convert``."""
