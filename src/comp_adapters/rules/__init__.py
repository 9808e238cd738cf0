"""Pure proficiency rules: Canvas's calculation methods and Moodle's rollups, exactly."""

from comp_adapters.rules.calculate import calculate, ruby_round, ruby_sum
from comp_adapters.rules.columnar import EvidenceTable
from comp_adapters.rules.engine import Evaluation, evaluate, evaluate_detailed

__all__ = [
    "Evaluation",
    "EvidenceTable",
    "calculate",
    "evaluate",
    "evaluate_detailed",
    "ruby_round",
    "ruby_sum",
]
