"""Pure proficiency rules: Canvas's calculation methods and Moodle's rollups, exactly."""

from comp_adapters.rules.calculate import calculate, ruby_round, ruby_sum
from comp_adapters.rules.columnar import EvidenceTable
from comp_adapters.rules.engine import Evaluation, evaluate, evaluate_detailed, evaluate_table
from comp_adapters.rules.proficiency_table import ProficiencyTable

__all__ = [
    "Evaluation",
    "EvidenceTable",
    "ProficiencyTable",
    "calculate",
    "evaluate",
    "evaluate_detailed",
    "evaluate_table",
    "ruby_round",
    "ruby_sum",
]
