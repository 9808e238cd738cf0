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

from comp_adapters.case.adapter import CaseAdapter
from comp_adapters.case.client import CaseClient, ClientCredentials
from comp_adapters.case.export import framework_to_package
from comp_adapters.case.lenient import parse_document_list, parse_object, parse_package
from comp_adapters.case.mapping import package_to_framework
from comp_adapters.case.package_format import CASE_FORMAT, case_json, read_case_data
from comp_adapters.case.settings import CaseSettings, connect, load_settings
from comp_adapters.case.wire import CFPackage, dump_package

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
