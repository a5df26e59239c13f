"""The model file format, and the registry of classes a file may name.

One model is one `safetensors <https://github.com/huggingface/safetensors>`_ file: the
tensors, and in the header's ``__metadata__`` two strings:

* ``regulab``: a JSON document with ``format`` (``"regulab-model"``), ``format_version``,
  the Regulab version that wrote it, and whatever the writer put in (see
  :mod:`regulab.io`);
* ``regulab_sha256``: a SHA-256 over that exact JSON text and every tensor's name, dtype,
  shape and bytes, so every byte a prediction depends on (weights, input statistics,
  class names, architecture) is covered.

The checksum detects corruption (a truncated download, a flipped bit, an edit made without
Regulab); it is not a signature, and cannot tell a tampered file from a genuine one when
whoever edited it recomputed the checksum. Trust model files as you trust their source.

This module knows no classes. Classes that files may name register themselves with
:func:`register` (Keras' object registration): loading looks a name up in the registry and
never imports or unpickles anything the file names.

Examples
--------
>>> import tempfile, torch
>>> path = write(tempfile.mkdtemp() + "/m.safetensors", {"w": torch.ones(2)}, {"kind": "x"})
>>> document, tensors = read(path)
>>> document["kind"], document["format_version"], tensors["w"].tolist()
('x', 2, [1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load as _load_tensors
from safetensors.torch import save as _save_tensors

from regulab._files import atomic_write
from regulab.errors import RegulabError

__all__ = [
    "ModelFileError",
    "FORMAT",
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "write",
    "read",
    "register",
    "registered",
    "registered_names",
    "regulab_version",
]

FORMAT = "regulab-model"
FORMAT_VERSION = 2  # 2: the checksum covers the metadata too
SUPPORTED_FORMAT_VERSIONS = (2,)
_METADATA_KEY = "regulab"
_CHECKSUM_KEY = "regulab_sha256"
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit

T = TypeVar("T", bound=type)
_REGISTRY: dict[str, type] = {}


class ModelFileError(RegulabError, ValueError):
    """A model file cannot be used: not a model, truncated, altered or of a newer format."""


def register(cls: T) -> T:
    """Class decorator: let model files name ``cls`` (by its ``__name__``).

    A registered class implements ``_file_entry(self) -> (model, entry)``, the torch model
    whose ``state_dict`` is stored and a JSON-safe dict, and the classmethod
    ``_from_file_entry(entry, model)`` that rebuilds the object from them.

    Examples
    --------
    >>> @register
    ... class Example:
    ...     pass
    >>> registered("Example") is Example
    True
    """
    _REGISTRY[cls.__name__] = cls
    return cls


def registered(name: str) -> type | None:
    """The class registered under ``name``, or None."""
    return _REGISTRY.get(name)


def registered_names() -> list[str]:
    """Every registered name, sorted."""
    return sorted(_REGISTRY)


def regulab_version() -> str:
    """The installed Regulab version (``0.0.0`` in a source tree)."""
    try:
        return version("regulab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def _checksum(text: str, tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the metadata text, then each tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    digest.update(text.encode("utf-8") + b"\0")
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write(
    path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], document: Mapping[str, Any]
) -> Path:
    """Write ``tensors`` and the JSON ``document`` (plus format fields) atomically."""
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "regulab_version": regulab_version(),
        **document,
    }
    try:
        text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"The model's metadata cannot be stored as JSON: {error}.") from None
    stored = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    metadata = {_METADATA_KEY: text, _CHECKSUM_KEY: _checksum(text, stored)}
    target = Path(path)
    if not target.parent.exists():
        raise ModelFileError(f"Cannot write '{target}': folder '{target.parent}' does not exist.")
    return atomic_write(target, _save_tensors(stored, metadata=metadata))


def _header(raw: bytes, source: str) -> dict[str, Any]:
    not_model = f"'{source}' is not a Regulab model file"
    if len(raw) < 8:
        raise ModelFileError(f"{not_model} (only {len(raw)} bytes).")
    size = int.from_bytes(raw[:8], "little")
    if size > _MAX_HEADER_BYTES:
        raise ModelFileError(f"{not_model} (no safetensors header).")
    if 8 + size > len(raw):
        raise ModelFileError(f"'{source}' is truncated or is not a Regulab model file.")
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelFileError(f"{not_model} (unreadable safetensors header).") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{not_model} (unreadable safetensors header).")
    return header


def _document(metadata: Any, source: str) -> dict[str, Any]:
    if not isinstance(metadata, dict) or _METADATA_KEY not in metadata:
        raise ModelFileError(
            f"'{source}' is a safetensors file without Regulab metadata; it was not written "
            "by regulab.io.save."
        )
    try:
        document = json.loads(metadata[_METADATA_KEY])
    except (TypeError, ValueError):
        raise ModelFileError(f"'{source}' has corrupt Regulab metadata (invalid JSON).") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"'{source}' is not a Regulab model file (format is not {FORMAT}).")
    found = document.get("format_version")
    if found not in SUPPORTED_FORMAT_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
        newer = isinstance(found, int) and found > max(SUPPORTED_FORMAT_VERSIONS)
        hint = (
            " Upgrade Regulab to load it."
            if newer
            else " Its checksum does not cover its metadata; train and save the model again."
        )
        raise ModelFileError(
            f"'{source}' has format version {found!r}; Regulab {regulab_version()} reads "
            f"format version(s) {supported}.{hint}"
        )
    return document


def read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return a file's JSON document and tensors, after checking format and checksum.

    Raises
    ------
    ModelFileError
        The file is missing, not a model, truncated or corrupt, altered after saving
        (checksum mismatch), or of an unsupported format version.
    """
    source = Path(path)
    if not source.is_file():
        raise ModelFileError(f"Model file '{source}' does not exist.")
    raw = source.read_bytes()
    metadata: dict[str, Any] = _header(raw, str(source)).get("__metadata__") or {}
    document = _document(metadata, str(source))
    try:
        tensors = _load_tensors(raw)
    except Exception as error:  # the Rust reader raises its own SafetensorError
        raise ModelFileError(f"'{source}' is truncated or corrupt ({error}).") from None
    if _checksum(metadata[_METADATA_KEY], tensors) != metadata.get(_CHECKSUM_KEY):
        raise ModelFileError(
            f"'{source}' was altered or corrupted: its weights or metadata do not match the "
            "SHA-256 checksum recorded when it was saved."
        )
    return document, tensors
