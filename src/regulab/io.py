"""Safe model files: save and load estimators and models without pickle, predict on a file.

One model is one standard `safetensors <https://github.com/huggingface/safetensors>`_ file
(conventionally ``*.safetensors``), written and checked by :mod:`regulab._format`:

* the tensors are the model's ``state_dict`` (weights, biases, batch-norm statistics, a
  regression head's target scaling);
* the header holds a JSON document: ``format`` (``"regulab-model"``), ``format_version``,
  the Regulab version that wrote it, ``kind`` (``"model"`` or ``"estimator"``), the model
  class and its :meth:`~regulab.models.MLP.config` (for a CNN or factory model, class
  ``"factory"`` and :func:`regulab.custom.recipe`), for estimators the estimator class,
  its parameters and its fitted state (``classes_``, feature names, history, stop
  reason...; for an estimator fitted on a mixed table its ``table`` preprocessing), and for
  models saved by ``regulab train`` the ``preprocessing`` (input means and scales, class
  names, and for a mixed table the ``table`` state of
  :meth:`regulab.tables.TablePreprocessor.to_state`: column kinds, medians, means, scales,
  levels);
* a SHA-256 covers that JSON text and every tensor: editing any byte a prediction depends
  on, weights or metadata, makes the file refused. The checksum detects corruption, not
  tampering: someone who can rewrite the file can rewrite the checksum too.

Loading parses JSON and raw tensor bytes only: no pickle. An MLP, linear model or estimator
file imports nothing it names: models come from a fixed list, estimators from the classes
that registered themselves (:func:`regulab._format.register`), so such a file cannot run
code. A CNN or factory model (built by :func:`regulab.custom.build_model`, ``--model cnn``
or ``--model package.module:function``) records its factory's import path, the keyword
arguments it was called with, one sample's shape and the task; loading it **imports and
calls that factory** (as ``--model package.module:function`` does), then loads the weights
into the module it returns. Load such files only when you trust the factory they name.
A file that is not a model, is truncated or corrupt, was altered after saving (checksum
mismatch) or was written by another format version is refused with
:class:`ModelFileError`. Any safetensors tool can read the weights
(``safetensors.torch.load_file``).

Examples
--------
>>> import tempfile
>>> from regulab.io import load, save
>>> from regulab.models import MLP
>>> path = save(MLP("4-8-3", seed=0), tempfile.mkdtemp() + "/mlp.safetensors")
>>> load(path).architecture.spec
'4-8-3'
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from torch import nn

from regulab import _format
from regulab._files import atomic_write
from regulab._format import FORMAT, FORMAT_VERSION, SUPPORTED_FORMAT_VERSIONS, ModelFileError
from regulab.custom import ModelFactory, importable, rebuild, recipe, resolve_factory
from regulab.errors import (
    DataError,
    InvalidParameterError,
    RegulabError,
    check_range,
    did_you_mean,
)
from regulab.models import MLP, LinearModel
from regulab.tables import TablePreprocessor, TransformReport, read_table_chunks
from regulab.tables._read import check_table_file
from regulab.training import predict as _predict_codes
from regulab.training import predict_proba as _predict_model_proba

__all__ = [
    "ModelFileError",
    "FORMAT",
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "save",
    "load",
    "read_config",
    "predict_file",
    "preprocessing_of",
]

_MODEL_CLASSES = {"MLP": MLP, "LinearModel": LinearModel}
_FACTORY_CLASS = "factory"  # a CNN or a user's factory: built again from its recipe


def _model_entry(model: MLP) -> dict[str, Any]:
    name = "LinearModel" if isinstance(model, LinearModel) else "MLP"
    return {"class": name, "config": model.config()}


def _custom_entry(module: nn.Module) -> dict[str, Any]:
    """The file's description of a CNN or factory model: how to build it again."""
    entry = recipe(module)
    if entry is None:
        raise InvalidParameterError(
            f"A model file must say how to build the module again, and this "
            f"{type(module).__name__} was not built by Regulab; build it with "
            "regulab.custom.build_model(factory, ...) (or --model cnn / package.module:factory) "
            "so the file can record its factory and arguments."
        )
    reference = entry["factory"]
    try:
        resolved = resolve_factory(reference) if importable(reference) else None
    except InvalidParameterError:
        resolved = None
    if resolved is None:
        raise InvalidParameterError(
            f"The model factory {reference} cannot be imported by that name (it is defined "
            "inside a function, or is a lambda or a partial with positional arguments), so a "
            "model file could not build the module again; define the factory at the top level "
            "of a module."
        )
    for key, value in entry["kwargs"].items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"The keyword argument '{key}' of the model factory {reference} is "
                f"{type(value).__name__} {value!r}, which a model file cannot store (JSON "
                "values only: numbers, strings, booleans, None, lists and dicts of them); "
                "pass a name or number and build the object inside the factory."
            ) from None
    return {"class": _FACTORY_CLASS, **entry}


