"""Preprocessing of a table, fitted by scikit-learn on training rows, applied from plain state.

:meth:`TablePreprocessor.fit` fits scikit-learn transformers column by column on the training
rows (the same ones :meth:`TablePreprocessor.column_transformer` puts in a
``ColumnTransformer``), then keeps only their fitted statistics as plain data
(:meth:`~TablePreprocessor.to_state`). :meth:`~TablePreprocessor.transform` applies that
state with numpy and pandas, chunk by chunk into one preallocated float32 array, so a model
file can carry it as JSON (no pickle) and predict on a raw file.

- numeric: median imputation (``SimpleImputer``) and standardization (``StandardScaler``);
  a 0/1 missing-indicator column (``MissingIndicator``) where the training rows had missing
  cells.
- categorical and boolean: one-hot (``OneHotEncoder``, ``handle_unknown=
  "infrequent_if_exist"``). A missing cell is a level of its own (``"(missing)"``), as
  scikit-learn's encoder does, so "not answered" can carry signal like the numeric
  indicator. Levels seen in fewer than ``min_frequency`` training rows share one
  ``"(other)"`` column; a high-cardinality column keeps its
  :data:`~regulab.tables.HIGH_CARDINALITY_LEVELS` most frequent levels (the last being
  ``"(other)"``): a linear first layer learns a weight per kept level, and grouping the rare
  ones is what lets it generalize and give an unseen level a meaning. Unseen levels go to
  ``"(other)"`` when the column has one, else to no column (all zeros), and are counted.

Examples
--------
>>> import pandas as pd
>>> from regulab.tables import infer_schema
>>> frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "a", "b", None]})
>>> pre = TablePreprocessor(infer_schema(frame), min_frequency=1).fit(frame)
>>> pre.feature_names_out_
['x', 'x_(missing)', 'c_a', 'c_b', 'c_(missing)']
>>> pre.groups_
{'x': [0, 1], 'c': [2, 3, 4]}
>>> [round(float(v), 2) for v in pre.transform(pd.DataFrame({"x": [3.0], "c": ["z"]}))[0]]
[0.23, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from regulab.errors import DataError, check_range, did_you_mean
from regulab.tables._schema import HIGH_CARDINALITY_LEVELS, ColumnInfo, TableSchema
from regulab.tables._values import as_numbers, as_text, canonical_text, text_codes

__all__ = ["MIN_FREQUENCY", "TablePreprocessor", "TransformReport"]

#: Levels seen in fewer training rows than this share the "(other)" column.
MIN_FREQUENCY = 5
_STATE_FORMAT = "regulab.tables.preprocessing/1"
_MISSING, _OTHER = "(missing)", "(other)"


@dataclass
class TransformReport:
    """What :meth:`TablePreprocessor.transform` met in raw rows: counts for one note.

    Pass the same report to the transform of every chunk to count a whole file.
    """

    n_rows: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_examples: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)

    def _add(self, counts: dict[str, int], name: str, count: int) -> None:
        if count:
            counts[name] = counts.get(name, 0) + count

    def lines(self) -> list[str]:
        """Short lines: empty cells filled, unseen categories, ignored columns."""
        rows = []
        if self.missing:
            listed = ", ".join(f"{k} {v}" for k, v in self.missing.items())
            rows.append(
                f"{sum(self.missing.values())} empty cells filled as in training ({listed})"
            )
        if self.unseen:
            listed = ", ".join(
                f"{k} {v}: {', '.join(repr(e) for e in self.unseen_examples.get(k, []))}"
                for k, v in self.unseen.items()
            )
            rows.append(
                f"{sum(self.unseen.values())} cells hold categories unseen in training, "
                f"encoded as {_OTHER} or none ({listed})"
            )
        if self.extra_columns:
            rows.append(f"ignored columns the model does not use: {', '.join(self.extra_columns)}")
        return rows


def _numbers_frame(frame: pd.DataFrame) -> np.ndarray:
    return as_numbers(frame.iloc[:, 0], str(frame.columns[0]))[:, None]


def _text_frame(frame: pd.DataFrame) -> np.ndarray:
    return as_text(frame.iloc[:, 0])[:, None]


def _numbers() -> FunctionTransformer:
    return FunctionTransformer(_numbers_frame, validate=False, feature_names_out="one-to-one")


def _steps(info: ColumnInfo, min_frequency: int) -> list[tuple[str, Any, list[str]]]:
    """The scikit-learn transformers of one column, as ``ColumnTransformer`` entries."""
    if info.kind == "numeric":
        value = Pipeline(
            [
                ("numbers", _numbers()),
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
            ]
        )
        indicator = Pipeline(
            [
                ("numbers", _numbers()),
                ("missing", MissingIndicator(features="missing-only", error_on_new=False)),
            ]
        )
        return [(info.name, value, [info.name]), (f"{info.name} missing", indicator, [info.name])]
    text = FunctionTransformer(_text_frame, validate=False, feature_names_out="one-to-one")
    encoder = _encoder(info, min_frequency)
    return [(info.name, Pipeline([("text", text), ("onehot", encoder)]), [info.name])]


def _encoder(info: ColumnInfo, min_frequency: int) -> OneHotEncoder:
    return OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        min_frequency=min_frequency,
        max_categories=HIGH_CARDINALITY_LEVELS if info.high_cardinality else None,
        sparse_output=False,
        dtype=np.float32,
    )


def _fit_encoder(info: ColumnInfo, series: pd.Series, min_frequency: int) -> dict[str, Any]:
    """Fit the column's ``OneHotEncoder`` on the ranks of its sorted level texts (NaN where
    missing): the same categories, counts and infrequent levels as on the texts, since the
    ranks sort as the texts do, without scikit-learn's per-string Python loop."""
    codes, levels = text_codes(series)
    ranks = np.where(codes < 0, np.nan, codes.astype(np.float64))[:, None]
    encoder = _encoder(info, min_frequency).fit(ranks)

    def texts(values: Any) -> list[Any]:
        return [] if values is None else [v if v != v else levels[int(v)] for v in values]

    state = _categorical_state(
        info, texts(encoder.categories_[0]), texts(encoder.infrequent_categories_[0])
    )
    if len(_output_names(state)) != len(encoder.get_feature_names_out()):  # pragma: no cover
        raise RuntimeError(f"OneHotEncoder layout of '{info.name}' is not the expected one.")
    return state


