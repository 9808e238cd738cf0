"""``evidence-file``: evidence read incrementally from a growing file.

Two formats, both one record a line: native evidence JSON lines, or xAPI statements (JSON
lines) turned into evidence through a mapping file (:mod:`comp_adapters.xapi.mapping`; a
voiding statement withdraws what its target produced). The cursor is the byte offset after
the last complete line read, with a fingerprint of the file's first bytes: a file replaced
by another (not appended to) is read again from the start, and the store de-duplicates what
was read before by evidence id.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import orjson
import pydantic
from pydantic import Field, JsonValue

from comp_adapters.core.evidence import Evidence
from comp_adapters.errors import ConfigurationError, Problem, ValidationError
from comp_adapters.native import evidence_line_problems, evidence_shape_hint
from comp_adapters.protocols import Capability, Cursor, EvidenceBatch
from comp_adapters.settings import AdapterSettings
from comp_adapters.xapi.files import parse_statement_bytes
from comp_adapters.xapi.mapping import (
    BAD,
    EVIDENCE,
    SKIP,
    VOID,
    StatementMapper,
    load_mapping,
)

if TYPE_CHECKING:
    import requests

HEAD_BYTES = 4096
"""How much of the file's start the cursor fingerprints."""
BATCH_LINES = 5_000
"""Lines read per batch (one ingest transaction each)."""
CURSOR_FIELD = "byte_offset"


class EvidenceFileSettings(AdapterSettings):
    """The evidence file, its format, and the mapping of an xAPI statement file."""

    path: Path = Field(description="the evidence file (one record a line)")
    format: Literal["native", "xapi"] | None = Field(
        default=None,
        description="native evidence lines, or xapi statement lines; default: xapi when a "
        "mapping is given, else native",
    )
    mapping: Path | None = Field(
        default=None, description="xAPI mapping file (TOML or JSON), for format = xapi"
    )

    @pydantic.model_validator(mode="after")
    def _mapping_for_xapi(self) -> EvidenceFileSettings:
        if self.format == "xapi" and self.mapping is None:
            raise ValueError("format xapi needs a mapping file (mapping = PATH)")
        if self.format == "native" and self.mapping is not None:
            raise ValueError("a mapping is only used with format = xapi")
        return self


def _head_digest(path: Path, length: int) -> str:
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(length)).hexdigest()


