"""Where things are in a TOML file: the line of each table and key.

``tomllib`` keeps no positions, so the project file's text is scanned for table headers
(``[framework]``, ``[[target]]``, counted) and ``key =`` lines. Good enough to point at a
problem; a key written in an unusual way (dotted, in an inline table) is located at its
table's header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ARRAY_HEADER = re.compile(r"^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]")
_HEADER = re.compile(r"^\[\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"""^(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")

Table = tuple[str | None, int | None]
"""(table name, index in its array of tables) — (None, None) for the top level."""


@dataclass(slots=True)
class Places:
    """Lines of the tables and keys of one TOML text."""

    tables: dict[Table, int] = field(default_factory=dict)
    keys: dict[tuple[str | None, int | None, str], int] = field(default_factory=dict)

    def line(self, table: str | None, index: int | None, key: str | None = None) -> int | None:
        if key is not None:
            found = self.keys.get((table, index, key))
            if found is not None:
                return found
        return self.tables.get((table, index))


def scan(text: str) -> Places:
    places = Places()
    counts: dict[str, int] = {}
    current: Table = (None, None)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        array = _ARRAY_HEADER.match(line)
        if array:
            name = array.group(1)
            index = counts.get(name, 0)
            counts[name] = index + 1
            current = (name, index)
            places.tables[current] = number
            continue
        header = _HEADER.match(line)
        if header:
            name = header.group(1)
            parent = name.split(".", 1)[0]
            if "." in name and parent in counts:
                continue  # [target.options]: keys still count as the target's
            current = (name, None)
            places.tables.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            name = next(group for group in key.groups() if group is not None)
            places.keys.setdefault((current[0], current[1], name), number)
    return places
