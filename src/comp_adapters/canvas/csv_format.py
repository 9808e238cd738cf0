"""Canvas's outcomes CSV (``doc/api/outcomes_csv.md``): read, write, and the ``canvas-csv`` format.

A sibling of :mod:`comp_adapters.canvas.mapping` (pure, no I/O besides the file itself),
split out because real files need a careful reader. It accepts what Canvas's importer
accepts (``lib/outcomes/csv_importer.rb``, ``lib/outcomes/import.rb``) and what real exports
hold: a UTF-8 byte order mark, ``;`` as the separator (chosen when the header has more ``;``
than ``,``, as Canvas does), CR-only, LF or CRLF line ends, quoted fields spanning lines,
trailing empty rows, ratings as ``points,description`` pairs in the unnamed columns after
``ratings`` (rows may run past the header), non-ASCII titles and guids, space-separated
``parent_guids`` (repeats allowed), a group and an outcome sharing a guid, numbers in the
account's locale (:mod:`comp_adapters.canvas.numbers`), and files without the ratings,
canvas_id or calculation columns. It refuses what Canvas refuses, every problem at once,
each with its file, line and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from comp_adapters._csv import csv_records, decode_csv_bytes, sniff_delimiter
from comp_adapters._files import atomic_write, excel_safe_cell
from comp_adapters.canvas.mapping import (
    CANVAS_DEFAULT_MASTERY,
    CANVAS_DEFAULT_RATINGS,
    MAX_FRIENDLY,
    ROOT,
    GroupNode,
    OutcomeNode,
    OutcomeTree,
    PullDefaults,
    Rating,
    desired_tree,
    framework_from_file_tree,
    guid_problem_for_csv,
    is_id_reference,
    method_from_canvas,
    scale_from_ratings,
)
from comp_adapters.canvas.numbers import format_number, parse_number
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
"""``Outcomes::CSVImporter::REQUIRED_FIELDS`` + ``OPTIONAL_FIELDS`` (and ``ratings``)."""
_GROUP_REFUSED = ("calculation_method", "calculation_int")
"""``Outcomes::Import::OBJECT_ONLY_FIELDS`` (with ``ratings``): a group row may not fill them."""
_GROUP_IGNORED = ("mastery_points", "friendly_description", "display_name")
"""Outcome columns Canvas ignores on a group row (Canvas's own sample gives groups a
display_name): read with a warning."""
_WORKFLOW_STATES = ("", "active", "deleted")
"""``Outcomes::Import::VALID_WORKFLOWS``, compared as written (``Active`` is refused)."""
_EMPTY = "\x00"
"""Stands for a cell written as ``""`` (see :func:`tree_to_csv`); no text may hold it."""


def csv_pull_defaults(*, new_decay: bool = False) -> PullDefaults:
    """What a blank method means: Canvas's default for a new outcome, which is
    ``standard_decaying_average`` 65 with the new-decay flag on, else ``decaying_average`` 65
    (``LearningOutcome#default_calculation_method``)."""
    method = (
        CalculationMethod.STANDARD_DECAYING_AVERAGE
        if new_decay
        else CalculationMethod.DECAYING_AVERAGE
    )
    return PullDefaults(
        ratings=tuple(Rating(p, d) for p, d in CANVAS_DEFAULT_RATINGS),
        mastery_points=CANVAS_DEFAULT_MASTERY,
        calculation_method=method,
        calculation_int=65,
    )


CSV_PULL_DEFAULTS = csv_pull_defaults()


# -- reading -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Header:
    columns: dict[str, int]
    ratings_at: int | None


def _parse_header(cells: list[str], source: str, problems: list[Problem]) -> _Header | None:
    """The columns, named exactly as written: Canvas does not trim header cells
    (``CSVImporter#validate_headers``), so `` title`` is an unknown column."""
    names = list(cells)
    columns: dict[str, int] = {}
    ratings_at = names.index("ratings") if "ratings" in names else None
    named = names if ratings_at is None else names[: ratings_at + 1]
    invalid = [n for n in named if n not in KNOWN]
    if invalid:
        problems.append(Problem(f"Invalid fields: {invalid}", source, 1, field=invalid[0]))
    if ratings_at is not None:
        after = [n for n in names[ratings_at + 1 :] if n.strip()]
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


def _integer(text: str, locale: str | None = None) -> int:
    value = parse_number(text, locale)
    if value != int(value):
        raise ValueError(f"not a whole number: {text!r}")
    return int(value)


class _Row:
    def __init__(
        self, cells: list[str], header: _Header, line: int, source: str, locale: str | None
    ) -> None:
        self.cells = cells
        self.header = header
        self.line = line
        self.source = source
        self.locale = locale

    def get(self, name: str) -> str:
        """The cell of column ``name`` without surrounding blanks ("" when absent)."""
        return self.raw(name).strip()

    def raw(self, name: str) -> str:
        """The cell of column ``name`` as written (descriptions keep their spacing)."""
        index = self.header.columns.get(name)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]

    def has(self, name: str) -> bool:
        return name in self.header.columns

    def problem(self, message: str, name: str | None = None) -> Problem:
        return Problem(message, self.source, self.line, field=name)

    def warning(self, message: str, name: str | None = None) -> Problem:
        return Problem(message, self.source, self.line, field=name, severity="warning")