class EvidenceFileAdapter:
    """Reads evidence from one JSON-lines file, from where the last read stopped."""

    name: ClassVar[str] = "evidence-file"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READS_EVIDENCE})
    settings_model: ClassVar[type[AdapterSettings]] = EvidenceFileSettings

    def __init__(self, settings: EvidenceFileSettings) -> None:
        self.path = settings.path
        self.format: Literal["native", "xapi"] = settings.format or (
            "xapi" if settings.mapping is not None else "native"
        )
        self.mapping_path = settings.mapping
        self._mapping_bytes = b""
        if settings.mapping is not None:
            try:
                self._mapping_bytes = settings.mapping.read_bytes()
            except FileNotFoundError:
                raise ValidationError(
                    [Problem("mapping file not found", file=str(settings.mapping))]
                ) from None
        self.batch_lines = BATCH_LINES

    @classmethod
    def from_settings(
        cls,
        settings: AdapterSettings,
        *,
        session: requests.Session | None = None,  # noqa: ARG003 - no HTTP here
    ) -> Self:
        if not isinstance(settings, EvidenceFileSettings):
            raise TypeError("evidence-file takes EvidenceFileSettings")
        return cls(settings)

    @property
    def target(self) -> str:
        return f"file {self.path}"

    def evidence_query(self) -> dict[str, JsonValue]:
        """The file, its format and the digest of the mapping: what the cursor belongs to."""
        query: dict[str, JsonValue] = {"path": str(self.path.resolve()), "format": self.format}
        if self.format == "xapi":
            query["mapping_sha256"] = hashlib.sha256(self._mapping_bytes).hexdigest()
        return query

    def read_evidence(self, *, cursor: Cursor | None = None) -> Iterator[EvidenceBatch]:
        """Batches of the lines after ``cursor``; the last batch ends at the last complete
        line (a line still being written is left for the next read)."""
        if not self.path.exists():
            raise ValidationError([Problem("file not found", file=str(self.path))])
        offset, line, skipped = self._start(cursor)
        mapper = (
            StatementMapper(load_mapping(self.mapping_path))
            if self.format == "xapi" and self.mapping_path is not None
            else None
        )
        with self.path.open("rb") as handle:
            handle.seek(offset)
            while True:
                evidence: list[Evidence] = []
                withdrawn: list[str] = []
                problems: list[Problem] = []
                read = 0
                for raw in handle:
                    if not raw.endswith(b"\n") and not _complete(raw):
                        break  # a line still being written: left for the next read
                    line += 1
                    offset += len(raw)
                    read += 1
                    if raw.strip():
                        self._parse(raw, line, mapper, evidence, withdrawn, skipped, problems)
                    if read >= self.batch_lines:
                        break
                if problems:
                    raise ValidationError(problems)
                yield EvidenceBatch(
                    evidence=tuple(evidence),
                    cursor=self._cursor(offset, line),
                    withdrawn=tuple(withdrawn),
                    skipped=dict(skipped),
                )
                skipped.clear()
                if read < self.batch_lines:
                    return

    # -- parts ----------------------------------------------------------------------------

    def _start(self, cursor: Cursor | None) -> tuple[int, int, Counter[str]]:
        """Offset and line to read from, and what to report about the cursor."""
        skipped: Counter[str] = Counter()
        if cursor is None:
            return 0, 0, skipped
        if cursor.adapter != self.name or cursor.field != CURSOR_FIELD:
            raise ConfigurationError(
                f"{self.path}: the stored cursor is of {cursor.adapter} ({cursor.field}), "
                "not of an evidence file"
            )
        offset = int(cursor.position or 0)
        head = cursor.extra.get("head_sha256")
        size = self.path.stat().st_size
        if offset > size or (
            offset > 0 and head != _head_digest(self.path, min(offset, HEAD_BYTES))
        ):
            skipped["file replaced since the last read: read again from the start"] += 1
            return 0, 0, skipped
        line = cursor.extra.get("line")
        return offset, int(line) if isinstance(line, int) else 0, skipped

    def _cursor(self, offset: int, line: int) -> Cursor:
        return Cursor(
            adapter=self.name,
            field=CURSOR_FIELD,
            position=str(offset),
            extra={
                "head_sha256": _head_digest(self.path, min(offset, HEAD_BYTES)),
                "line": line,
            },
        )

    def _parse(
        self,
        raw: bytes,
        line: int,
        mapper: StatementMapper | None,
        evidence: list[Evidence],
        withdrawn: list[str],
        skipped: Counter[str],
        problems: list[Problem],
    ) -> None:
        source = str(self.path)
        if mapper is None:
            try:
                evidence.append(Evidence.model_validate_json(raw))
            except pydantic.ValidationError as exc:
                text = raw.decode("utf-8", errors="replace")
                if line == 1:
                    problems.extend(evidence_shape_hint(text, source, line))
                problems.extend(evidence_line_problems(exc, source=source, line=line))
            return
        try:
            statement = parse_statement_bytes(raw, source=source, line=line)
        except ValidationError as exc:
            problems.extend(exc.problems)
            return
        kind, value = mapper.map(statement)
        if kind == EVIDENCE:
            evidence.extend(value)
        elif kind == VOID:
            withdrawn.append(str(value))
        elif kind == SKIP:
            skipped[str(value)] += 1
        elif kind == BAD:
            message, field = _bad(value)
            problems.append(Problem(message, file=source, line=line, field=field))


def _complete(raw: bytes) -> bool:
    """Whether a last line without a newline is a whole JSON value (the file is done)."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _bad(value: Any) -> tuple[str, str | None]:
    if isinstance(value, tuple) and len(value) == 2:
        return str(value[0]), None if value[1] is None else str(value[1])
    return str(value), None