def save(
    obj: Any, path: str | os.PathLike[str], *, preprocessing: dict[str, Any] | None = None
) -> Path:
    """Write a fitted Regulab estimator or a model to one safe file.

    Parameters
    ----------
    obj : fitted Regulab estimator, MLP, LinearModel, or a module from build_model
        What to save; :func:`load` returns the same kind of object. A CNN or factory
        model must come from :func:`regulab.custom.build_model` (``--model cnn`` or
        ``package.module:function``): the file records its factory by import path and
        the arguments it was called with (JSON values only), not the module's code.
    path : str or path-like
        Destination (conventionally ``*.safetensors``); written atomically.
    preprocessing : dict, optional
        For a raw model trained on standardized columns (what ``regulab train --save``
        writes): ``feature_names``, ``mean``, ``scale`` (lists, one per feature) and
        ``classes`` (original labels by class code), and ``table`` for a mixed table
        (:func:`preprocessing_of`). :func:`predict_file` applies them. The checksum covers
        them like the weights.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import tempfile
    >>> from regulab.models import LinearModel
    >>> save(LinearModel(3, 2, seed=0), tempfile.mkdtemp() + "/lin.safetensors").suffix
    '.safetensors'
    """
    document: dict[str, Any] = {}
    if isinstance(obj, nn.Module) and not isinstance(obj, MLP):
        document["kind"] = "model"
        document["model"] = _custom_entry(obj)
        if preprocessing is not None:
            document["preprocessing"] = preprocessing
        return _format.write(path, obj.state_dict(), document)
    if isinstance(obj, MLP):
        model = obj
        document["kind"] = "model"
    elif _format.registered(type(obj).__name__) is type(obj):
        model, entry = obj._file_entry()  # type: ignore[attr-defined]
        document["kind"] = "estimator"
        document["estimator"] = {"class": type(obj).__name__, **entry}
    else:
        raise InvalidParameterError(
            "save() takes a fitted Regulab estimator, a regulab.models.MLP/LinearModel, or a "
            f"module built by regulab.custom.build_model; got {type(obj).__name__}."
        )
    document["model"] = _model_entry(model)
    if preprocessing is not None:
        document["preprocessing"] = preprocessing
    return _format.write(path, model.state_dict(), document)


