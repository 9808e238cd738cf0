"""Skill-gap analysis and reports: role profiles, gaps, KPIs (pure) and rendering apart.

Read role profiles and people with :mod:`comp_adapters.reports.files`, analyse with
:func:`analyse_evidence` (or :func:`analyse` on computed results), render with
:func:`comp_adapters.reports.render.render_html`. See docs/reports.md.
"""

from comp_adapters.reports.analysis import Analysis, Filters, analyse, analyse_evidence
from comp_adapters.reports.people import Assignment, ReportingLines, people_from_csv_text
from comp_adapters.reports.policy import Policy, Relation, Viewer, ViewerKind
from comp_adapters.reports.profiles import (
    Requirement,
    Resource,
    Role,
    RoleProfiles,
    profiles_from_data,
    profiles_schema,
)

__all__ = [
    "Analysis",
    "Assignment",
    "Filters",
    "Policy",
    "Relation",
    "ReportingLines",
    "Requirement",
    "Resource",
    "Role",
    "RoleProfiles",
    "Viewer",
    "ViewerKind",
    "analyse",
    "analyse_evidence",
    "people_from_csv_text",
    "profiles_from_data",
    "profiles_schema",
]
