"""CSV plumbing shared by every CSV reader: the dialects spreadsheet programs write.

Real exports (Canvas's outcomes CSV, HR systems' people files) come from Excel as often as
from code: a UTF-8 byte order mark, ``;`` as the separator in many locales, CR, LF or CRLF
line ends, quoted fields spanning lines. These helpers undo that, so each reader only deals
with its own columns; every problem is located by file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from comp_adapters.errors import Problem, ValidationError


def decode_csv_bytes(data: bytes, *, source: str) -> str:
    """UTF-8 text without a byte order mark; anything else is a located problem."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            [Problem(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", source, line)]
        ) from None


def sniff_delimiter(text: str) -> str:
    """``;`` when the header line has more semicolons than commas (Canvas's rule), else ``,``."""
    header = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def csv_records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of each record of a ``csv.reader``, so that multi-line
    records are located right."""
    previous = 0
    for cells in reader:
        yield previous + 1, cells
        previous = reader.line_num