def preprocessing_of(
    dataset: Any, mean: Any, scale: Any, table_state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``preprocessing`` entry of a model trained on ``dataset``'s columns scaled as
    ``(X - mean) / scale`` (what ``regulab train --save`` and ``advise --save`` store).

    ``table_state`` is a :meth:`~regulab.tables.TablePreprocessor.to_state` for a model
    trained on a mixed table: it is stored as ``"table"`` (JSON, covered by the file's
    checksum), and :func:`predict_file` applies it to the raw file's columns before the
    ``mean``/``scale`` step (then zeros and ones: the table state standardizes already).

    Examples
    --------
    >>> from regulab.data import load as load_data
    >>> iris = load_data("iris")
    >>> entry = preprocessing_of(iris, np.zeros(4), np.ones(4))
    >>> entry["feature_names"][0], entry["classes"]
    ('sepal length (cm)', ['setosa', 'versicolor', 'virginica'])
    """
    classes = dataset.classes
    entry = {
        "feature_names": list(dataset.feature_names),
        "mean": np.asarray(mean, dtype=np.float32).tolist(),
        "scale": np.asarray(scale, dtype=np.float32).tolist(),
        "classes": [c.item() if hasattr(c, "item") else c for c in classes]
        if classes is not None
        else None,
    }
    if table_state is not None:
        entry["table"] = table_state
    return entry


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return a model file's Regulab metadata (JSON), after checking its checksum.

    Examples
    --------
    >>> import tempfile
    >>> path = save(MLP("4-2", seed=0), tempfile.mkdtemp() + "/m.safetensors")
    >>> read_config(path)["model"]["config"]["sizes"]
    [4, 2]
    """
    document, _ = _format.read(path)
    return document


def _build_model(entry: Any, source: str) -> MLP:
    try:
        name, config = entry["class"], entry["config"]
        if name not in _MODEL_CLASSES:
            raise ModelFileError(f"'{source}' names an unknown model class {name!r}.")
        if name == "LinearModel":
            sizes = config["sizes"]
            return LinearModel(
                int(sizes[0]),
                int(sizes[1]),
                task=config["task"],
                input_dropout=config["input_dropout"],
            )
        return MLP(
            config["sizes"],
            activation=config["activation"],
            dropout=config["dropout"],
            input_dropout=config["input_dropout"],
            batchnorm=config["batchnorm"],
            task=config["task"],
        )
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ModelFileError(f"'{source}' has an invalid model description: {error}") from None


def load(path: str | os.PathLike[str], *, factory: ModelFactory | None = None) -> Any:
    """Load a file written by :func:`save`; return the estimator or the model that was saved.

    Parameters
    ----------
    path : str or path-like
    factory : callable, optional
        For a factory model only: the callable to build the module with, instead of
        importing the one the file names (for a factory defined in a script or notebook).

    Returns
    -------
    Regulab estimator or torch.nn.Module
        A fitted estimator of the saved class, or the model in eval mode: an
        ``MLP``/``LinearModel``, or the module a CNN or factory model builds.

    Raises
    ------
    ModelFileError
        The file is missing, not a model, truncated or corrupt, altered after saving
        (checksum mismatch), or of an unsupported format version; for a factory model, the
        factory no longer imports, fails, or builds a module its weights do not fit.

    Notes
    -----
    A CNN or factory model is built again by importing and calling its factory
    (``"package.module:function"``, recorded in the file): loading such a file runs that
    factory's code, as ``--model package.module:function`` does. Load files whose
    factory you trust. Files of Regulab's MLP and linear models import nothing.

    Examples
    --------
    >>> import tempfile
    >>> path = save(MLP("4-8-3", seed=0), tempfile.mkdtemp() + "/mlp.safetensors")
    >>> type(load(path)).__name__
    'MLP'
    """
    source = str(path)
    document, tensors = _format.read(path)
    entry = document.get("model")
    if isinstance(entry, dict) and entry.get("class") == _FACTORY_CLASS:
        model: nn.Module = _rebuild_custom(entry, factory, source)
        mismatch = f"the module {entry['factory']} builds does not fit the weights saved in it"
    else:
        model = _build_model(entry, source)
        mismatch = "it holds weights that do not fit its model description"
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]  # the first line names no key
        raise ModelFileError(
            f"Cannot load '{source}': {mismatch} ({detail.rstrip('.')})."
        ) from None
    model.eval()
    if document.get("kind") == "model":
        return model
    if document.get("kind") != "estimator":
        raise ModelFileError(f"'{source}' has an unknown kind {document.get('kind')!r}.")
    if not isinstance(model, MLP):
        raise ModelFileError(f"'{source}' pairs an estimator with a model no estimator has.")
    return _build_estimator(document.get("estimator"), model, source)


def _rebuild_custom(entry: dict[str, Any], factory: ModelFactory | None, source: str) -> nn.Module:
    try:
        return rebuild(entry, factory)
    except InvalidParameterError as error:
        raise ModelFileError(
            f"Cannot load '{source}': it needs the model factory {entry.get('factory')}, "
            f"which fails now: {error}"
        ) from None
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ModelFileError(f"'{source}' has an invalid model description: {error}") from None


def _build_estimator(entry: Any, model: MLP, source: str) -> Any:
    try:
        name = entry["class"]
        cls = _format.registered(name)
        if cls is None or not hasattr(cls, "_from_file_entry"):
            known = ", ".join(_format.registered_names())
            raise ModelFileError(f"'{source}' names an unknown estimator {name!r}; known: {known}.")
        return cls._from_file_entry(entry, model)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ModelFileError(f"'{source}' has an invalid estimator state: {error}") from None


# -- predictions on a file -----------------------------------------------------------------------
def _read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    source = check_table_file(path)
    try:
        frame = pd.read_csv(source) if source.suffix.lower() == ".csv" else pd.read_parquet(source)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise DataError(f"Cannot read '{source}': {error}") from None
    if frame.empty:
        raise DataError(_no_rows(source))
    return frame


