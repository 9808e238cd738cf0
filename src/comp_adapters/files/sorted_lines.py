"""A JSON list kept one compact row a line, in the byte order of its lines, and merging a
few rows into it without parsing the others.

A results file (``results-file``) holds hundreds of thousands of rows; a re-sync after a
little new evidence changes a few thousand. Each row is one line that begins with its key,
``{"learner":"…","competency":"…"`` as compact JSON writes it. These key prefixes never
extend one another (each ends with the quote closing the competency), so the order of the
lines' bytes is the order of their keys, whatever the rest of the line holds. Merging is
then: split the lines (one C-speed pass), check that they are in order (one C-speed sort
of an already sorted list, so a file written in another order is noticed, never trusted),
find each given row's place by binary search (``bisect``), and join the unchanged runs with
the given rows put in place.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

OPEN, CLOSE, SEPARATOR = b"[\n", b"\n]\n", b",\n"
"""A list of compact lines: ``[``, the lines joined by ``,`` and a newline, ``]``."""


def render_lines(lines: Iterable[bytes]) -> bytes:
    """The list holding ``lines`` in order (``[`` and ``]`` alone when there are none)."""
    body = SEPARATOR.join(lines)
    return OPEN + body + CLOSE if body else OPEN + CLOSE[1:]


def sorted_lines(raw: bytes) -> list[bytes] | None:
    """The lines of a list :func:`render_lines` wrote, if they are in byte order; ``None``
    for any other content (another layout, or lines out of order)."""
    if raw == OPEN + CLOSE[1:]:
        return []
    if not (raw.startswith(OPEN) and raw.endswith(CLOSE)):
        return None
    # Compact JSON escapes every newline inside a value: each ",\n" ends a line.
    lines = raw[len(OPEN) : -len(CLOSE)].split(SEPARATOR)
    if sorted(lines) != lines:
        return None
    return lines


def merge_rows(lines: list[bytes], rows: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """``lines`` (in byte order) with each (key prefix, line) row in its place: replacing
    the line that starts with its key prefix, or inserted where it sorts. A key given
    twice keeps its last line. Each key prefix must end where the key ends, so that it
    begins no other key's line."""
    given = dict(rows)
    merged: list[bytes] = []
    cursor = 0
    for prefix in sorted(given):
        place = bisect_left(lines, prefix, cursor)
        merged.extend(lines[cursor:place])
        merged.append(given[prefix])
        same = place < len(lines) and lines[place].startswith(prefix)
        cursor = place + 1 if same else place
    merged.extend(lines[cursor:])
    return merged
