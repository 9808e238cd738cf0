"""Canvas LMS: outcomes push and pull, the outcomes CSV, results in, mastery out.

Start with :class:`CanvasAdapter` built from :class:`CanvasSettings`::

    settings = load_settings(flags={"url": "https://canvas.example.edu", "account": "1"})
    adapter = CanvasAdapter.from_settings(settings)   # the token from the environment
    plan = adapter.plan_framework(framework)
    adapter.apply(plan)

The package has the seams of every adapter: ``settings`` (settings and :func:`connect`),
``client`` and ``wire`` (HTTP), ``mapping`` and ``planner`` (pure), ``executor`` (one
handler per change :class:`Kind`), ``adapter`` (orchestration), and beside them
``features`` (feature flags), ``readback`` (reading the tree, polled jobs) and
``evidence`` (outcome results in).
"""

from typing import TYPE_CHECKING

from comp_adapters._lazy import lazy_exports

if TYPE_CHECKING:
    from comp_adapters.canvas.adapter import CanvasAdapter
    from comp_adapters.canvas.cartridge_format import CANVAS_CARTRIDGE, read_cartridge
    from comp_adapters.canvas.client import (
        CanvasClient,
        CanvasContext,
        MasteryScalesEnabledError,
    )
    from comp_adapters.canvas.csv_format import (
        CANVAS_CSV,
        read_outcomes_csv,
        tree_from_csv_text,
        tree_to_csv,
        write_outcomes_csv,
    )
    from comp_adapters.canvas.evidence import RollupReport
    from comp_adapters.canvas.executor import CanvasExecutor, Kind
    from comp_adapters.canvas.features import Flags
    from comp_adapters.canvas.mapping import (
        OutcomeTree,
        competency_guid,
        desired_tree,
        framework_from_tree,
        framework_guid,
    )
    from comp_adapters.canvas.readback import OutcomeImportError
    from comp_adapters.canvas.settings import CanvasSettings, connect, load_settings

_EXPORTS = {
    "CanvasAdapter": "comp_adapters.canvas.adapter",
    "CANVAS_CARTRIDGE": "comp_adapters.canvas.cartridge_format",
    "read_cartridge": "comp_adapters.canvas.cartridge_format",
    "CanvasClient": "comp_adapters.canvas.client",
    "CanvasContext": "comp_adapters.canvas.client",
    "MasteryScalesEnabledError": "comp_adapters.canvas.client",
    "CANVAS_CSV": "comp_adapters.canvas.csv_format",
    "read_outcomes_csv": "comp_adapters.canvas.csv_format",
    "tree_from_csv_text": "comp_adapters.canvas.csv_format",
    "tree_to_csv": "comp_adapters.canvas.csv_format",
    "write_outcomes_csv": "comp_adapters.canvas.csv_format",
    "RollupReport": "comp_adapters.canvas.evidence",
    "CanvasExecutor": "comp_adapters.canvas.executor",
    "Kind": "comp_adapters.canvas.executor",
    "Flags": "comp_adapters.canvas.features",
    "OutcomeTree": "comp_adapters.canvas.mapping",
    "competency_guid": "comp_adapters.canvas.mapping",
    "desired_tree": "comp_adapters.canvas.mapping",
    "framework_from_tree": "comp_adapters.canvas.mapping",
    "framework_guid": "comp_adapters.canvas.mapping",
    "OutcomeImportError": "comp_adapters.canvas.readback",
    "CanvasSettings": "comp_adapters.canvas.settings",
    "connect": "comp_adapters.canvas.settings",
    "load_settings": "comp_adapters.canvas.settings",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "CANVAS_CARTRIDGE",
    "CANVAS_CSV",
    "CanvasAdapter",
    "CanvasClient",
    "CanvasContext",
    "CanvasExecutor",
    "CanvasSettings",
    "Flags",
    "Kind",
    "MasteryScalesEnabledError",
    "OutcomeImportError",
    "OutcomeTree",
    "RollupReport",
    "competency_guid",
    "connect",
    "desired_tree",
    "framework_from_tree",
    "framework_guid",
    "load_settings",
    "read_cartridge",
    "read_outcomes_csv",
    "tree_from_csv_text",
    "tree_to_csv",
    "write_outcomes_csv",
]
