"""File plumbing shared by every reader and writer: atomic writes, located JSON parsing."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from comp_adapters.errors import ConfigurationError, Problem, ValidationError


@contextlib.contextmanager
def atomic_write(path: str | Path, *, newline: str | None = "\n") -> Iterator[IO[str]]:
    """Open a text file for writing that appears at ``path`` only if the block succeeds.

    Writes go to a temporary file beside ``path``, renamed over it at the end; on any
    error the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigurationError(f"{target}: is a folder; give a file name to write")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except FileNotFoundError:
        raise ConfigurationError(f"{target}: the folder {target.parent} does not exist") from None
    except PermissionError:
        raise ConfigurationError(f"{target}: no permission to write in {target.parent}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp_name).unlink()
        raise


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_json_text(text: str, *, source: str, first_line: int = 1) -> Any:
    """Parse JSON, refusing duplicate object keys; errors name ``source`` and the line."""
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except _DuplicateKeyError as exc:
        line = first_line + _line_of_key(text, exc.key) - 1
        raise ValidationError(
            [Problem(f"duplicate key {exc.key!r} in a JSON object", file=source, line=line)]
        ) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [
                Problem(
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    file=source,
                    line=first_line + exc.lineno - 1,
                )
            ]
        ) from None


def _line_of_key(text: str, key: str) -> int:
    """Line of the second occurrence of ``"key":`` (the duplicate), best effort."""
    needle = json.dumps(key)
    first = text.find(needle)
    second = text.find(needle, first + 1) if first >= 0 else -1
    at = second if second >= 0 else max(first, 0)
    return text.count("\n", 0, at) + 1


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file (a byte order mark dropped); failures are located problems."""
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [Problem(f"not UTF-8 text (byte {exc.start})", file=source)]
        ) from None
    except OSError as exc:
        raise ValidationError([Problem(f"cannot read: {exc.strerror}", file=source)]) from None


def read_json_file(path: str | Path) -> Any:
    """Read and parse a JSON file; every failure is a located :class:`ValidationError`."""
    return parse_json_text(read_text_file(path), source=str(path))
