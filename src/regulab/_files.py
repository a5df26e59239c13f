"""Files: atomic writes, JSON without NaN, and output paths that never replace an input.

Examples
--------
>>> json_safe({"loss": float("nan"), "l1": float("inf"), "ok": [1.5]})
{'loss': None, 'l1': None, 'ok': [1.5]}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regulab.errors import RegulabError

__all__ = ["atomic_write", "json_safe", "dumps_json", "check_output_paths", "same_file"]


def _default_mode() -> int:
    """The permissions ``open()`` would give a new file: 0o666 minus the umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder, then rename.

    Readers see the old file or the new one, never a partial one. The new file gets the
    permissions a plain ``open(path, "w")`` would give it (``mkstemp`` alone makes it private).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.json"
    >>> atomic_write(target, b"{}").read_bytes()
    b'{}'
    """
    target = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _default_mode())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON ``null``).

    Containers are copied (tuples become lists); numpy scalars become Python numbers.
    Standard JSON has no NaN or Infinity, and ``JSON.parse`` rejects files holding them.
    """
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_json(payload: Any) -> str:
    """Standard JSON text of ``payload`` (indent 2): non-finite floats become ``null``.

    Examples
    --------
    >>> dumps_json([float("nan")])
    '[\\n  null\\n]'
    """
    return json.dumps(json_safe(payload), indent=2, allow_nan=False)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if two paths name one file: the same inode when both exist (hard and symbolic
    links included), else the same resolved path."""
    first, second = Path(a).expanduser(), Path(b).expanduser()
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:
        pass
    return first.resolve() == second.resolve()


def check_output_paths(
    outputs: Mapping[str, str | os.PathLike[str] | None],
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> None:
    """Refuse, before any work, output files that cannot be written or would replace an input.

    Parameters
    ----------
    outputs : mapping of label -> path or None
        The files a command will write, labelled as the user named them (``"--json"``).
        ``None`` entries are skipped.
    inputs : mapping of label -> path or None, optional
        Files the command reads or keeps (data, model, results store). Names that are not
        paths (a built-in data set) may be given: only paths that exist or resolve equal to an
        output count.

    Raises
    ------
    RegulabError
        An output is empty, a folder, in a missing or unwritable folder, an unwritable file,
        the same file as an input, or the same file as another output.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> data = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = data.write_text("a,y\\n1,0\\n")
    >>> check_output_paths({"-o": data}, {"--data": data})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    regulab.errors.RegulabError: Refusing to write -o '...data.csv': it is the --data file ...
    """
    seen: dict[str, Path] = {}
    for label, raw in outputs.items():
        if raw is None:
            continue
        where = f"Cannot write {label} '{raw}'"
        if str(raw).strip() == "":
            raise RegulabError(f"{label} needs a file path; got an empty string.")
        path = Path(raw).expanduser()
        if path.is_dir():
            raise RegulabError(f"{where}: it is a folder; give a file path inside it.")
        folder = path.resolve().parent
        if not folder.is_dir():
            raise RegulabError(f"{where}: its folder '{folder}' does not exist.")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise RegulabError(f"{where}: its folder '{folder}' is not writable.")
        if path.exists() and not os.access(path, os.W_OK):
            raise RegulabError(f"{where}: the file is not writable.")
        for source_label, source in (inputs or {}).items():
            if source is not None and str(source).strip() and same_file(path, source):
                raise RegulabError(
                    f"Refusing to write {label} '{raw}': it is the {source_label} file "
                    f"'{source}', which would be lost. Choose another output path."
                )
        for other_label, other in seen.items():
            if same_file(path, other):
                raise RegulabError(
                    f"{label} and {other_label} both name '{raw}'; give them different paths."
                )
        seen[label] = path
