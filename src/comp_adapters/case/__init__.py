"""IMS CASE: read any CASE provider or CFPackage, write schema-valid CASE 1.1 (or 1.0).

* :mod:`~comp_adapters.case.wire` - the CASE payloads (strict outbound models and writer);
  :mod:`~comp_adapters.case.lenient` reads real-world JSON into them, with warnings;
* :mod:`~comp_adapters.case.mapping` - CFPackage -> Framework (and the shared rules);
  :mod:`~comp_adapters.case.export` - Framework -> CFPackage;
* :mod:`~comp_adapters.case.client` - the REST client (``/ims/case/v1p0``, ``/v1p1``);
* :mod:`~comp_adapters.case.settings` - the settings and ``connect()``, the one way to a client;
* :mod:`~comp_adapters.case.adapter` - the adapter (reads frameworks from a provider);
* :mod:`~comp_adapters.case.package_format` - the ``case`` file format of ``convert``.
"""

from typing import TYPE_CHECKING

from comp_adapters._lazy import lazy_exports

if TYPE_CHECKING:
    from comp_adapters.case.adapter import CaseAdapter
    from comp_adapters.case.client import CaseClient, ClientCredentials
    from comp_adapters.case.export import framework_to_package
    from comp_adapters.case.lenient import parse_document_list, parse_object, parse_package
    from comp_adapters.case.mapping import package_to_framework
    from comp_adapters.case.package_format import CASE_FORMAT, case_json, read_case_data
    from comp_adapters.case.settings import CaseSettings, connect, load_settings
    from comp_adapters.case.wire import CFPackage, dump_package

_EXPORTS = {
    "CaseAdapter": "comp_adapters.case.adapter",
    "CaseClient": "comp_adapters.case.client",
    "ClientCredentials": "comp_adapters.case.client",
    "framework_to_package": "comp_adapters.case.export",
    "parse_document_list": "comp_adapters.case.lenient",
    "parse_object": "comp_adapters.case.lenient",
    "parse_package": "comp_adapters.case.lenient",
    "package_to_framework": "comp_adapters.case.mapping",
    "CASE_FORMAT": "comp_adapters.case.package_format",
    "case_json": "comp_adapters.case.package_format",
    "read_case_data": "comp_adapters.case.package_format",
    "CaseSettings": "comp_adapters.case.settings",
    "connect": "comp_adapters.case.settings",
    "load_settings": "comp_adapters.case.settings",
    "CFPackage": "comp_adapters.case.wire",
    "dump_package": "comp_adapters.case.wire",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "CASE_FORMAT",
    "CFPackage",
    "CaseAdapter",
    "CaseClient",
    "CaseSettings",
    "ClientCredentials",
    "case_json",
    "connect",
    "dump_package",
    "framework_to_package",
    "load_settings",
    "package_to_framework",
    "parse_document_list",
    "parse_object",
    "parse_package",
    "read_case_data",
]