@dataclass(slots=True)
class _Seen:
    """What earlier rows defined: guids per object type (Canvas checks each type on its
    own: ``Group "x"`` / ``Outcome "x" has already appeared in this import``) and groups."""

    groups: dict[str, int]
    outcomes: dict[str, int]
    blank_methods: int = 0


def tree_from_csv_text(
    text: str,
    *,
    source: str = "<csv>",
    lenient: bool = False,
    locale: str | None = None,
    new_decay: bool | None = None,
    warnings: list[Problem] | None = None,
) -> OutcomeTree:
    """Parse outcomes CSV text into a tree; every problem found is reported at once.

    ``locale`` is the account's ``default_locale`` when known: numbers are then read as
    Canvas reads them there. ``new_decay`` is the state of the account's new decaying
    average flag when known (it decides what a ``standard_decaying_average`` with an int
    below 50 becomes). ``warnings`` collects what is accepted but not kept.

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
    seen = _Seen({}, {})
    try:
        records = csv_records(reader)
        first = next(records, None)
        if first is None:
            raise ValidationError([Problem("the file is empty: no header row", source, 1)])
        header = _parse_header(first[1], source, problems)
        if header is None:
            raise ValidationError(problems)
        for line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue  # blank and trailing empty rows (Canvas skips all-blank rows)
            row = _Row(cells, header, line, source, locale)
            node = _parse_row(row, seen, problems, lenient=lenient, new_decay=new_decay)
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
    found = [p for p in problems if p.severity == "warning"]
    if seen.blank_methods and not lenient:
        found.append(
            Problem(
                f"{seen.blank_methods} outcome row(s) have no calculation_method: read as "
                "Canvas's default for a new outcome, "
                + (
                    "standard_decaying_average 65"
                    if new_decay
                    else "decaying_average 65 (standard_decaying_average 65 where the "
                    "account has the outcomes_new_decaying_average_calculation flag on)"
                ),
                source,
                severity="warning",
            )
        )
    if warnings is not None:
        warnings.extend(found)
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
    seen: _Seen,
    problems: list[Problem],
    *,
    lenient: bool = False,
    new_decay: bool | None = None,
) -> GroupNode | OutcomeNode | _Unusable | None:
    """A group or outcome node from one row; ``None`` for a deleted row or (unless
    ``lenient``) a row with problems; :data:`_UNUSABLE` for a row naming no usable object."""
    start = len(problems)
    guid = row.raw("vendor_guid")
    kind = row.raw("object_type")
    if not _check_identity(row, guid, kind, seen, problems) and lenient:
        return _UNUSABLE
    state = row.raw("workflow_state")
    if state not in _WORKFLOW_STATES:
        problems.append(
            row.problem(
                f'"workflow_state" must be either "active" or "deleted", not {state!r}',
                "workflow_state",
            )
        )
    # Canvas drops repeated parents (Outcomes::Import#find_parents: split.uniq).
    parents = tuple(dict.fromkeys(row.get("parent_guids").split()))
    problems.extend(
        row.problem(f"parent {parent!r} is not a group defined on an earlier row", "parent_guids")
        for parent in parents
        if parent not in seen.groups
    )
    canvas_id = _optional(row, "canvas_id", _integer, problems)
    if kind == "group":
        seen.groups.setdefault(guid, row.line)  # even with problems: no cascade of errors
        refused = [name for name in _GROUP_REFUSED if row.get(name)]
        if _ratings_cells(row):
            refused.append("ratings")
        if refused:
            problems.append(row.problem(f"Invalid fields for a group: {refused}", refused[0]))
        problems.extend(
            row.warning(f"Canvas ignores {name} on a group row; not kept", name)
            for name in _GROUP_IGNORED
            if row.get(name)
        )
        if row.get("course_id"):
            problems.append(
                row.warning("course_id (the course to place the group in) is not kept", "course_id")
            )
        if len(parents) > 1:
            problems.append(
                row.problem("An outcome group can only have one parent", "parent_guids")
            )
        if state == "deleted" or (_errors_since(problems, start) and not lenient):
            return None
        return GroupNode(
            guid=guid,
            title=row.get("title"),
            description=row.raw("description") or None,
            parent=parents[0] if parents else ROOT,
            canvas_id=canvas_id,
            line=row.line,
        )
    if row.get("course_id"):
        problems.append(row.problem("Invalid fields for an outcome: ['course_id']", "course_id"))
    friendly = row.raw("friendly_description")
    if len(friendly) > MAX_FRIENDLY:
        problems.append(
            row.problem(
                f"Friendly description is too long (maximum is {MAX_FRIENDLY} characters)",
                "friendly_description",
            )
        )
    mastery = _optional(row, "mastery_points", parse_number, problems)
    calc_int = _optional(row, "calculation_int", _integer, problems)
    method = _check_method(row, calc_int, problems, new_decay=new_decay)
    if method is None and calc_int is None:
        seen.blank_methods += 1
    ratings = _parse_ratings(row, problems)
    if ratings:
        try:
            scale_from_ratings(ratings, mastery, where="ratings")
        except MappingError as exc:
            problems.append(row.problem(str(exc).removeprefix("ratings: "), "ratings"))
    if state == "deleted" or (_errors_since(problems, start) and not lenient):
        return None
    return OutcomeNode(
        guid=guid,
        title=row.get("title"),
        display_name=row.raw("display_name") or None,
        description=row.raw("description") or None,
        # Without the column an import deletes the friendly description as a blank does; an
        # old export without it tells nothing.
        friendly_description=friendly if row.has("friendly_description") or not lenient else None,
        mastery_points=mastery,
        ratings=ratings,
        calculation_method=method,
        calculation_int=calc_int,
        parents=parents or (ROOT,),
        canvas_id=canvas_id,
        line=row.line,
    )


def _errors_since(problems: list[Problem], start: int) -> bool:
    return any(p.severity == "error" for p in problems[start:])


def _check_identity(row: _Row, guid: str, kind: str, seen: _Seen, problems: list[Problem]) -> bool:
    """Record the row's identity problems; whether it names one object (a new guid, a type).

    As Canvas (``Outcomes::Import#check_object``): guid and title are required, a guid
    holds no whitespace (not even around it), and the type is ``outcome`` or ``group`` as
    written. A guid may appear once per type.
    """
    usable = True
    if kind not in ("outcome", "group"):
        problems.append(row.problem(f'Invalid object_type: "{kind}"', "object_type"))
        usable = False
    earlier = (seen.groups if kind == "group" else seen.outcomes).get(guid)
    if not guid.strip():
        problems.append(row.problem("vendor_guid is required", "vendor_guid"))
        usable = False
    elif earlier is not None:
        problems.append(
            row.problem(
                f"{kind} vendor_guid {guid!r} has already appeared in this import (line {earlier})",
                "vendor_guid",
            )
        )
        usable = False
    else:
        if kind == "outcome":
            seen.outcomes[guid] = row.line
        if any(ch.isspace() for ch in guid):
            problems.append(row.problem("vendor_guid must not contain whitespace", "vendor_guid"))
    if not row.get("title"):
        problems.append(row.problem("title is required", "title"))
    return usable


def _check_method(
    row: _Row, calc_int: int | None, problems: list[Problem], *, new_decay: bool | None
) -> str | None:
    """The method as Canvas stores it, checking its int the way Canvas does.

    Canvas turns ``weighted_average`` into ``decaying_average`` with the new-decay flag on,
    and ``standard_decaying_average`` into ``decaying_average`` with it off, *before* it
    checks the int (``LearningOutcome#adjust_calculation_method``), so
    ``standard_decaying_average`` 30 is stored as ``decaying_average`` 30 without the flag.
    A blank method with an int is Canvas's default method with that int.
    """
    name = row.get("calculation_method") or None
    if name is None and calc_int is not None:
        name = (
            CalculationMethod.STANDARD_DECAYING_AVERAGE.value
            if new_decay
            else CalculationMethod.DECAYING_AVERAGE.value
        )
    try:
        method = method_from_canvas(name)
    except MappingError as exc:
        problems.append(row.problem(str(exc), "calculation_method"))
        return None
    if method is None:
        return None
    wrong = check_calculation_int(method, calc_int)
    if wrong and method is CalculationMethod.STANDARD_DECAYING_AVERAGE and new_decay is False:
        legacy = CalculationMethod.DECAYING_AVERAGE
        if not check_calculation_int(legacy, calc_int):
            problems.append(
                row.warning(
                    f"{wrong}; without the outcomes_new_decaying_average_calculation flag "
                    f"Canvas stores it as {legacy.value} {calc_int}, and so is it read",
                    "calculation_int",
                )
            )
            return legacy.value
    if wrong:
        problems.append(row.problem(wrong, "calculation_int"))
    return name


def _optional(row: _Row, name: str, parse: Any, problems: list[Problem]) -> Any:
    text = row.get(name)
    if not text:
        return None
    try:
        return parse(text, row.locale)
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
    """Ratings as Canvas reads them (``CSVImporter#parse_ratings``): trailing blank cells
    are dropped, then each pair needs its points, in non-increasing order."""
    cells = _ratings_cells(row)
    ratings: list[Rating] = []
    for tier, index in enumerate(range(0, len(cells), 2), start=1):
        points_text = cells[index]
        description = cells[index + 1] if index + 1 < len(cells) else ""
        if not points_text:
            problems.append(row.problem(f"Points for rating tier {tier} not present", "ratings"))
            return ()
        try:
            points = parse_number(points_text, row.locale)
        except ValueError:
            problems.append(
                row.problem(
                    f'Invalid value for rating tier {tier} threshold: "{points_text}"', "ratings"
                )
            )
            return ()
        if ratings and ratings[-1].points < points:
            problems.append(
                row.problem(
                    f"Points for tier {tier} must be less than points for prior tier "
                    f"({points:g} is greater than {ratings[-1].points:g})",
                    "ratings",
                )
            )
            return ()
        ratings.append(Rating(points, description))
    return tuple(ratings)


def read_outcomes_csv_reporting(
    path: str | Path,
    *,
    framework_key: str | None = None,
    locale: str | None = None,
    new_decay: bool | None = None,
) -> tuple[Framework, list[Problem]]:
    """Read an outcomes CSV file into a framework, with the warnings (what is not kept).

    ``locale`` and ``new_decay`` describe the account the file is for, when known (see
    :func:`tree_from_csv_text`); a blank method is that account's default.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", source)]) from None
    warnings: list[Problem] = []
    tree = tree_from_csv_text(
        decode_csv_bytes(data, source=source),
        source=source,
        locale=locale,
        new_decay=new_decay,
        warnings=warnings,
    )
    framework = framework_from_file_tree(
        tree,
        source=source,
        name=Path(path).stem,
        defaults=csv_pull_defaults(new_decay=bool(new_decay)),
        framework_key=framework_key,
    )
    return framework, warnings


def read_outcomes_csv(
    path: str | Path,
    *,
    framework_key: str | None = None,
    locale: str | None = None,
    new_decay: bool | None = None,
) -> Framework:
    """Read an outcomes CSV file into a framework (see :func:`framework_from_tree`)."""
    framework, _warnings = read_outcomes_csv_reporting(
        path, framework_key=framework_key, locale=locale, new_decay=new_decay
    )
    return framework


def _read_for_format(path: Path) -> tuple[Framework, list[Problem]]:
    return read_outcomes_csv_reporting(path)


# -- writing -----------------------------------------------------------------------------------


def tree_to_csv(
    tree: OutcomeTree,
    *,
    scales: bool = True,
    delimiter: str = ",",
    excel_safe: bool = False,
    locale: str | None = None,
) -> str:
    """The outcomes CSV of a tree: groups first (parents before children), then outcomes.

    Columns in the order of Canvas's own export (``AccountReports::OutcomeExport``).
    ``scales=False`` leaves out the calculation, mastery and rating columns (Canvas ignores
    them under account-level mastery scales). Calculation columns are always written
    explicitly, since a blank one resets an outcome to Canvas's default method, and so is
    ``friendly_description``, since a blank one deletes it (``Outcomes::Import``). Numbers
    are written so the account parses them back to the same value (``locale``: its
    ``default_locale``, see :mod:`comp_adapters.canvas.numbers`). A rating without a
    description is written as ``""``: Ruby's CSV reads an empty unquoted cell as ``nil``,
    which Canvas replaces with "No Comment" (``LearningOutcome#rubric_criterion=``).
    ``excel_safe`` neutralises formula-like cells (:func:`~comp_adapters._files.excel_safe_cell`).
    """
    _check_text(tree)
    header = ["vendor_guid", "object_type", "title", "description", "friendly_description"]
    header.append("display_name")
    if scales:
        header += ["calculation_method", "calculation_int"]
    header += ["parent_guids", "workflow_state"]
    if scales:
        header.append("mastery_points")
    width = max((len(o.ratings) for o in tree.outcomes), default=0) * 2 if scales else 0
    if scales:
        header += ["ratings"] + [""] * max(width - 1, 0)
    buffer = io.StringIO(newline="")
    plain = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer = _ExcelSafeWriter(plain) if excel_safe else plain
    writer.writerow(header)
    for group in tree.groups:
        row = [group.guid, "group", group.title, group.description or "", "", ""]
        if scales:
            row += ["", ""]
        row += [group.parent, "active"]
        writer.writerow(_pad(row, len(header)))
    for outcome in tree.outcomes:
        row = [
            outcome.guid,
            "outcome",
            outcome.title,
            outcome.description or "",
            outcome.friendly_description or "",
            outcome.display_name or "",
        ]
        if scales:
            row += [
                outcome.calculation_method or "",
                "" if outcome.calculation_int is None else str(outcome.calculation_int),
            ]
        row += [" ".join(p for p in outcome.parents if p != ROOT), "active"]
        if scales:
            row.append(format_number(outcome.mastery_points, locale))
            for rating in outcome.ratings:
                row += [format_number(rating.points, locale), rating.description or _EMPTY]
        writer.writerow(_pad(row, len(header)))
    return buffer.getvalue().replace(_EMPTY, '""')


def _check_text(tree: OutcomeTree) -> None:
    nodes: list[GroupNode | OutcomeNode] = [*tree.groups, *tree.outcomes]
    for node in nodes:
        texts = [str(value) for value in vars_of(node) if isinstance(value, str)]
        if any(_EMPTY in text for text in texts):
            raise MappingError(
                f"a NUL character cannot be written to an outcomes CSV: {node.guid!r}"
            )


def vars_of(node: GroupNode | OutcomeNode) -> list[object]:
    """The field values of a node, ratings' descriptions included."""
    values: list[object] = [getattr(node, name) for name in node.__slots__]
    if isinstance(node, OutcomeNode):
        values.extend(r.description for r in node.ratings)
        values.extend(node.parents)
    return values


class _ExcelSafeWriter:
    """A csv writer whose cells cannot run as spreadsheet formulas."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[str]) -> None:
        self._writer.writerow([excel_safe_cell(cell) for cell in row])


def _pad(row: list[str], width: int) -> list[str]:
    return row + [""] * (width - len(row)) if len(row) < width else row


def check_guids_for_csv(tree: OutcomeTree) -> None:
    """Refuse guids Canvas's import would refuse or read as another object's id.

    A guid that *is* an id reference (``canvas_outcome:12``, what Canvas exports for an
    object without a vendor_guid) is kept: in a file it means that object.
    """
    guids = [*(g.guid for g in tree.groups), *(o.guid for o in tree.outcomes)]
    bad = [
        f"{guid!r} {problem}"
        for guid in guids
        if not is_id_reference(guid) and (problem := guid_problem_for_csv(guid)) is not None
    ]
    if bad:
        raise MappingError(
            "these vendor_guids cannot be written to an outcomes CSV: " + "; ".join(bad[:5])
        )


def write_outcomes_csv(
    framework: Framework,
    path: str | Path,
    *,
    canvas_delimiter: str = "comma",
    canvas_bom: str = "no",
    canvas_scales: str = "yes",
    canvas_parent_outcomes: str = "no",
    excel_safe: str | None = None,
    canvas_locale: str | None = None,
) -> None:
    """Write a framework as an outcomes CSV, atomically (nothing is written on error).

    ``excel_safe`` ``"yes"``/``"no"``; by default on exactly when a BOM marks the file for
    Excel (a file for Canvas's importer must keep the titles as they are)."""
    tree = desired_tree(
        framework,
        parent_outcomes=canvas_parent_outcomes == "yes",
        scales=canvas_scales == "yes",
    )
    check_guids_for_csv(tree)
    text = tree_to_csv(
        tree,
        scales=canvas_scales == "yes",
        delimiter=";" if canvas_delimiter == "semicolon" else ",",
        excel_safe=excel_safe == "yes" or (excel_safe is None and canvas_bom == "yes"),
        locale=canvas_locale,
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
    read_with_problems=_read_for_format,
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
        FormatOption("excel-safe", "neutralise formula-like cells", choices=("yes", "no")),
        FormatOption(
            "canvas-locale",
            "the target account's default_locale (e.g. de): Canvas parses import numbers "
            "with it; without it, numbers with decimals are written as 25e-1, which every "
            "locale reads the same",
        ),
    ),
)
"""The ``canvas-csv`` format of ``comp-adapters convert``."""
