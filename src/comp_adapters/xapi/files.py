"""Statement files, streamed: a JSON array, a StatementResult, one statement, or JSON lines.

Split out of :mod:`comp_adapters.xapi.mapping` because reading files is a job of its own:
the reader never holds more than one chunk (1 MiB) plus the statement being read, finds each
statement's extent with a C-speed tokenizer (strings and brackets only), and parses it with
``orjson``. Every problem names the file and the line the statement starts on.

Duplicate object keys are refused (``json`` and ``orjson`` silently keep the last one). The
check is exact and costs one ``orjson.dumps`` of the parsed statement (about a third of the
parse), whatever the formatting, by counting colons:

- in JSON text a colon is either a member's name separator (exactly one per member) or a
  character of a string; ``orjson.dumps`` writes one separator per member it kept and never
  escapes a colon, and a duplicate key makes the parser drop a member (at least its
  separator). So when the text spells no colon as an escape (``\u003a``), it holds a
  duplicate key exactly when it has more colons than the serialisation of what was parsed;
- bytes equal to that serialisation (compact input, the usual case) need no counting;
- text with a ``\u003a`` escape, and a value nested deeper than ``orjson.dumps`` writes
  (255 levels), is re-checked with the standard library's pair hook, slower but exact.

Counting keys in the raw bytes instead (one ``re`` pass that consumes every string, counting
those followed by ``:``) would need no serialisation, but a regex match per string costs
about 15 times the whole ``orjson`` parse of a statement; the serialisation is the cheapest
exact witness of what the parser kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import orjson

from comp_adapters._files import _DuplicateKeyError, _line_of_key, _reject_duplicate_keys
from comp_adapters.errors import Problem, ValidationError

CHUNK: Final = 1 << 20
_loads: Final = orjson.loads
_dumps: Final = orjson.dumps
_TOKEN: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]|"')
_SPACE: Final = b" \t\r\n"

Located = tuple[int, Any]
"""(line the statement starts on, the parsed statement)."""


def parse_statement_bytes(raw: bytes, *, source: str, line: int) -> Any:
    """Parse one JSON value, refusing duplicate keys; problems are located at ``line``.

    The usual input, compact JSON as an LRS or ``orjson`` writes it, costs one parse and one
    serialisation compared with the input (about a quarter of the parse); anything else goes
    through :func:`_checked`.
    """
    try:
        value = _loads(raw)
        if _dumps(value) == raw:
            return value
    except orjson.JSONDecodeError as exc:
        raise ValidationError(
            [
                Problem(
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    file=source,
                    line=line + exc.lineno - 1,
                )
            ]
        ) from None
    except orjson.JSONEncodeError:  # e.g. nested deeper than orjson.dumps goes: check exactly
        return _checked(raw, value, source=source, line=line, colons=False)
    return _checked(raw, value, source=source, line=line, colons=True)


def _checked(raw: bytes, value: Any, *, source: str, line: int, colons: bool) -> Any:
    """``value`` (parsed from ``raw``) once ``raw`` is known to hold no duplicate key:
    by the colon count when ``colons`` (see the module docstring), else by the standard
    library's exact check, which also says where the duplicate is."""
    if colons and _same_colons(raw, _dumps(value)):
        return value
    try:
        json.loads(raw, object_pairs_hook=_reject_duplicate_keys)
    except _DuplicateKeyError as exc:
        text = raw.decode("utf-8", errors="replace")
        raise ValidationError(
            [
                Problem(
                    f"duplicate key {exc.key!r} in a JSON object",
                    file=source,
                    line=line + _line_of_key(text, exc.key) - 1,
                )
            ]
        ) from None
    return value


def _same_colons(raw: bytes, again: bytes) -> bool:
    """Whether ``raw`` certainly has no duplicate key, ``again`` being the serialisation of
    what was parsed from it (``False``: not certain). See the module docstring."""
    return again.count(b":") == raw.count(b":") and b"\\u003a" not in raw and b"\\u003A" not in raw


