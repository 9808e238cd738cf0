"""comp_adapters: competency frameworks as data.

One core model of frameworks, scales, rules and evidence; a rules engine whose numbers agree
with Canvas and Moodle; adapters that sync the result into Moodle, Canvas, IMS CASE and xAPI.
"""

from comp_adapters.core import (
    CalculationMethod,
    Competency,
    Evidence,
    EvidenceKind,
    Framework,
    PointsChild,
    Proficiency,
    ProficiencyScale,
    Relation,
    RelationType,
    RollupRule,
    RuleOutcome,
    ScaleLevel,
    Visibility,
)
from comp_adapters.errors import (
    CompAdaptersError,
    ConfigurationError,
    MappingError,
    PlanError,
    Problem,
    RemoteError,
    ValidationError,
)
from comp_adapters.native import (
    dump_framework,
    iter_evidence,
    load_framework,
    load_proficiencies,
    write_evidence,
)
from comp_adapters.rules import (
    EvidenceTable,
    ProficiencyTable,
    calculate,
    evaluate,
    evaluate_detailed,
    evaluate_table,
)
from comp_adapters.sync import Action, Change, Plan, apply_plan

__version__ = "0.1.0"

__all__ = [
    "Action",
    "CalculationMethod",
    "Change",
    "CompAdaptersError",
    "Competency",
    "ConfigurationError",
    "Evidence",
    "EvidenceKind",
    "EvidenceTable",
    "Framework",
    "MappingError",
    "Plan",
    "PlanError",
    "PointsChild",
    "Problem",
    "Proficiency",
    "ProficiencyScale",
    "ProficiencyTable",
    "Relation",
    "RelationType",
    "RemoteError",
    "RollupRule",
    "RuleOutcome",
    "ScaleLevel",
    "ValidationError",
    "Visibility",
    "__version__",
    "apply_plan",
    "calculate",
    "dump_framework",
    "evaluate",
    "evaluate_detailed",
    "evaluate_table",
    "iter_evidence",
    "load_framework",
    "load_proficiencies",
    "write_evidence",
]