def _no_rows(source: str | os.PathLike[str]) -> str:
    return f"Data file '{source}' has no rows to predict (only a header)."


def _inputs_expected(model: Any) -> int:
    """How many feature columns a loaded model takes."""
    if isinstance(model, MLP):
        return int(model.architecture.sizes[0])
    if isinstance(model, nn.Module):
        return math.prod(_model_recipe(model)["input_shape"])
    return int(model.n_features_in_)


def _model_recipe(model: nn.Module) -> dict[str, Any]:
    entry = recipe(model)
    assert entry is not None  # load() gives every CNN or factory model its recipe
    return entry


def _check_columns(names: Any, columns: Any, target: str | None, source: str) -> None:
    """Refuse a file without the target (when named) or a feature column the model needs."""
    present = [str(c) for c in columns]
    if target is not None and target not in present:
        raise DataError(
            f"'{source}' has no target column '{target}'." + did_you_mean(target, present)
        )
    missing = [str(n) for n in names if str(n) not in present]
    if missing:
        shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
        hint = did_you_mean(missing[0], [c for c in present if c != target])
        raise DataError(
            f"'{source}' lacks {len(missing)} feature column(s) the model was trained "
            f"with: {shown}.{hint}"
        )


def _feature_frame(model: Any, frame: pd.DataFrame, target: str | None, source: str) -> Any:
    """The feature table the model expects, or a DataError naming what is missing."""
    names = getattr(model, "feature_names_in_", None)
    _check_columns([] if names is None else names, frame.columns, target, source)
    if names is not None:
        return frame[list(names)]
    others = [c for c in frame.columns if c != target]
    expected = _inputs_expected(model)
    if len(others) != expected:
        raise DataError(
            f"'{source}' has {len(others)} feature column(s) but the model expects {expected} "
            "(it was trained without column names, so every column except the target is used, "
            "in file order)."
        )
    return frame[others].to_numpy()


def _table_of(model: Any, preprocessing: dict[str, Any] | None) -> TablePreprocessor | None:
    """The table preprocessing a model file carries: an estimator's ``preprocessor_``, or
    the ``table`` state of a raw model's ``preprocessing`` block; None for numeric models."""
    if not isinstance(model, nn.Module):
        return getattr(model, "preprocessor_", None)
    if preprocessing is None or preprocessing.get("table") is None:
        return None
    try:
        return TablePreprocessor.from_state(preprocessing["table"])
    except DataError as error:
        raise ModelFileError(f"The model file's table preprocessing: {error}") from None


def _predictions(
    model: Any, X: Any, preprocessing: dict[str, Any] | None, encoded: bool
) -> pd.DataFrame:
    """The output columns for feature rows ``X`` (``encoded``: rows a table state encoded)."""
    if isinstance(model, nn.Module):
        task = model.architecture.task if isinstance(model, MLP) else _model_recipe(model)["task"]
        features = np.asarray(X, dtype=np.float32)
        labels: list[Any] | None = None
        if preprocessing is not None:
            mean = np.asarray(preprocessing["mean"], dtype=np.float32)
            scale = np.asarray(preprocessing["scale"], dtype=np.float32)
            features = (features - mean) / scale
            labels = preprocessing.get("classes")
        codes = _predict_codes(model, features, task=task)
        output = pd.DataFrame({"prediction": [labels[int(c)] for c in codes] if labels else codes})
        if task == "classification":
            proba = _predict_model_proba(model, features)
            for code in range(proba.shape[1]):
                name = labels[code] if labels else code
                output[f"proba_{name}"] = proba[:, code]
        return output
    if encoded:
        predictions, probabilities = model._predict_encoded(X)
    else:
        predictions = model.predict(X)
        probabilities = model.predict_proba(X) if is_classifier(model) else None
    if predictions.ndim == 2:
        output = pd.DataFrame(
            {f"prediction_{k}": predictions[:, k] for k in range(predictions.shape[1])}
        )
    else:
        output = pd.DataFrame({"prediction": predictions})
    if probabilities is not None:
        for index, label in enumerate(model.classes_):
            output[f"proba_{label}"] = probabilities[:, index]
    return output


