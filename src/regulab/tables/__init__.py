"""Real tables as users hold them: read, infer column kinds, find leaks, preprocess.

- :func:`read_table` / :func:`read_table_chunks`: CSV, Parquet or a DataFrame, null strings
  as missing cells, whole or in chunks.
- :func:`infer_schema`: every column's kind (numeric, boolean, categorical) and the dropped
  columns with their reason (ID, constant, mostly missing), the user's overrides first.
- :func:`find_leaks`: columns that alone predict the target almost perfectly.
- :class:`TablePreprocessor`: imputation, missing indicators, standardization and one-hot
  encoding fitted by scikit-learn on training rows, kept as JSON-safe state and applied
  with numpy to raw rows (unseen categories and empty cells counted in a
  :class:`TransformReport`).
- :func:`load_penguins_frame`: the Palmer penguins table, a real mixed table shipped offline.

Examples
--------
>>> frame = load_penguins_frame()
>>> schema = infer_schema(frame, target="species")
>>> print(schema.summary())
5 numeric, 2 categorical
>>> pre = TablePreprocessor(schema).fit(frame)
>>> pre.transform(frame).shape, pre.groups_["sex"]
((344, 15), [11, 12, 13])
"""

from regulab.tables._leaks import LEAK_SCORE, find_leaks
from regulab.tables._penguins import PENGUINS_TARGET, load_penguins_frame
from regulab.tables._preprocess import MIN_FREQUENCY, TablePreprocessor, TransformReport
from regulab.tables._read import NULL_STRINGS, clean_frame, read_table, read_table_chunks
from regulab.tables._schema import (
    CARDINALITY_THRESHOLD,
    HIGH_CARDINALITY_LEVELS,
    KINDS,
    MAX_MISSING_FRACTION,
    MIN_ROWS_FOR_RANGE,
    ColumnInfo,
    DroppedColumn,
    TableSchema,
    infer_schema,
)

__all__ = [
    "CARDINALITY_THRESHOLD",
    "HIGH_CARDINALITY_LEVELS",
    "KINDS",
    "LEAK_SCORE",
    "MAX_MISSING_FRACTION",
    "MIN_FREQUENCY",
    "MIN_ROWS_FOR_RANGE",
    "NULL_STRINGS",
    "PENGUINS_TARGET",
    "ColumnInfo",
    "DroppedColumn",
    "TablePreprocessor",
    "TableSchema",
    "TransformReport",
    "clean_frame",
    "find_leaks",
    "infer_schema",
    "load_penguins_frame",
    "read_table",
    "read_table_chunks",
]
