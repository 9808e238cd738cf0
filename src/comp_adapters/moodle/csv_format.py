"""Moodle's competency framework CSV (``admin/tool/lpimportcsv``): read and write.

Split out of :mod:`comp_adapters.moodle.mapping` because a file format with its own
quoting rules is a subject of its own. Pure: no HTTP, no clock.

**Layout.** One header row, then one row per competency and one framework row (truthy
"Is framework"), in any order. The current files have 14 columns; files from Moodle's
first release have 12 (no "Cross-referenced competency ID numbers" and no "Exported ID").
Columns are read by position, never by header text, because headers are translated.

**Quoting.** Moodle writes with PHP's ``fputcsv`` (comma, ``"``, escape ``\\``, ``\\n``
line ends, UTF-8 without BOM) and reads with ``fgetcsv``. Both are reproduced here,
including PHP's quirks: a field is quoted when it contains a space, tab, CR, LF, comma,
quote or backslash, and inside quotes a backslash protects the next character (``\\"`` is
not doubled). The tests pin this to bytes PHP 8.2 itself wrote
(``tests/moodle/fixtures/php_export.php``). So a file we write is what Moodle's exporter
would write for the same framework, and Moodle's own export reads back losslessly. PHP's
reader cannot read back every value its writer writes (a backslash at the end of a value
or an escaped backslash before a quote); the writer refuses such values instead of
writing a file Moodle would import mangled.

**What the file holds.** Framework: idnumber, short name, description and its format,
scale items and scale configuration, taxonomy per level. Competency: parent, idnumber,
short name, description and format, an own scale, rule type/outcome/config (points
configs name children by the file's Exported IDs), cross-referenced idnumbers (a comma
inside an idnumber is written ``%2C``) and the Exported ID (kept as the competency's
``external_ids["moodle"]``). Multi-line HTML descriptions, with LF or CRLF inside, are
kept as they are.

**Unlike Moodle's importer**, which silently drops rows without an idnumber, orphans and
unknown cross-references, the reader reports them as located problems (file, line,
column): a converter that drops data quietly is worse than one that refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comp_adapters._files import atomic_write, excel_safe_cell
from comp_adapters.core.framework import Competency, Framework, RelationType
from comp_adapters.core.validation import framework_from_data
from comp_adapters.errors import MappingError, Problem, ValidationError
from comp_adapters.moodle.mapping import (
    COMPETENCY_OUTCOME,
    EXTERNAL_ID,
    NAME_LIMIT,
    PROP_SCALECONFIG,
    ScaleConfig,
    competency_outcome,
    format_code,
    format_from_code,
    parse_points_config,
    parse_scale_configuration,
    scale_from_moodle,
    shorten,
    stored_or_computed_configuration,
    taxonomies_from_text,
)
from comp_adapters.moodle.wire import RULE_ALL, RULE_POINTS
from comp_adapters.plugins import FileFormat, FormatOption

HEADERS = (
    "Parent ID number",
    "ID number",
    "Short name",
    "Description",
    "Description format",
    "Scale values",
    "Scale configuration",
    "Rule type (optional)",
    "Rule outcome (optional)",
    "Rule config (optional)",
    "Cross-referenced competency ID numbers",
    "Exported ID (optional)",
    "Is framework",
    "Taxonomy",
)
"""The header Moodle's exporter writes (English, Moodle 3.1 to 5.x)."""

OLD_HEADERS = (
    "Parent id number",
    "Id number",
    "Shortname",
    "Description",
    "Description format",
    "Scale values",
    "Scale configuration",
    "Rule type (optional)",
    "Rule outcome (optional)",
    "Rule config (optional)",
    "Cross referenced competency id numbers",
    "Exported id (optional)",
    "Is framework",
    "Taxonomy",
)
"""The spelling of the 3.1-era English strings (e.g. Moodle's own test fixture)."""

_NO_RELATED = {10, 11}
COLUMNS_12 = tuple(name for i, name in enumerate(HEADERS) if i not in _NO_RELATED)
"""The older 12-column layout: no cross-references, no Exported ID."""

