"""Adapters that read and write local files, so a project can sync without any server.

- ``framework-file``: a framework in any registered format (native, CASE, Moodle CSV,
  Canvas CSV, plug-ins), read and written;
- ``results-file``: computed proficiency as JSON or CSV;
- ``evidence-file``: evidence JSON lines, or xAPI statement lines with a mapping file,
  read incrementally (a byte offset and a fingerprint of the file's start).

Every write is atomic and planned first: a plan holds one change per file, a NOOP with its
reason when the file already holds exactly those bytes.
"""

from comp_adapters.files.evidence_file import EvidenceFileAdapter, EvidenceFileSettings
from comp_adapters.files.framework_file import FrameworkFileAdapter, FrameworkFileSettings
from comp_adapters.files.results_file import ResultsFileAdapter, ResultsFileSettings

__all__ = [
    "EvidenceFileAdapter",
    "EvidenceFileSettings",
    "FrameworkFileAdapter",
    "FrameworkFileSettings",
    "ResultsFileAdapter",
    "ResultsFileSettings",
]