def _problem_or_raise(error: ValidationError, problems: list[Problem] | None) -> None:
    if problems is None:
        raise error
    problems.extend(error.problems)


def iter_statement_lines(
    lines: Iterable[bytes],
    *,
    source: str,
    problems: list[Problem] | None = None,
    first_line: int = 1,
) -> Iterator[Located]:
    """Statements from JSON lines (a line may also hold a whole StatementResult page).

    A bad line raises :class:`ValidationError` naming ``source`` and the line, unless
    ``problems`` is given: then it is recorded there and skipped.
    """
    for number, line in enumerate(lines, start=first_line):
        raw = line.strip(_SPACE)
        if not raw:
            continue
        try:
            value = parse_statement_bytes(raw, source=source, line=number)
        except ValidationError as exc:
            _problem_or_raise(exc, problems)
            continue
        if type(value) is dict and type(value.get("statements")) is list:
            for statement in value["statements"]:
                yield number, statement
        else:
            yield number, value


class _Buffer:
    """A growing window on a binary stream that knows the line number of any position."""

    def __init__(self, handle: IO[bytes], data: bytes) -> None:
        self.handle = handle
        self.data = data
        self.eof = False
        self._line = 1
        self._line_pos = 0

    def more(self) -> bool:
        """Read another chunk; ``False`` at the end of the stream."""
        if self.eof:
            return False
        chunk = self.handle.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.data += chunk
        return True

    def drop_before(self, pos: int) -> int:
        """Forget everything before ``pos``; returns the shift to apply to positions."""
        if pos < CHUNK:
            return 0
        self.line_of(pos)
        self.data = self.data[pos:]
        self._line_pos -= pos
        return pos

    def line_of(self, pos: int) -> int:
        if pos >= self._line_pos:
            self._line += self.data.count(b"\n", self._line_pos, pos)
        else:
            self._line -= self.data.count(b"\n", pos, self._line_pos)
        self._line_pos = pos
        return self._line

    def skip_space(self, pos: int) -> int:
        """Position of the next non-space byte (reading on as needed); ``len`` at the end."""
        while True:
            data = self.data
            while pos < len(data) and data[pos] in _SPACE:
                pos += 1
            if pos < len(data) or not self.more():
                return pos

    def value_end(self, start: int, *, source: str) -> int:
        """End (exclusive) of the object or array starting at ``start``."""
        depth = 0
        pos = start
        while True:
            for match in _TOKEN.finditer(self.data, pos):
                token = match.group()
                first = token[0]
                if first == 0x22:  # a string, or an unterminated one
                    if len(token) == 1:
                        pos = match.start()
                        break
                    continue
                depth += 1 if first in (0x7B, 0x5B) else -1
                if depth == 0:
                    return match.end()
            else:
                pos = len(self.data)
            if not self.more():
                raise ValidationError(
                    [
                        Problem(
                            "invalid JSON: unexpected end of file",
                            file=source,
                            line=self.line_of(start),
                        )
                    ]
                )


def iter_statement_file(
    path: str | Path, *, problems: list[Problem] | None = None
) -> Iterator[Located]:
    """Stream the statements of a file, whatever its shape, with the line each starts on.

    Shapes: a JSON array of statements, a StatementResult (``{"statements": [...]}``), a
    single statement, or JSON lines (each line a statement or a StatementResult page).
    Statements that are broken JSON or hold a duplicate key raise :class:`ValidationError`
    naming the file and line, unless ``problems`` is given: then they are recorded there
    and skipped (a file whose structure is broken still raises).
    """
    source = str(path)
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise ValidationError([Problem("file not found", file=source)]) from None
    except OSError as exc:
        raise ValidationError([Problem(f"cannot read: {exc.strerror}", file=source)]) from None
    with handle:
        head = handle.read(CHUNK)
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        buffer = _Buffer(handle, head)
        start = buffer.skip_space(0)
        if start >= len(buffer.data):
            return
        first = buffer.data[start]
        if first == 0x5B:  # [
            yield from _array(buffer, start, source, problems)
        elif first == 0x7B and _is_json_lines(buffer, start):
            yield from iter_statement_lines(_lines(buffer), source=source, problems=problems)
        elif first == 0x7B:
            yield from _object(buffer, start, source, problems)
        else:
            raise ValidationError(
                [
                    Problem(
                        "not a statement file: expected a JSON array, a statement, a "
                        "StatementResult or JSON lines",
                        file=source,
                        line=buffer.line_of(start),
                    )
                ]
            )


