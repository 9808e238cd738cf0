"""An example comp_adapters plug-in: frameworks and results as JSON files in a folder."""

from comp_json_dir.adapter import JsonDirAdapter
from comp_json_dir.settings import JsonDirSettings

__all__ = ["JsonDirAdapter", "JsonDirSettings"]
