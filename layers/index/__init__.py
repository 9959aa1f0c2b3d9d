"""The trafficking index: scores for every firearm, purchaser, dealer and source state.

compute.py builds the score tables in SQL on the write path (etl/index.py, after every load); read.py
and flows.py read them for the pages; weights.py is the one versioned configuration; evaluate.py
measures a ranking against a synthetic city's planted ground truth.
"""

from layers.index.flows import compare_periods, sources  # noqa: E402
from layers.index.read import (  # noqa: E402
    LEVELS,
    VERDICTS,
    explain,
    export_csv,
    ranked,
    review,
)

__all__ = ["LEVELS", "VERDICTS", "compare_periods", "explain", "export_csv", "ranked", "review", "sources"]