def _numeric_state(info: ColumnInfo, fitted: list[Any]) -> dict[str, Any]:
    value, indicator = fitted
    return {
        "name": info.name,
        "kind": info.kind,
        "median": float(value.named_steps["impute"].statistics_[0]),
        "mean": float(value.named_steps["scale"].mean_[0]),
        "scale": float(value.named_steps["scale"].scale_[0]),
        "indicator": bool(len(indicator.named_steps["missing"].features_)),
    }


def _categorical_state(
    info: ColumnInfo, categories: list[Any], infrequent: list[Any]
) -> dict[str, Any]:
    """The state of a categorical column from its encoder's categories (NaN: missing)."""
    rare = {c for c in infrequent if isinstance(c, str)}
    missing_seen = any(not isinstance(c, str) for c in categories)
    missing_rare = any(not isinstance(c, str) for c in infrequent)
    return {
        "name": info.name,
        "kind": info.kind,
        "levels": [c for c in categories if isinstance(c, str) and c not in rare],
        "infrequent": [c for c in categories if c in rare],
        "missing": "other" if missing_rare else "level" if missing_seen else "none",
    }


def _within_layout(layout: dict[str, Any], fitted: dict[str, Any]) -> dict[str, Any]:
    """``fitted``'s statistics in ``layout``'s output columns: the layout's levels (and
    missing column) that ``fitted`` does not know are listed as ``unused`` (their cells are
    routed as unseen ones), a missing indicator the fitted rows never needed as
    ``unused_missing`` (its column stays zero)."""
    spec = dict(layout)
    if layout["kind"] == "numeric":
        spec.update(median=fitted["median"], mean=fitted["mean"], scale=fitted["scale"])
        spec["unused_missing"] = bool(layout["indicator"] and not fitted["indicator"])
        return spec
    known = set(fitted["levels"])
    spec["unused"] = [level for level in layout["levels"] if level not in known]
    spec["unused_missing"] = layout["missing"] == "level" and fitted["missing"] != "level"
    return spec