_FIELDS = (
    "parent",
    "idnumber",
    "shortname",
    "description",
    "descriptionformat",
    "scalevalues",
    "scaleconfiguration",
    "ruletype",
    "ruleoutcome",
    "ruleconfig",
    "related",
    "exportid",
    "isframework",
    "taxonomy",
)
_FIELDS_12 = tuple(name for i, name in enumerate(_FIELDS) if i not in _NO_RELATED)
_LABEL = dict(zip(_FIELDS, HEADERS, strict=True))

_DELIMITER, _ENCLOSURE, _ESCAPE = ",", '"', "\\"
_NEEDS_QUOTES = frozenset(', \t\r\n"\\')


# -- PHP fputcsv / fgetcsv ---------------------------------------------------------------


def php_csv_field(value: str) -> str:
    """One field as PHP's ``fputcsv`` writes it (default enclosure and escape)."""
    if not any(ch in _NEEDS_QUOTES for ch in value):
        return value
    out = [_ENCLOSURE]
    escaped = False
    for ch in value:
        if ch == _ESCAPE:
            escaped = True
        elif not escaped and ch == _ENCLOSURE:
            out.append(_ENCLOSURE)
        else:
            escaped = False
        out.append(ch)
    out.append(_ENCLOSURE)
    return "".join(out)


def php_csv_line(fields: Sequence[str]) -> str:
    """A record as ``fputcsv`` writes it, ending with ``\\n``."""
    return _DELIMITER.join(php_csv_field(f) for f in fields) + "\n"


def php_reads_back(value: str) -> bool:
    """Whether PHP's ``fgetcsv`` (Moodle's importer) reads ``fputcsv``'s output of
    ``value`` back as ``value``.

    It does not when the value ends with a backslash or has an escaped backslash right
    before a quote: the writer's escape rule and the reader's disagree there, and the
    field swallows the rest of the record.
    """
    return [r.fields for r in parse_php_csv(php_csv_line([value, ""]))] == [[value, ""]]


@dataclass(frozen=True, slots=True)
class Record:
    """One parsed record and the line it starts on (1-based)."""

    line: int
    fields: list[str]


def parse_php_csv(text: str) -> Iterator[Record]:
    """Records as PHP's ``fgetcsv`` reads them; blank lines are skipped.

    A record ends at LF outside quotes; the CR of a CRLF line end is dropped, and so is
    one CR ending an unquoted field (as PHP trims it). Inside quotes, a
    doubled quote is one quote, a backslash keeps itself and protects the next character,
    and CR and LF are data. Text after a closing quote is appended to the field, as PHP
    does. Checked against PHP 8.2's ``fgetcsv`` on every ``fputcsv`` output of the values
    up to four characters long over ``a``, backslash, quote, CR, LF, space and comma.
    """
    i, n, line = 0, len(text), 1
    while i < n:
        start_line = line
        fields: list[str] = []
        while True:
            # Whitespace before an opening quote is dropped; otherwise it is data.
            j = i
            while j < n and text[j] in " \t\r\v\f":  # C isspace, LF aside
                j += 1
            buf: list[str] = []
            quoted = j < n and text[j] == _ENCLOSURE
            if quoted:
                i = j + 1
                while i < n:
                    ch = text[i]
                    if ch == _ESCAPE and i + 1 < n:
                        buf.append(ch)
                        buf.append(text[i + 1])
                        line += text[i + 1] == "\n"
                        i += 2
                        continue
                    if ch == _ENCLOSURE:
                        if i + 1 < n and text[i + 1] == _ENCLOSURE:
                            buf.append(_ENCLOSURE)
                            i += 2
                            continue
                        i += 1
                        break
                    line += ch == "\n"
                    buf.append(ch)
                    i += 1
            # Unquoted data, or what follows a closing quote, up to a delimiter or LF.
            tail_start = i
            while i < n and text[i] not in (_DELIMITER, "\n"):
                i += 1
            tail = text[tail_start:i]
            at_end = i >= n or text[i] == "\n"
            if at_end:
                tail = tail.removesuffix("\r")  # the CR of a CRLF line end
            if not quoted:
                tail = tail.removesuffix("\r")  # PHP trims one more from unquoted data
            buf.append(tail)
            fields.append("".join(buf))
            if at_end:
                if i < n:
                    i += 1
                    line += 1
                break
            i += 1  # the delimiter
        if fields != [""]:
            yield Record(start_line, fields)


