"""Moodle: competency frameworks over web services and as CSV, ratings out, evidence in.

* :class:`MoodleClient` - the REST client (``/webservice/rest/server.php``), batching
  through ``tool_mobile_call_external_functions`` where the site offers it;
* :class:`MoodleAdapter` - push (plan, apply) and pull frameworks, rate proficiency,
  read ratings back as evidence;
* :data:`MOODLE_CSV` - the ``moodle-csv`` file format (``tool_lpimportcsv``);
* :class:`MoodleSettings` - settings (config file, environment, flags) and
  :func:`connect`, the one way to build the client.
"""

from typing import TYPE_CHECKING

from comp_adapters._lazy import lazy_exports

if TYPE_CHECKING:
    from comp_adapters.moodle.adapter import MoodleAdapter, refusals
    from comp_adapters.moodle.client import (
        BatchResult,
        Call,
        Calls,
        MoodleClient,
        encode_form,
    )
    from comp_adapters.moodle.csv_format import (
        MOODLE_CSV,
        dumps_framework,
        loads_framework,
        read_framework_csv,
        write_framework_csv,
    )
    from comp_adapters.moodle.executor import Kind
    from comp_adapters.moodle.functions import required_functions
    from comp_adapters.moodle.mapping import CourseLink
    from comp_adapters.moodle.planner import ForeignFrameworkError
    from comp_adapters.moodle.settings import MoodleSettings, connect, load_settings

_EXPORTS = {
    "MoodleAdapter": "comp_adapters.moodle.adapter",
    "refusals": "comp_adapters.moodle.adapter",
    "BatchResult": "comp_adapters.moodle.client",
    "Call": "comp_adapters.moodle.client",
    "Calls": "comp_adapters.moodle.client",
    "MoodleClient": "comp_adapters.moodle.client",
    "encode_form": "comp_adapters.moodle.client",
    "MOODLE_CSV": "comp_adapters.moodle.csv_format",
    "dumps_framework": "comp_adapters.moodle.csv_format",
    "loads_framework": "comp_adapters.moodle.csv_format",
    "read_framework_csv": "comp_adapters.moodle.csv_format",
    "write_framework_csv": "comp_adapters.moodle.csv_format",
    "Kind": "comp_adapters.moodle.executor",
    "required_functions": "comp_adapters.moodle.functions",
    "CourseLink": "comp_adapters.moodle.mapping",
    "ForeignFrameworkError": "comp_adapters.moodle.planner",
    "MoodleSettings": "comp_adapters.moodle.settings",
    "connect": "comp_adapters.moodle.settings",
    "load_settings": "comp_adapters.moodle.settings",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "MOODLE_CSV",
    "BatchResult",
    "Call",
    "Calls",
    "CourseLink",
    "ForeignFrameworkError",
    "Kind",
    "MoodleAdapter",
    "MoodleClient",
    "MoodleSettings",
    "connect",
    "dumps_framework",
    "encode_form",
    "load_settings",
    "loads_framework",
    "read_framework_csv",
    "refusals",
    "required_functions",
    "write_framework_csv",
]
