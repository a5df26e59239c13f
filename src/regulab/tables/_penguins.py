"""The Palmer penguins table (``palmerpenguins`` ships its CSV): text and missing cells.

344 penguins, target ``species`` (Adelie, Chinstrap, Gentoo); features ``island`` and
``sex`` (text, ``sex`` with 11 missing), four body measurements (2 rows missing) and
``year``. Horst, Hill and Gorman (2020), https://allisonhorst.github.io/palmerpenguins/.

Examples
--------
>>> frame = load_penguins_frame()
>>> frame.shape, int(frame["sex"].isna().sum())
((344, 8), 11)
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from regulab.errors import DataError
from regulab.tables._read import read_table

__all__ = ["load_penguins_frame", "PENGUINS_TARGET"]

PENGUINS_TARGET = "species"


def load_penguins_frame() -> pd.DataFrame:
    """The Palmer penguins table as a DataFrame, read by :func:`~regulab.tables.read_table`
    (its ``NA`` cells are missing), with the target column ``species``."""
    try:
        source = resources.files("palmerpenguins") / "data" / "penguins.csv"
        with resources.as_file(source) as path:
            return read_table(path)
    except ModuleNotFoundError as error:
        raise DataError(
            "The penguins data set needs the 'palmerpenguins' package: pip install palmerpenguins"
        ) from error
