"""What the file adapters share: planning one file's content and writing it atomically.

A file target's plan is one change: ``create`` (no file yet), ``update`` (other bytes) or
``noop`` (exactly these bytes already). The change carries the content's SHA-256 and, when
small enough, the content itself, so a saved plan can be applied by another process; a
larger content is kept by the adapter that planned it (apply it in the same process, or
plan again).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

from comp_adapters._files import atomic_write_bytes
from comp_adapters.errors import ConfigurationError, PlanError
from comp_adapters.sync.apply import ApplyReport, apply_plan
from comp_adapters.sync.journal import Journal, Result
from comp_adapters.sync.plan import Action, Change, Plan

EMBED_LIMIT = 1 << 20
"""Contents up to this many bytes travel inside the plan (base64)."""
ABSENT = "absent"
"""The state fingerprint of a file that does not exist."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_state(path: Path) -> str:
    """The fingerprint of what ``path`` holds now (``absent`` when there is no file)."""
    try:
        return digest(path.read_bytes())
    except FileNotFoundError:
        return ABSENT
    except IsADirectoryError:
        raise ConfigurationError(f"{path}: is a folder; give a file") from None


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so it appears whole or not at all (folders created), with
    the mode rules of every file the project writes (``_files.atomic_write_bytes``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


class FilePlanner:
    """Plans and applies the one change that makes a file hold some bytes."""

    def __init__(self, adapter: str, path: Path, kind: str) -> None:
        self.adapter = adapter
        self.path = path
        self.kind = kind
        self._contents: dict[str, bytes] = {}

    def plan(
        self,
        data: bytes,
        *,
        notes: tuple[str, ...] = (),
        fields: Mapping[str, str | int] | None = None,
        same_content: Callable[[], bool] | None = None,
        current: bytes | None = None,
    ) -> Plan:
        """The plan writing ``data``; ``same_content`` (asked only when the file exists
        with other bytes) says whether it holds the same content all the same (a writer
        that stamps the time of writing); ``current``: the bytes the planner just read
        from the file (not read again)."""
        state = file_state(self.path) if current is None else digest(current)
        wanted = digest(data)
        extra = dict(fields or {})
        if state == wanted or (state != ABSENT and same_content is not None and same_content()):
            change = Change(
                id=f"{self.kind}:{self.path.name}",
                action=Action.NOOP,
                kind=self.kind,
                key=str(self.path),
                fields={"sha256": state, **extra},
                reason="the file already holds exactly this content"
                if state == wanted
                else "the file already holds this content (only its time stamps would differ)",
            )
        else:
            self._contents[wanted] = data
            values: dict[str, str | int] = {"sha256": wanted, "bytes": len(data), **extra}
            if len(data) <= EMBED_LIMIT:
                values["content_b64"] = base64.b64encode(data).decode("ascii")
            change = Change(
                id=f"{self.kind}:{self.path.name}",
                action=Action.CREATE if state == ABSENT else Action.UPDATE,
                kind=self.kind,
                key=str(self.path),
                fields=dict(values),
            )
        return Plan(
            adapter=self.adapter,
            target=f"file {self.path}",
            changes=(change,),
            notes=notes,
            state_fingerprint=state,
        )

    def unchanged(self, reason: str) -> Plan:
        """A plan that writes nothing, for ``reason`` (the file is not even read)."""
        change = Change(
            id=f"{self.kind}:{self.path.name}",
            action=Action.NOOP,
            kind=self.kind,
            key=str(self.path),
            reason=reason,
        )
        return Plan(adapter=self.adapter, target=f"file {self.path}", changes=(change,))

    def apply(self, plan: Plan, *, journal: Journal | None = None) -> ApplyReport:
        return apply_plan(
            plan, self._execute, journal=journal, current_state=lambda: file_state(self.path)
        )

    def _execute(self, change: Change, _done: Mapping[str, Result]) -> Result:
        wanted = str(change.fields["sha256"])
        embedded = change.fields.get("content_b64")
        if isinstance(embedded, str):
            data = base64.b64decode(embedded)
            if digest(data) != wanted:
                raise PlanError(f"{self.path}: the plan's content does not match its sha256")
        elif wanted in self._contents:
            data = self._contents[wanted]  # kept under the digest this planner computed
        else:
            raise PlanError(
                f"{self.path}: the plan does not carry the file's content (it is larger "
                f"than {EMBED_LIMIT} bytes); plan again and apply in one step"
            )
        write_bytes_atomically(Path(change.key), data)
        return {"sha256": wanted}
