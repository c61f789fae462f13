"""Reading a table's time column, for loaders that split or order rows by time (fraud, retail).

One parser, so every plugin accepts the same time values and refuses the others with the same
message. pandas is imported on first use: autosft itself does not depend on it, the loaders do.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from autosft.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["parse_times"]


def parse_times(series: pd.Series, column: str, source: str) -> pd.Series:
    """``series`` as times that order: numbers (epoch seconds, day indices) as they are, datetimes
    as they are, anything else parsed as dates; one value that is neither refuses the whole column.

    The index of ``series`` is kept.
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        times = series.astype(float)
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        times = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format": failures are reported below
            times = pd.to_datetime(series, errors="coerce")
            retry = times.isna() & series.notna()
            if retry.any():  # the format inferred from the first value does not fit them all
                times[retry] = pd.to_datetime(series[retry], errors="coerce", format="mixed")
    bad = times.isna()
    if bad.any():
        examples = series[bad & series.notna()]
        example = repr(examples.iloc[0]) if len(examples) else "missing"
        raise DataError(
            f"time_column {column!r} of {source} has {int(bad.sum())} values that are missing or not times "
            f"(e.g. {example}): neither numbers nor dates, or not dates pandas can read; fix or drop those rows"
        )
    return times
