"""Ruby's CSV parser as Canvas's outcome importer runs it, for the fake Canvas.

Canvas reads an outcomes import with ``CSV.new(file, col_sep: separator)``
(``Outcomes::CSVImporter#parse_file``), Ruby's defaults otherwise, and turns any
``CSV::MalformedCSVError`` into the file-level failure "Invalid CSV File"
(``Outcomes::CSVImporter#run``). What that parser does, restated (ruby/csv ``parser.rb``):

* the row separator is detected from the data: the first ``\\r\\n``, ``\\n`` or ``\\r`` found
  (``detect_row_separator``), so a file mixing line ends fails where an unquoted field holds
  the other one ("Unquoted fields do not allow new line");
* a quote may only open a field; inside, ``""`` is one quote; after the closing quote only the
  separator, the row separator or the end may follow ("Any value after quoted field isn't
  allowed"); a quote inside an unquoted field is "Illegal quoting"; a quote never closed is
  "Unclosed quoted field";
* an empty unquoted field is ``nil`` (here ``None``), a quoted one ``""``; an empty line is
  an empty row.

Also the separator choice (``CSVImporter#test_header_i18n``: ``;`` when the first line has
more of them than commas) and the line count (``file_line_count``: lines split at ``\\n``).
"""

from __future__ import annotations

Cell = str | None


class MalformedCSVError(ValueError):
    """Ruby's ``CSV::MalformedCSVError``."""


def detect_row_separator(text: str) -> str:
    cr, lf = text.find("\r"), text.find("\n")
    if cr < 0 and lf < 0:
        return "\n"
    if cr >= 0 and (lf < 0 or cr < lf):
        return "\r\n" if text[cr : cr + 2] == "\r\n" else "\r"
    return "\n"


def choose_separator(text: str) -> str:
    """``;`` when the first line (up to ``\\n``) has more ``;`` than ``,``."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def line_count(text: str) -> int:
    """Lines as Ruby's ``IO#each`` yields them (split after each ``\\n``)."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def parse(text: str, col_sep: str) -> list[list[Cell]]:
    """Rows of ``text``; :class:`MalformedCSVError` where Ruby's parser raises one."""
    row_sep = detect_row_separator(text)
    rows: list[list[Cell]] = []
    row: list[Cell] = []
    i, n = 0, len(text)
    at_row_start = True
    while i < n:
        if at_row_start and text.startswith(row_sep, i):
            rows.append([])  # an empty line
            i += len(row_sep)
            continue
        at_row_start = False
        if text[i] == '"':
            value, i = _quoted(text, i + 1, row_sep, col_sep)
            row.append(value)
        else:
            end = i
            while (
                end < n and not text.startswith(col_sep, end) and not text.startswith(row_sep, end)
            ):
                ch = text[end]
                if ch == '"':
                    raise MalformedCSVError(f"Illegal quoting in line {len(rows) + 1}.")
                if ch in "\r\n":
                    raise MalformedCSVError(
                        f"Unquoted fields do not allow new line <{ch!r}> in line {len(rows) + 1}."
                    )
                end += 1
            row.append(text[i:end] or None)
            i = end
        if i >= n:
            break
        if text.startswith(col_sep, i):
            i += len(col_sep)
            if i >= n:
                row.append(None)
            continue
        i += len(row_sep)  # the row separator
        rows.append(row)
        row = []
        at_row_start = True
    if row or not at_row_start:
        rows.append(row)
    return rows


def _quoted(text: str, i: int, row_sep: str, col_sep: str) -> tuple[str, int]:
    out: list[str] = []
    n = len(text)
    while True:
        close = text.find('"', i)
        if close < 0:
            raise MalformedCSVError("Unclosed quoted field.")
        out.append(text[i:close])
        if text.startswith('""', close):
            out.append('"')
            i = close + 2
            continue
        i = close + 1
        if i < n and not text.startswith(col_sep, i) and not text.startswith(row_sep, i):
            raise MalformedCSVError("Any value after quoted field isn't allowed.")
        return "".join(out), i
