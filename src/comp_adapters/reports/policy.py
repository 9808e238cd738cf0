"""Who may see what: the viewer policy every report, export and (later) API answer applies.

A report is made *for a viewer*: ``learner:ID`` (a learner, about themselves), ``manager:ID``
(about the people they manage, directly or through others), ``admin`` (everyone) or
``auditor`` (everyone, everything). What a viewer is shown of a piece of evidence depends on
its :class:`~comp_adapters.core.evidence.Visibility` and on the viewer's relation to the
learner it is about:

============  =======  ========  =====  =======
visibility    self     manager   admin  auditor
============  =======  ========  =====  =======
public        shown    shown     shown  shown
organisation  shown    shown     shown  shown
managers      -        shown     shown  shown
learner       shown    -         -      shown
private       -        -         -      shown
============  =======  ========  =====  =======

What *counts* towards a result is the same for every viewer, so a learner, their manager
and HR see the same standing: everything counts except ``private`` evidence, which counts
only when the policy says so (``count_private``). A viewer who may not see a piece of
evidence sees the results it supports, never its id, note or source.

Pure and reusable: the server's answers apply the same :class:`Policy`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from comp_adapters.core.evidence import Visibility
from comp_adapters.errors import ConfigurationError


class ViewerKind(StrEnum):
    LEARNER = "learner"
    MANAGER = "manager"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Relation(StrEnum):
    """How a viewer stands to one learner."""

    SELF = "self"
    MANAGER = "manager"
    ADMIN = "admin"
    AUDITOR = "auditor"
    NONE = "none"
    """Not allowed to see this learner at all."""


SHOWN: dict[Relation, frozenset[Visibility]] = {
    Relation.SELF: frozenset({Visibility.PUBLIC, Visibility.ORGANISATION, Visibility.LEARNER}),
    Relation.MANAGER: frozenset({Visibility.PUBLIC, Visibility.ORGANISATION, Visibility.MANAGERS}),
    Relation.ADMIN: frozenset({Visibility.PUBLIC, Visibility.ORGANISATION, Visibility.MANAGERS}),
    Relation.AUDITOR: frozenset(Visibility),
    Relation.NONE: frozenset(),
}
"""Which visibilities each relation is shown (the table above)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whom a report or answer is for."""

    kind: ViewerKind
    id: str | None = None

    @classmethod
    def parse(cls, text: str) -> Viewer:
        """``learner:ID``, ``manager:ID``, ``admin`` or ``auditor``."""
        kind, sep, ident = text.strip().partition(":")
        try:
            viewer_kind = ViewerKind(kind.strip().lower())
        except ValueError:
            raise ConfigurationError(
                f"viewer {text!r}: expected learner:ID, manager:ID, admin or auditor"
            ) from None
        ident = ident.strip()
        needs_id = viewer_kind in (ViewerKind.LEARNER, ViewerKind.MANAGER)
        if needs_id and not ident:
            raise ConfigurationError(
                f"viewer {text!r}: {viewer_kind.value} needs an id ({kind}:ID)"
            )
        if not needs_id and sep:
            raise ConfigurationError(f"viewer {text!r}: {viewer_kind.value} takes no id")
        return cls(viewer_kind, ident or None)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}" if self.id else self.kind.value


@dataclass(frozen=True, slots=True)
class Policy:
    """The organisation's visibility rules (see the module doc)."""

    count_private: bool = False

    def counts(self, visibility: Visibility) -> bool:
        """Whether evidence of this visibility counts towards results (for every viewer)."""
        return visibility is not Visibility.PRIVATE or self.count_private

    def relation(self, viewer: Viewer, learner: str, managers: Collection[str]) -> Relation:
        """The viewer's relation to ``learner``, whose managers (all the way up) are
        ``managers``."""
        if viewer.kind is ViewerKind.AUDITOR:
            return Relation.AUDITOR
        if viewer.kind is ViewerKind.ADMIN:
            return Relation.ADMIN
        if viewer.kind is ViewerKind.LEARNER:
            return Relation.SELF if viewer.id == learner else Relation.NONE
        if viewer.id != learner and viewer.id in managers:
            return Relation.MANAGER
        return Relation.NONE

    def shows(self, relation: Relation, visibility: Visibility) -> bool:
        """Whether a viewer so related to the learner is shown evidence of this visibility."""
        return visibility in SHOWN[relation] and (
            self.counts(visibility) or relation is Relation.AUDITOR
        )