def _table_predictions(
    model: Any,
    table: TablePreprocessor,
    preprocessing: dict[str, Any] | None,
    data_path: str | os.PathLike[str],
    target: str | None,
    report: TransformReport,
    chunk_rows: int,
) -> pd.DataFrame:
    """Predict a raw table file chunk by chunk through its table preprocessing."""
    source = str(data_path)
    parts: list[pd.DataFrame] = []
    for chunk in read_table_chunks(data_path, chunksize=chunk_rows):
        if not parts:
            _check_columns(table.schema.names(), chunk.columns, target, source)
        features = chunk.drop(columns=[target]) if target is not None else chunk
        try:
            encoded = table.transform(features, report=report)
        except DataError as error:
            raise DataError(f"Cannot predict on '{source}': {error}") from None
        part = _predictions(model, encoded, preprocessing, encoded=True)
        if target is not None:
            part[target] = chunk[target].to_numpy()
        parts.append(part)
    if sum(len(part) for part in parts) == 0:
        raise DataError(_no_rows(source))
    return pd.concat(parts, ignore_index=True)


def predict_file(
    model_path: str | os.PathLike[str],
    data_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    target: str | None = None,
    *,
    report: TransformReport | None = None,
    chunk_rows: int = 100_000,
) -> pd.DataFrame:
    """Predict every row of a CSV/Parquet file and write the predictions as CSV.

    Parameters
    ----------
    model_path : str or path-like
        A file written by :func:`save`.
    data_path : str or path-like
        ``.csv``, ``.parquet`` or ``.pq`` with the feature columns the model was trained
        with (extra columns are ignored). A model fitted without column names uses every
        column except ``target``, in file order. A model that carries a table
        preprocessing (an estimator fitted on a mixed DataFrame, or a ``preprocessing``
        block with a ``table`` state) reads the raw file in chunks of ``chunk_rows`` rows,
        null strings as empty cells, and encodes each chunk as in training: empty cells
        filled, unseen categories sent to ``"(other)"`` or to no column, both counted in
        ``report``.
    output_path : str or path-like
        CSV to write: ``prediction`` (``prediction_<k>`` per target for a multi-output
        regressor), then ``proba_<class>`` per class for classifiers, then the ``target``
        column when given. Written once every row is predicted (nothing on an error).
    target : str, optional
        Name of a column to leave out of the features and copy to the output.
    report : regulab.tables.TransformReport, optional
        For a table model: filled with the empty cells, unseen categories and ignored
        columns met in the file (:meth:`~regulab.tables.TransformReport.lines`).
    chunk_rows : int
        Rows read and encoded at a time for a table model (bounds the memory used).

    Returns
    -------
    pandas.DataFrame
        What was written.

    Raises
    ------
    DataError
        The file is missing or unreadable, has no rows, lacks a feature column or the
        target, or holds text in a numeric column (the message names column and row).

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from regulab.estimators import RegularizedLinearClassifier
    >>> folder = tempfile.mkdtemp()
    >>> X = pd.DataFrame({"a": np.arange(20.0), "b": np.ones(20)}); y = X["a"] > 9
    >>> path = RegularizedLinearClassifier(epochs=2, random_state=0).fit(X, y).save(
    ...     folder + "/m.safetensors")
    >>> X.to_csv(folder + "/data.csv", index=False)
    >>> out = predict_file(path, folder + "/data.csv", folder + "/pred.csv")
    >>> list(out.columns)
    ['prediction', 'proba_False', 'proba_True']
    """
    check_range("chunk_rows", chunk_rows, low=1, integer=True, owner="predict_file")
    model = load(model_path)
    preprocessing = read_config(model_path).get("preprocessing")
    source = str(data_path)
    check_table_file(data_path)
    destination = Path(output_path)
    if not destination.parent.exists():
        raise DataError(
            f"Cannot write '{destination}': folder '{destination.parent}' does not exist."
        )
    table = _table_of(model, preprocessing)
    if table is not None:
        report = report if report is not None else TransformReport()
        output = _table_predictions(
            model, table, preprocessing, data_path, target, report, chunk_rows
        )
    else:
        frame = _read_table(data_path)
        if preprocessing is not None:
            model.feature_names_in_ = np.asarray(preprocessing["feature_names"], dtype=object)
        X = _feature_frame(model, frame, target, source)
        try:
            output = _predictions(model, X, preprocessing, encoded=False)
        except ValueError as error:
            if isinstance(error, RegulabError):
                raise
            raise DataError(f"Cannot predict on '{source}': {error}") from None
        if target is not None:
            output[target] = frame[target].to_numpy()
    atomic_write(destination, output.to_csv(index=False).encode())
    return output
