"""Canvas LMS: outcomes push and pull, the outcomes CSV, results in, mastery out.

Start with :class:`CanvasAdapter` over a :class:`CanvasClient`::

    client = CanvasClient.connect("https://canvas.example.edu", token, context="account:1")
    adapter = CanvasAdapter(client)
    plan = adapter.plan_framework(framework)
    adapter.apply(plan)
"""

from comp_adapters.canvas.adapter import (
    CanvasAdapter,
    CanvasSettings,
    Flags,
    OutcomeImportError,
    RollupReport,
)
from comp_adapters.canvas.cartridge import CANVAS_CARTRIDGE, read_cartridge
from comp_adapters.canvas.client import (
    CanvasClient,
    CanvasContext,
    MasteryScalesEnabledError,
)
from comp_adapters.canvas.mapping import (
    OutcomeTree,
    competency_guid,
    desired_tree,
    framework_from_tree,
    framework_guid,
)
from comp_adapters.canvas.outcomes_csv import (
    CANVAS_CSV,
    read_outcomes_csv,
    tree_from_csv_text,
    tree_to_csv,
    write_outcomes_csv,
)

__all__ = [
    "CANVAS_CARTRIDGE",
    "CANVAS_CSV",
    "CanvasAdapter",
    "CanvasClient",
    "CanvasContext",
    "CanvasSettings",
    "Flags",
    "MasteryScalesEnabledError",
    "OutcomeImportError",
    "OutcomeTree",
    "RollupReport",
    "competency_guid",
    "desired_tree",
    "framework_from_tree",
    "framework_guid",
    "read_cartridge",
    "read_outcomes_csv",
    "tree_from_csv_text",
    "tree_to_csv",
    "write_outcomes_csv",
]