def _lines(buffer: _Buffer) -> Iterator[bytes]:
    """Every line of the stream: those already buffered, then the rest, chunk by chunk."""
    pending = buffer.data
    buffer.data = b""
    while True:
        pieces = pending.split(b"\n")
        pending = pieces.pop()
        yield from pieces
        chunk = buffer.handle.read(CHUNK)
        if not chunk:
            break
        pending += chunk
    if pending:
        yield pending


def _is_json_lines(buffer: _Buffer, start: int) -> bool:
    """Whether the document starting at ``start`` is one value per line (JSON lines)."""
    while True:
        newline = buffer.data.find(b"\n", start)
        if newline >= 0 or not buffer.more():
            break
    first = buffer.data[start : newline if newline >= 0 else len(buffer.data)].strip(_SPACE)
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def _array(
    buffer: _Buffer, start: int, source: str, problems: list[Problem] | None
) -> Iterator[Located]:
    """The objects of the array whose ``[`` is at ``start``."""
    pos = start + 1
    expect_value = True
    while True:
        pos = buffer.skip_space(pos)
        if pos >= len(buffer.data):
            raise ValidationError(
                [
                    Problem(
                        "invalid JSON: the array is not closed",
                        file=source,
                        line=buffer.line_of(len(buffer.data)),
                    )
                ]
            )
        byte = buffer.data[pos]
        if byte == 0x5D:  # ]
            return
        if byte == 0x2C and not expect_value:  # ,
            pos += 1
            expect_value = True
            continue
        if byte != 0x7B or not expect_value:
            raise ValidationError(
                [
                    Problem(
                        "invalid JSON: expected a statement object"
                        if expect_value
                        else "invalid JSON: expected ',' or ']'",
                        file=source,
                        line=buffer.line_of(pos),
                    )
                ]
            )
        end = buffer.value_end(pos, source=source)
        line = buffer.line_of(pos)
        try:
            yield line, parse_statement_bytes(buffer.data[pos:end], source=source, line=line)
        except ValidationError as exc:
            _problem_or_raise(exc, problems)
        expect_value = False
        pos = end - buffer.drop_before(end)


def _object(
    buffer: _Buffer, start: int, source: str, problems: list[Problem] | None
) -> Iterator[Located]:
    """A StatementResult (stream its ``statements``) or a single statement."""
    depth = 0
    pos = start
    while True:
        for match in _TOKEN.finditer(buffer.data, pos):
            token = match.group()
            if token[0] == 0x22:
                if len(token) == 1:
                    pos = match.start()
                    break
                if depth == 1 and token == b'"statements"':
                    after = buffer.skip_space(match.end())
                    if after < len(buffer.data) and buffer.data[after] == 0x3A:  # :
                        value = buffer.skip_space(after + 1)
                        if value < len(buffer.data) and buffer.data[value] == 0x5B:
                            yield from _array(buffer, value, source, problems)
                            return
                continue
            depth += 1 if token[0] in (0x7B, 0x5B) else -1
            if depth == 0:
                line = buffer.line_of(start)
                try:
                    yield (
                        line,
                        parse_statement_bytes(
                            buffer.data[start : match.end()], source=source, line=line
                        ),
                    )
                except ValidationError as exc:
                    _problem_or_raise(exc, problems)
                return
        else:
            pos = len(buffer.data)
        if not buffer.more():
            raise ValidationError(
                [
                    Problem(
                        "invalid JSON: unexpected end of file",
                        file=source,
                        line=buffer.line_of(start),
                    )
                ]
            )