# -- reading -----------------------------------------------------------------------------


def _truthy(value: str) -> bool:
    """PHP's truthiness of a string field: empty and "0" are false."""
    return value not in ("", "0")


@dataclass(slots=True)
class _Row:
    line: int
    values: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")


class _Reader:
    """Turns parsed records into core framework data, collecting located problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, message: str, row: _Row | None = None, column: str | None = None) -> None:
        self.problems.append(
            Problem(
                message,
                file=self.source,
                line=row.line if row else None,
                field=_LABEL[column] if column else None,
            )
        )

    def read(self, text: str) -> Framework:
        records = list(parse_php_csv(text))
        if not records:
            raise ValidationError([Problem("the file is empty", file=self.source)])
        width = len(records[0].fields)
        if width not in (12, 14):
            raise ValidationError(
                [
                    Problem(
                        f"expected Moodle's 14 columns (or the older 12), found {width}",
                        file=self.source,
                        line=records[0].line,
                    )
                ]
            )
        names = _FIELDS if width == 14 else _FIELDS_12
        rows: list[_Row] = []
        for record in records[1:]:
            if len(record.fields) != width:
                self.problem(
                    f"this row has {len(record.fields)} columns, the header {width}",
                    _Row(record.line, {}),
                )
                continue
            rows.append(_Row(record.line, dict(zip(names, record.fields, strict=True))))
        framework_rows = [row for row in rows if _truthy(row["isframework"])]
        if not framework_rows:
            self.problem("no framework row (a row whose 'Is framework' is 1)")
            raise ValidationError(self.problems)
        fw_row = framework_rows[-1]  # Moodle's importer keeps the last one
        competency_rows = [row for row in rows if not _truthy(row["isframework"])]
        data = self._framework(fw_row)
        keys_by_export = self._export_ids(competency_rows, has_ids=width == 14)
        lines: dict[str, int] = {}
        for row in competency_rows:
            item = self._competency(row, keys_by_export, has_ids=width == 14)
            if item is not None:
                lines.setdefault(item["key"], row.line)
                data["competencies"].append(item)
        if any(p.severity == "error" for p in self.problems):
            raise ValidationError(self.problems)
        try:
            return framework_from_data(data, source=self.source)
        except ValidationError as exc:
            raise ValidationError(
                [
                    Problem(p.message, p.file, lines.get(p.key or ""), p.key, p.field, p.severity)
                    if p.line is None and p.key in lines
                    else p
                    for p in exc.problems
                ]
            ) from None

    def _key(self, row: _Row, column: str) -> str | None:
        value = row[column].strip()
        if not value:
            return None
        if len(value) > NAME_LIMIT:
            self.problem(f"longer than {NAME_LIMIT} characters (Moodle would cut it)", row, column)
            return None
        return value

    def _format(self, row: _Row) -> tuple[str, dict[str, Any]]:
        text = row["descriptionformat"].strip()
        if not text:
            # Moodle reads "" as 0, and ignores the format of an empty description (HTML).
            return format_from_code(0 if row["description"] else 1)
        try:
            return format_from_code(int(text))
        except (ValueError, MappingError):
            self.problem(
                f"unknown description format {text!r} (0, 1, 2 or 4)", row, "descriptionformat"
            )
            return format_from_code(1)

    def _scale(self, row: _Row, *, required: bool) -> tuple[dict[str, Any] | None, str | None]:
        values = row["scalevalues"]
        if not values.strip():
            if required:
                self.problem("the framework row needs the scale's items", row, "scalevalues")
            return None, None
        items = [item.strip() for item in values.split(",")]
        config_text = row["scaleconfiguration"]
        if not config_text.strip():
            self.problem("scale values without a scale configuration", row, "scaleconfiguration")
            return None, None
        try:
            config = parse_scale_configuration(config_text)
            scale = scale_from_moodle(
                items, ScaleConfig(None, config.default, config.proficient, config.keys)
            )
        except MappingError as exc:
            self.problem(str(exc), row, "scaleconfiguration")
            return None, None
        return scale, config_text

    def _framework(self, row: _Row) -> dict[str, Any]:
        fmt, props = self._format(row)
        scale, config_text = self._scale(row, required=True)
        if config_text is not None:
            props[PROP_SCALECONFIG] = config_text
        try:
            taxonomy = list(taxonomies_from_text(row["taxonomy"]))
        except MappingError as exc:
            self.problem(str(exc), row, "taxonomy")
            taxonomy = []
        key = self._key(row, "idnumber")
        if key is None and not row["idnumber"].strip():
            self.problem("the framework needs an ID number", row, "idnumber")
        return {
            "key": key or "framework",
            "title": row["shortname"] or key or "framework",
            "description": row["description"] or None,
            "description_format": fmt,
            "scale": scale or {},  # never used: a missing scale is a problem, raised first
            "taxonomy_levels": taxonomy,
            "properties": props,
            "competencies": [],
        }

    def _export_ids(self, rows: list[_Row], *, has_ids: bool) -> dict[str, str]:
        keys: dict[str, str] = {}
        if not has_ids:
            return keys
        for row in rows:
            export = row["exportid"].strip()
            key = row["idnumber"].strip()
            if not export or not key:
                continue
            if export in keys:
                self.problem(f"Exported ID {export!r} is used twice", row, "exportid")
            keys[export] = key
        return keys

    def _competency(
        self, row: _Row, keys_by_export: dict[str, str], *, has_ids: bool
    ) -> dict[str, Any] | None:
        if not any(value.strip() for value in row.values.values()):
            return None
        key = self._key(row, "idnumber")
        if key is None:
            if not row["idnumber"].strip():
                self.problem("a competency row without an ID number", row, "idnumber")
            return None
        if not row["shortname"].strip():
            self.problem("a competency row without a short name", row, "shortname")
            return None
        fmt, props = self._format(row)
        item: dict[str, Any] = {
            "key": key,
            "title": row["shortname"],
            "description": row["description"] or None,
            "description_format": fmt,
            "parent": self._key(row, "parent"),
            "properties": props,
        }
        scale, config_text = self._scale(row, required=False)
        if scale is not None:
            item["scale"] = scale
            props[PROP_SCALECONFIG] = config_text
        rule = self._rule(row, keys_by_export, has_ids=has_ids)
        if rule is not None:
            item["rollup"] = rule
        related = [
            part.replace("%2C", ",").strip() for part in row["related"].split(",") if part.strip()
        ]
        if related:
            item["related"] = [{"type": "related", "key": other} for other in related]
        export = row["exportid"].strip()
        if export:
            item["external_ids"] = {EXTERNAL_ID: export}
        return item

    def _rule(
        self, row: _Row, keys_by_export: dict[str, str], *, has_ids: bool
    ) -> dict[str, Any] | None:
        ruletype = row["ruletype"].strip()
        if not ruletype:
            return None
        try:
            outcome = competency_outcome(int(row["ruleoutcome"].strip() or "0")).value
        except (ValueError, MappingError):
            self.problem(f"unknown rule outcome {row['ruleoutcome']!r} (0-3)", row, "ruleoutcome")
            return None
        if ruletype == RULE_ALL:
            return {"type": "all_children", "outcome": outcome}
        if ruletype != RULE_POINTS:
            self.problem(f"unknown rule type {ruletype!r}", row, "ruletype")
            return None
        config = row["ruleconfig"].strip()
        if not config or config == "null":
            self.problem("a points rule needs its config", row, "ruleconfig")
            return None
        try:
            base, children = parse_points_config(config)
        except MappingError as exc:
            self.problem(str(exc), row, "ruleconfig")
            return None
        if not has_ids:
            self.problem(
                "a points rule names children by Exported ID, which a 12-column file lacks",
                row,
                "ruleconfig",
            )
            return None
        unknown = [cid for cid, _, _ in children if cid not in keys_by_export]
        if unknown:
            self.problem(
                f"the rule names Exported IDs not in the file: {', '.join(unknown)}",
                row,
                "ruleconfig",
            )
            return None
        return {
            "type": "points",
            "outcome": outcome,
            "base_points": base,
            "children": [
                {"key": keys_by_export[cid], "points": points, "required": required}
                for cid, points, required in children
            ],
        }


def loads_framework(text: str, *, source: str = "<csv>") -> Framework:
    """A framework from the text of a Moodle CSV; located :class:`ValidationError` if bad."""
    return _Reader(source).read(text.removeprefix("\ufeff"))


def read_framework_csv(path: str | Path) -> Framework:
    """Read a Moodle framework CSV (UTF-8, with or without BOM)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    except OSError as exc:
        raise ValidationError([Problem(f"cannot read: {exc.strerror}", file=source)]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [Problem(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", file=source)]
        ) from None
    return loads_framework(text, source=source)


# -- writing -----------------------------------------------------------------------------


def _export_ids(framework: Framework) -> dict[str, str]:
    """Exported IDs: the competencies' Moodle ids when every one has a distinct one, else
    1..n in hierarchy order."""
    ids = [c.external_ids.get(EXTERNAL_ID, "").strip() for c in framework.competencies]
    if all(ids) and len(set(ids)) == len(ids) and all(_safe_id(i) for i in ids):
        return {c.key: i for c, i in zip(framework.competencies, ids, strict=True)}
    return {c.key: str(n) for n, c in enumerate(framework.walk(), start=1)}


def _row_order(framework: Framework, exported: dict[str, str]) -> list[Competency]:
    """Rows in Moodle's export order (by id) when that keeps every sibling order, else in
    hierarchy order. The importer needs no particular order; sibling order is row order."""
    walk = list(framework.walk())
    if not all(exported[c.key].isdigit() for c in walk):
        return walk
    for parent in [None, *(c.key for c in walk)]:
        ids = [int(exported[c.key]) for c in framework.children_of(parent)]
        if ids != sorted(ids):
            return walk
    return sorted(walk, key=lambda c: int(exported[c.key]))


def _safe_id(text: str) -> bool:
    # An exported id appears as a JSON number in rule configs (Moodle writes DB ids).
    return text.isdigit()


def _items(names: Sequence[str], where: str) -> str:
    bad = [name for name in names if "," in name]
    if bad:
        raise MappingError(f"{where}: scale level names cannot contain commas in Moodle: {bad}")
    return ",".join(names)


def _checked_line(fields: Sequence[str], where: str, *, excel_safe: bool = False) -> str:
    """``fputcsv``'s line for ``fields``, refusing values Moodle's importer would misread
    (``excel_safe``: formula-like cells neutralised first)."""
    if excel_safe:
        fields = [excel_safe_cell(value) for value in fields]
    for label, value in zip(HEADERS, fields, strict=True):
        if not php_reads_back(value):
            raise MappingError(
                f"{where}, column {label!r}: Moodle's CSV importer (PHP fgetcsv) cannot read "
                f"{value[-40:]!r} back (a backslash at the end of a value or right before a "
                "quote); change the text"
            )
    return php_csv_line(fields)


def dumps_framework(framework: Framework, *, excel_safe: bool = False) -> str:
    """The CSV text Moodle's exporter writes for ``framework`` (14 columns, current header).

    A value PHP's CSV reader cannot read back (see :func:`php_reads_back`) is refused
    with a :class:`MappingError` naming the competency and the column, rather than
    written into a file Moodle would import mangled.
    """
    framework = framework.canonical()
    exported = _export_ids(framework)
    out = [php_csv_line(HEADERS)]
    scale = framework.scale
    out.append(
        _checked_line(
            [
                "",
                framework.key,
                shorten(framework.title),
                framework.description or "",
                str(format_code(framework.description_format, framework.properties)),
                _items([level.name for level in scale.levels], "framework scale"),
                stored_or_computed_configuration(scale, framework.properties.get(PROP_SCALECONFIG)),
                "",
                "",
                "",
                "",
                "",
                "1",
                ",".join(framework.taxonomy_levels),
            ],
            f"framework {framework.key!r}",
            excel_safe=excel_safe,
        )
    )
    for competency in _row_order(framework, exported):
        scale_values = config = ""
        if competency.scale is not None:
            scale_values = _items(
                [level.name for level in competency.scale.levels], f"competency {competency.key!r}"
            )
            config = stored_or_computed_configuration(
                competency.scale, competency.properties.get(PROP_SCALECONFIG)
            )
        ruletype, outcome, ruleconfig = "", "0", "null"
        rule = competency.rollup
        if rule is not None:
            outcome = str(COMPETENCY_OUTCOME[rule.outcome])
            if rule.type == "all_children":
                ruletype = RULE_ALL
            else:
                ruletype = RULE_POINTS
                ruleconfig = json.dumps(
                    {
                        "base": {"points": rule.base_points},
                        "competencies": [
                            {
                                "id": int(exported[child.key]),
                                "points": child.points,
                                "required": int(child.required),
                            }
                            for child in rule.children
                        ],
                    },
                    separators=(",", ":"),
                )
        related = ",".join(
            relation.key.replace(",", "%2C")
            for relation in competency.related
            if relation.key is not None and relation.type is RelationType.RELATED
        )
        out.append(
            _checked_line(
                [
                    competency.parent or "",
                    competency.key,
                    shorten(competency.title),
                    competency.description or "",
                    str(format_code(competency.description_format, competency.properties)),
                    scale_values,
                    config,
                    ruletype,
                    outcome,
                    ruleconfig,
                    related,
                    exported[competency.key],
                    "",
                    "",
                ],
                f"competency {competency.key!r}",
                excel_safe=excel_safe,
            )
        )
    return "".join(out)


def write_framework_csv(
    framework: Framework, path: str | Path, *, excel_safe: str | None = None, **_options: Any
) -> None:
    """Write ``framework`` as a Moodle CSV, atomically (nothing is written on error).

    ``excel_safe="yes"`` neutralises formula-like cells (off by default: Moodle's importer
    would keep the prefix as part of the text)."""
    text = dumps_framework(framework, excel_safe=excel_safe == "yes")
    with atomic_write(path, newline="") as handle:
        handle.write(text)


# -- the registered format ---------------------------------------------------------------


def _simplify(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


_HEADER_SHAPES = frozenset(
    tuple(_simplify(h) for h in headers)
    for headers in (
        HEADERS,
        OLD_HEADERS,
        COLUMNS_12,
        tuple(name for i, name in enumerate(OLD_HEADERS) if i not in _NO_RELATED),
    )
)


def sniff_moodle_csv(path: Path, head: bytes) -> bool:
    """Whether a file looks like a Moodle framework CSV.

    The first record must have 14 (or the older 12) columns; then either its texts are
    Moodle's English headers, or (translated headers) the file carries a Moodle scale
    configuration (``"scaleid"``) in a row of the same width.
    """
    if path.suffix.lower() not in (".csv", ".txt"):
        return False
    text = head.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    records = parse_php_csv(text)
    header = next(records, None)
    if header is None or len(header.fields) not in (12, 14):
        return False
    if tuple(_simplify(h) for h in header.fields) in _HEADER_SHAPES:
        return True
    width = len(header.fields)
    config_column = 6
    return any(
        len(record.fields) == width and '"scaleid"' in record.fields[config_column]
        for record in records
    )


MOODLE_CSV = FileFormat(
    name="moodle-csv",
    description="Moodle competency framework CSV (tool_lpimportcsv import/export)",
    suffixes=(".csv",),
    sniff=sniff_moodle_csv,
    read=read_framework_csv,
    write=write_framework_csv,
    options=(FormatOption("excel-safe", "neutralise formula-like cells", choices=("yes", "no")),),
)
"""The ``moodle-csv`` format of ``comp-adapters convert``."""
