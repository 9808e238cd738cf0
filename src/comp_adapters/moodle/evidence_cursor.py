"""Where a Moodle evidence read stands: pure bookkeeping of the cursor (no I/O).

Moodle orders evidence by creation time (``timecreated``, seconds) but can only be read
learner by learner, and one learner's newest evidence may be newer than another's oldest.
So a read is a *pass* over the learners that starts from the previous pass's cursor:

* ``position`` and ``seen_ids`` are those of the last finished pass: evidence created
  before ``position``, or at it with an id in ``seen_ids``, was read;
* during a pass, each batch's cursor also holds, in ``extra``, the learners already done
  in it and the newest evidence seen so far; a read resumed from it skips those learners
  and goes on accumulating, so no evidence is yielded twice and none is skipped;
* the last batch of a pass gives the next pass's cursor (position = the newest
  evidence's time, with the ids at that second).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import JsonValue

from comp_adapters.errors import ConfigurationError
from comp_adapters.protocols import Cursor

ADAPTER = "moodle"
FIELD = "evidence.timecreated"


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError("moodle: the evidence cursor's extra data is damaged")
    return list(value)


def _number(value: object | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigurationError("moodle: the evidence cursor's position is not a time")
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError("moodle: the evidence cursor's position is not a time") from None


@dataclass(slots=True)
class EvidenceProgress:
    """A pass over the learners: what was read before it, and how far it got."""

    position: int | None = None
    seen: frozenset[str] = frozenset()
    done: list[str] = field(default_factory=list)
    newest: int | None = None
    newest_ids: set[str] = field(default_factory=set)

    @classmethod
    def starting_at(cls, cursor: Cursor | None) -> EvidenceProgress:
        """The pass a cursor starts (or, from a batch in the middle of one, resumes)."""
        if cursor is None:
            return cls()
        if cursor.adapter != ADAPTER:
            raise ConfigurationError(f"moodle: a {cursor.adapter!r} cursor cannot be used here")
        position = _number(cursor.position)
        progress = cls(position=position, seen=frozenset(cursor.seen_ids))
        extra = cursor.extra
        if "done" in extra:
            progress.done = _strings(extra["done"])
            progress.newest = _number(extra.get("newest"))
            progress.newest_ids = set(_strings(extra.get("newest_ids", [])))
        else:
            progress.newest, progress.newest_ids = position, set(cursor.seen_ids)
        return progress

    def is_new(self, created: int, evidence_id: str) -> bool:
        """Whether evidence created at ``created`` was not read by an earlier pass."""
        if self.position is None:
            return True
        return created > self.position or (
            created == self.position and evidence_id not in self.seen
        )

    def saw(self, created: int, evidence_id: str) -> None:
        """Count evidence yielded in this pass."""
        if self.newest is None or created > self.newest:
            self.newest, self.newest_ids = created, {evidence_id}
        elif created == self.newest:
            self.newest_ids.add(evidence_id)

    def finish(self, learner: str) -> None:
        """A learner's evidence was all yielded."""
        self.done.append(learner)

    def cursor(self, *, last: bool) -> Cursor:
        """The cursor after the learners done so far; ``last`` ends the pass."""
        if last:
            return Cursor(
                adapter=ADAPTER,
                field=FIELD,
                position=str(self.newest) if self.newest is not None else None,
                seen_ids=tuple(sorted(self.newest_ids)),
            )
        return Cursor(
            adapter=ADAPTER,
            field=FIELD,
            position=str(self.position) if self.position is not None else None,
            seen_ids=tuple(sorted(self.seen)),
            extra={
                "done": list[JsonValue](self.done),
                "newest": self.newest,
                "newest_ids": list[JsonValue](sorted(self.newest_ids)),
            },
        )
