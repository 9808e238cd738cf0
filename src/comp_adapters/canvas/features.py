"""Which of Canvas's feature flags that change outcome behaviour are on.

Reading the flags (``features/enabled``) needs an admin token. Without one, account-level
mastery scales are told by how Canvas behaves: a context without a mastery scale of its own
answers 404 only when the flag is off, and ``GET /outcomes/:id`` leaves ``mastery_points``
out only when it is on. The new decaying average flag is then told by what Canvas stores
(:func:`comp_adapters.canvas.planner.infer_new_decay`).

:class:`Flags` is plain data the planner takes; this module imports no HTTP module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from comp_adapters.errors import NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from comp_adapters.canvas.client import CanvasClient
    from comp_adapters.canvas.settings import Tristate

MASTERY_SCALES_FLAG = "account_level_mastery_scales"
NEW_DECAY_FLAG = "outcomes_new_decaying_average_calculation"


@dataclass(frozen=True, slots=True)
class Flags:
    """The two feature flags that change outcome behaviour (``None``: could not be read).

    ``probed``: the flags endpoint was refused and ``mastery_scales`` was told by Canvas's
    behaviour instead (see :func:`read_flags`).
    """

    mastery_scales: bool | None
    new_decay: bool | None
    probed: bool = False


def read_flags(
    client: CanvasClient, *, mastery_scales: Tristate = "auto", probe_outcome: int | None = None
) -> Flags:
    """The feature flags, from ``features/enabled`` unless fixed by ``mastery_scales``.

    ``probe_outcome`` is any outcome of the context, read when the flags endpoint is
    refused to tell account-level mastery scales. ``None`` where nothing tells.
    """
    fixed = None if mastery_scales == "auto" else mastery_scales == "on"
    try:
        enabled = set(client.enabled_features())
    except (PermissionDeniedError, NotFoundError):
        if fixed is not None:
            return Flags(mastery_scales=fixed, new_decay=None)
        probed = _probe_mastery_scales(client, probe_outcome)
        return Flags(mastery_scales=probed, new_decay=None, probed=probed is not None)
    mastery = MASTERY_SCALES_FLAG in enabled if fixed is None else fixed
    return Flags(mastery_scales=mastery, new_decay=NEW_DECAY_FLAG in enabled)


def _probe_mastery_scales(client: CanvasClient, outcome_id: int | None) -> bool | None:
    try:
        if client.get_outcome_proficiency() is None:
            return False
        if outcome_id is not None:
            return client.get_outcome(outcome_id).mastery_points is None
    except (PermissionDeniedError, NotFoundError):
        pass
    return None
