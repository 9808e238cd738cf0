"""The project file, ``comp-adapters.toml``: the framework, evidence sources, targets,
compute settings and the store of one sync project (docs/sync.md)."""

from comp_adapters.project.loading import (
    PROJECT_FILE,
    Endpoint,
    Project,
    load_project,
    project_schema,
)
from comp_adapters.project.model import (
    ComputeSection,
    EvidenceSection,
    FrameworkSection,
    ProjectFile,
    StoreSection,
    TargetSection,
)

__all__ = [
    "PROJECT_FILE",
    "ComputeSection",
    "Endpoint",
    "EvidenceSection",
    "FrameworkSection",
    "Project",
    "ProjectFile",
    "StoreSection",
    "TargetSection",
    "load_project",
    "project_schema",
]
