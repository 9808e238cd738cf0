"""File plumbing shared by every reader and writer: atomic writes, located JSON parsing."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from comp_adapters.errors import ConfigurationError, Problem, ValidationError

MAX_JSON_DEPTH = 900
"""About where Python's JSON parser runs out of stack (its recursion limit is 1000)."""


STDOUT = "-"
"""The output name that means standard output."""


def is_stdout(path: str | Path) -> bool:
    return str(path) == STDOUT


@contextlib.contextmanager
def atomic_write(path: str | Path, *, newline: str | None = "\n") -> Iterator[IO[str]]:
    """Open a text file for writing that appears at ``path`` only if the block succeeds.

    Writes go to a temporary file beside ``path``, renamed over it at the end; on any
    error the temporary file is removed and ``path`` is left as it was. A new file gets
    the mode the umask gives (like any program's output), a replaced file keeps its own
    mode; a symbolic link is written through (the link stays). Targets that are not
    regular files (devices, FIFOs, sockets) are refused. ``-`` writes to standard output,
    once the block succeeded.
    """
    if is_stdout(path):
        buffer = io.StringIO(newline=newline)
        yield buffer
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
        return
    target = writable_target(Path(path))
    with (
        _temporary_beside(target) as fd,
        os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle,
    ):
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all, by the rules of :func:`atomic_write`
    (the umask's mode for a new file, a replaced file's own mode, non-regular targets
    refused)."""
    target = writable_target(Path(path))
    with _temporary_beside(target) as fd, os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[int]:
    """A temporary file beside ``target`` with the mode ``target`` is to have, renamed over
    it when the block succeeds and removed when it fails."""
    mode = _mode_for(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except FileNotFoundError:
        raise ConfigurationError(f"{target}: the folder {target.parent} does not exist") from None
    except PermissionError:
        raise ConfigurationError(f"{target}: no permission to write in {target.parent}") from None
    try:
        os.fchmod(fd, mode)
        yield fd
        Path(tmp_name).replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp_name).unlink()
        raise


def writable_target(target: Path) -> Path:
    """The regular file to replace: ``target``, or the file a symbolic link points to.

    Refuses folders, devices, FIFOs and sockets (check before reading an output: opening a
    FIFO blocks)."""
    if target.is_symlink():
        target = target.resolve()
    if target.is_dir():
        raise ConfigurationError(f"{target}: is a folder; give a file name to write")
    if target.exists() and not target.is_file():
        kind = (
            "a FIFO"
            if target.is_fifo()
            else "a device"
            if target.is_char_device() or target.is_block_device()
            else "not a regular file"
        )
        raise ConfigurationError(
            f"{target}: is {kind}; give a regular file to write (or - for standard output)"
        )
    return target


def _mode_for(target: Path) -> int:
    """The mode of the file being replaced, or what the umask gives a new file."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def refuse_overwriting_inputs(output: str | Path, *inputs: str | Path | None) -> None:
    """Refuse an output that is one of the command's own inputs (same file, by inode)."""
    if is_stdout(output):
        return
    out = Path(output)
    for given in inputs:
        if given is None or is_stdout(given):
            continue
        source = Path(given)
        same = out.resolve() == source.resolve()
        with contextlib.suppress(OSError):
            same = same or (out.exists() and out.samefile(source))
        if same:
            raise ConfigurationError(
                f"{output}: is one of this command's inputs ({given}); choose another output"
            )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel (and LibreOffice, Google Sheets) read a cell as a
formula: ``=HYPERLINK(...)``, ``+SUM(...)``, ``-1+1``, ``@SUM(...)``, and tab or CR, which
some versions skip before looking (OWASP "CSV injection")."""


def excel_safe_cell(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would run it as a formula.

    Spreadsheets show the text and hide the quote; any other reader (an LMS import) keeps
    the quote as data, which is why CSV writers apply this only when asked
    (``--excel-safe``, on by default where the file is marked for Excel with a BOM).
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


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
    except RecursionError:
        raise ValidationError(
            [Problem(f"JSON nested too deeply to read ({_depth_hint(text)})", file=source)]
        ) from None


def _depth_hint(text: str) -> str:
    """Where the nesting goes too deep, cheaply: the line of the first very deep opener."""
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                line = text.count("\n", 0, index) + 1
                return f"more than {MAX_JSON_DEPTH} levels from line {line}"
        elif char in "]}":
            depth -= 1
    return f"more than the parser's limit of about {MAX_JSON_DEPTH} levels"


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
    except IsADirectoryError:
        raise ValidationError([Problem("is a folder, not a file", file=source)]) from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [Problem(f"not UTF-8 text (byte {exc.start})", file=source)]
        ) from None
    except OSError as exc:
        raise ValidationError([Problem(f"cannot read: {exc.strerror}", file=source)]) from None


def read_json_file(path: str | Path) -> Any:
    """Read and parse a JSON file; every failure is a located :class:`ValidationError`."""
    return parse_json_text(read_text_file(path), source=str(path))