def _output_names(spec: dict[str, Any]) -> list[str]:
    name = spec["name"]
    if spec["kind"] == "numeric":
        return [name] + ([f"{name}_{_MISSING}"] if spec["indicator"] else [])
    names = [f"{name}_{level}" for level in spec["levels"]]
    names += [f"{name}_{_MISSING}"] if spec["missing"] == "level" else []
    has_other = bool(spec["infrequent"]) or spec["missing"] == "other"
    return names + ([f"{name}_{_OTHER}"] if has_other else [])


class TablePreprocessor:
    """Impute, standardize and one-hot encode a table's columns as a :class:`TableSchema`
    says; fitted by scikit-learn, applied from JSON-safe state.

    Parameters
    ----------
    schema : TableSchema
        The columns to use and their kinds (:func:`~regulab.tables.infer_schema`).
    min_frequency : int
        Levels seen in fewer training rows share the ``"(other)"`` column.
    chunk_rows : int
        Rows converted at a time by :meth:`transform` (bounds its temporary memory).

    Attributes
    ----------
    feature_names_out_ : list of str
        One readable name per output column (``x``, ``x_(missing)``, ``c_a``, ``c_(other)``).
    groups_ : dict of str to list of int
        Each original column's output columns (one unit for group penalties and reports).
    indicator_columns_ : list of int
        The output columns that are a numeric column's missing indicator.
    state_ : list of dict
        The fitted statistics per column (see :meth:`to_state`).
    """

    def __init__(
        self, schema: TableSchema, *, min_frequency: int = MIN_FREQUENCY, chunk_rows: int = 65536
    ) -> None:
        check_range("min_frequency", min_frequency, low=1, integer=True, owner="TablePreprocessor")
        check_range("chunk_rows", chunk_rows, low=1, integer=True, owner="TablePreprocessor")
        self.schema = schema
        self.min_frequency = min_frequency
        self.chunk_rows = chunk_rows

    def column_transformer(self) -> ColumnTransformer:
        """The unfitted scikit-learn ``ColumnTransformer`` this preprocessor equals once fitted
        on the same rows (used by :meth:`fit`; handy to check or to reuse in a pipeline)."""
        steps = [step for info in self.schema.columns for step in _steps(info, self.min_frequency)]
        return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)

    def fit(self, frame: pd.DataFrame) -> TablePreprocessor:
        """Fit on ``frame``: the TRAINING rows only (no statistic sees another row)."""
        self._check_columns(frame)
        state = []
        for info in self.schema.columns:
            if info.kind == "numeric":
                columns = frame[[info.name]]
                fitted = [step.fit(columns) for _, step, _ in _steps(info, 1)]
                state.append(_numeric_state(info, fitted))
            else:
                state.append(_fit_encoder(info, frame[info.name], self.min_frequency))
        self._set_state(state)
        return self

    def refit(self, frame: pd.DataFrame) -> TablePreprocessor:
        """A new preprocessor with this one's output columns, its statistics fitted on
        ``frame`` only (e.g. the training rows of a split or a fold).

        The layout stays: the same :attr:`feature_names_out_` and :attr:`groups_`. Every
        statistic (medians, means, scales, which levels are frequent, whether cells were
        missing) comes from ``frame``. A level of the layout that is absent or rare in
        ``frame`` is treated as unseen, exactly as at predict time (its cells go to
        ``"(other)"`` when the column has one, else to no column), so its own column stays
        zero: a level seen only in validation rows never shapes the training. Likewise a
        missing-indicator column stays zero when ``frame`` had no missing cell there.

        Examples
        --------
        >>> import pandas as pd
        >>> from regulab.tables import infer_schema
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 90.0], "c": ["a", "a", "b", "z"]})
        >>> layout = TablePreprocessor(infer_schema(frame), min_frequency=1).fit(frame)
        >>> train = layout.refit(frame.iloc[:3])
        >>> train.feature_names_out_ == layout.feature_names_out_, train.state_[0]["median"]
        (True, 2.0)
        >>> train.transform(frame.iloc[3:]).tolist()[0][1:]  # 'z' unseen in training rows
        [0.0, 0.0, 0.0]
        """
        self._check_fitted()
        self._check_columns(frame)
        fitted = TablePreprocessor(
            self.schema, min_frequency=self.min_frequency, chunk_rows=self.chunk_rows
        ).fit(frame)
        state = [_within_layout(old, new) for old, new in zip(self.state_, fitted.state_)]
        result = TablePreprocessor(
            self.schema, min_frequency=self.min_frequency, chunk_rows=self.chunk_rows
        )
        result._set_state(state)
        return result

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same rows."""
        return self.fit(frame).transform(frame)

    def _set_state(self, state: list[dict[str, Any]]) -> None:
        self.state_ = state
        self.feature_names_out_: list[str] = []
        self.groups_: dict[str, list[int]] = {}
        self.indicator_columns_: list[int] = []
        self._plans: list[_Plan] = []
        for spec in state:
            start = len(self.feature_names_out_)
            names = _output_names(spec)
            self.feature_names_out_ += names
            self.groups_[spec["name"]] = list(range(start, start + len(names)))
            if spec["kind"] == "numeric" and len(names) == 2:  # value, missing indicator
                self.indicator_columns_.append(start + 1)
            if spec["kind"] != "numeric":
                self._plans.append(_plan(spec, start, len(names)))
        self.n_features_out_ = len(self.feature_names_out_)

    def notes(self) -> list[str]:
        """Short lines saying how the columns are encoded and which levels were grouped.

        Examples
        --------
        >>> import pandas as pd
        >>> from regulab.tables import infer_schema
        >>> frame = pd.DataFrame({"c": ["a"] * 9 + ["b"], "x": range(10)})
        >>> TablePreprocessor(infer_schema(frame, numeric=["x"])).fit(frame).notes()[1]
        "c: 1 level kept, 1 rare level (under 5 training rows) grouped as '(other)'"
        """
        self._check_fitted()
        lines = [
            "numbers: missing cells filled with the training median (plus a 0/1 missing "
            "column where training rows had some), then standardized; text: one-hot, a "
            "missing cell is a level of its own"
        ]
        for spec in self.state_:
            if spec["kind"] == "numeric" or not spec["infrequent"]:
                continue
            kept, rare = len(spec["levels"]), len(spec["infrequent"])
            high = self.schema.column(spec["name"]).high_cardinality
            why = f"under {self.min_frequency} training rows" + (
                f", or beyond the {HIGH_CARDINALITY_LEVELS - 1} most frequent" if high else ""
            )
            lines.append(
                f"{spec['name']}: {kept} level{'s' * (kept != 1)} kept, {rare} rare "
                f"level{'s' * (rare != 1)} ({why}) grouped as '{_OTHER}'"
            )
        return lines

    def to_state(self) -> dict[str, Any]:
        """The fitted preprocessing as JSON-safe plain data (no pickle):
        per column in order its kind and statistics, plus the schema."""
        self._check_fitted()
        return {
            "format": _STATE_FORMAT,
            "min_frequency": self.min_frequency,
            "columns": [dict(spec) for spec in self.state_],
            "schema": self.schema.to_dict(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TablePreprocessor:
        """A fitted preprocessor from :meth:`to_state`'s data."""
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise DataError(f"Not a table preprocessing state (expected format '{_STATE_FORMAT}').")
        try:
            schema = TableSchema.from_dict(state["schema"])
            preprocessor = cls(schema, min_frequency=int(state["min_frequency"]))
            preprocessor._set_state([dict(spec) for spec in state["columns"]])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"The table preprocessing state is damaged: {error!r}.") from error
        return preprocessor

    def _check_fitted(self) -> None:
        if not hasattr(self, "state_"):
            raise DataError("This TablePreprocessor is not fitted yet; call fit(frame) first.")

    def _check_columns(self, frame: pd.DataFrame) -> list[str]:
        """Refuse a frame without a required column; return the extra columns."""
        present = [str(c) for c in frame.columns]
        required = self.schema.names()
        lacking = [name for name in required if name not in present]
        if lacking:
            hint = did_you_mean(lacking[0], [c for c in present if c not in required])
            raise DataError(
                f"The table lacks column{'s' if len(lacking) > 1 else ''} "
                f"{', '.join(repr(n) for n in lacking)} that the preprocessing needs.{hint}"
            )
        return [c for c in present if c not in required]

    def transform(
        self,
        frame: pd.DataFrame,
        *,
        report: TransformReport | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Encode ``frame`` (raw rows as read) into a float32 array, chunk by chunk.

        Parameters
        ----------
        frame : pandas.DataFrame
            Raw rows with at least the schema's columns (extra columns are ignored).
        report : TransformReport, optional
            Counts missing cells, unseen categories and ignored columns into it.
        out : ndarray, optional
            A float32 array of shape ``(len(frame), n_features_out_)`` to write into.

        Raises
        ------
        DataError
            A required column is absent, or a numeric column holds text (naming column and
            1-based file row).
        """
        self._check_fitted()
        extra = self._check_columns(frame)
        shape = (len(frame), self.n_features_out_)
        if out is None:
            out = np.zeros(shape, dtype=np.float32)
        elif out.shape != shape or out.dtype != np.float32:
            raise DataError(f"'out' must be a float32 array of shape {shape}; got {out.shape}.")
        else:
            out[:] = 0.0
        report = report if report is not None else TransformReport()
        report.n_rows += len(frame)
        report.extra_columns += [c for c in extra if c not in report.extra_columns]
        for start in range(0, len(frame), self.chunk_rows):
            rows = slice(start, min(start + self.chunk_rows, len(frame)))
            chunk = frame.iloc[rows]
            plans = iter(self._plans)
            for spec in self.state_:
                columns = self.groups_[spec["name"]]
                series = chunk[spec["name"]]
                if spec["kind"] == "numeric":
                    _numeric_into(out[rows], series, spec, columns, report)
                else:
                    _onehot_into(out[rows], series, spec["name"], next(plans), report)
        return out


def _numeric_into(
    out: np.ndarray,
    series: pd.Series,
    spec: dict[str, Any],
    columns: list[int],
    report: TransformReport,
) -> None:
    values = as_numbers(series, spec["name"])
    missing = np.isnan(values)
    report._add(report.missing, spec["name"], int(missing.sum()))
    filled = np.where(missing, spec["median"], values)
    out[:, columns[0]] = (filled - spec["mean"]) / spec["scale"]
    if spec["indicator"] and not spec.get("unused_missing", False):
        out[:, columns[1]] = missing


@dataclass(frozen=True)
class _Plan:
    """Where one categorical column's cells go: level text -> output column, and the output
    column of an unseen level and of a missing cell (-1: none, the row stays all zeros)."""

    lookup: dict[str, int]
    other: int
    missing: int


def _plan(spec: dict[str, Any], first: int, width: int) -> _Plan:
    has_other = bool(spec["infrequent"]) or spec["missing"] == "other"
    other = first + width - 1 if has_other else -1
    unused = set(spec.get("unused", ()))
    lookup = {level: first + k for k, level in enumerate(spec["levels"]) if level not in unused}
    lookup.update({level: other for level in spec["infrequent"]})
    missing = {"level": first + len(spec["levels"]), "other": other, "none": -1}[spec["missing"]]
    if spec.get("unused_missing", False):
        missing = other
    return _Plan(lookup, other, missing)


def _onehot_into(
    out: np.ndarray, series: pd.Series, name: str, plan: _Plan, report: TransformReport
) -> None:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [canonical_text(value) for value in uniques] + [float("nan")]  # code -1 last
    is_missing = np.array([not isinstance(t, str) for t in texts])
    unseen = np.array([isinstance(t, str) and t not in plan.lookup for t in texts])
    targets = np.array(
        [plan.lookup.get(t, plan.other) if isinstance(t, str) else plan.missing for t in texts],
        dtype=np.int64,
    )
    codes = np.where(codes < 0, len(texts) - 1, codes)
    counts = np.bincount(codes, minlength=len(texts))
    report._add(report.missing, name, int(counts[is_missing].sum()))
    if unseen.any():
        report._add(report.unseen, name, int(counts[unseen].sum()))
        examples = report.unseen_examples.setdefault(name, [])
        for k in np.flatnonzero(unseen):
            if len(examples) < 3 and texts[k] not in examples:
                examples.append(texts[k])
    columns = targets[codes]
    hit = np.flatnonzero(columns >= 0)
    out[hit, columns[hit]] = 1.0
