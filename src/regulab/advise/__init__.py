"""The advisor: diagnose the data, recommend regularization with reasons, prove it.

Examples
--------
>>> from regulab.advise import parse_budget
>>> parse_budget("2m")
120.0
"""

from regulab.advise._advisor import (
    ADVICE_SCHEMA_VERSION,
    Advice,
    advise,
    parse_budget,
    selected_features,
)
from regulab.advise._code import code_snippets
from regulab.advise._rules import Reason, candidate_configs, reasons_from

__all__ = [
    "advise",
    "Advice",
    "Reason",
    "parse_budget",
    "selected_features",
    "reasons_from",
    "candidate_configs",
    "code_snippets",
    "ADVICE_SCHEMA_VERSION",
]
