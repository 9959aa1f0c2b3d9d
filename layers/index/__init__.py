"""The trafficking index: scores for every firearm, purchaser, dealer and source state.

compute.py builds the score tables in SQL on the write path (etl/index.py, after every load);
weights.py is the one versioned configuration; evaluate.py measures a ranking against a synthetic
city's planted ground truth.
"""

from layers.index.read import (  # noqa: E402
    LEVELS,
    VERDICTS,
    compare_periods,
    explain,
    export_csv,
    ranked,
    review,
    sources,
)

__all__ = ["LEVELS", "VERDICTS", "compare_periods", "explain", "export_csv", "ranked", "review", "sources"]
