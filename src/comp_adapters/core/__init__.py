"""The pure domain model: frameworks, scales, evidence and proficiency. No I/O, no clock."""

from comp_adapters.core.calculation import (
    CALCULATION_INT_RANGE,
    DEFAULT_CALCULATION_INT,
    CalculationMethod,
)
from comp_adapters.core.evidence import Evidence, EvidenceKind, Visibility
from comp_adapters.core.framework import (
    Competency,
    DescriptionFormat,
    Framework,
    PointsChild,
    Relation,
    RelationType,
    RollupRule,
    RuleOutcome,
)
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.core.scale import ProficiencyScale, ScaleLevel
from comp_adapters.core.timeutil import format_utc, parse_utc, to_utc
from comp_adapters.core.validation import check_framework, framework_from_data

__all__ = [
    "CALCULATION_INT_RANGE",
    "DEFAULT_CALCULATION_INT",
    "CalculationMethod",
    "Competency",
    "DescriptionFormat",
    "Evidence",
    "EvidenceKind",
    "Framework",
    "PointsChild",
    "Proficiency",
    "ProficiencyScale",
    "Relation",
    "RelationType",
    "RollupRule",
    "RuleOutcome",
    "ScaleLevel",
    "Visibility",
    "check_framework",
    "format_utc",
    "framework_from_data",
    "parse_utc",
    "to_utc",
]
