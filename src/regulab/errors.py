"""Regulab's exceptions and the one message template for bad parameters.

Every error names the offending value and what is allowed, so a user can fix the call
without reading the source. Subclasses also inherit the builtin exception users already
catch (``ValueError``, ``FileNotFoundError``), as skorch and scikit-learn do.

Examples
--------
>>> from regulab.errors import check_range
>>> check_range("dropout", 0.2, low=0.0, high=1.0, high_open=True, owner="MLP")
0.2
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence

__all__ = [
    "RegulabError",
    "InvalidParameterError",
    "DataError",
    "check_range",
    "closest",
    "did_you_mean",
]


class RegulabError(Exception):
    """Base class of every error Regulab raises on purpose."""


class InvalidParameterError(RegulabError, ValueError):
    """A parameter is outside its allowed range or of the wrong form."""


class DataError(RegulabError, ValueError):
    """The data cannot be used as given (missing file, bad column, NaN values...)."""


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    owner: str = "regulab",
    integer: bool = False,
) -> float:
    """Return ``value`` if it lies in the interval, else raise :class:`InvalidParameterError`.

    The message follows one template: ``The 'dropout' parameter of MLP must be a float in the
    range [0, 1). Got 1.5 instead.`` Infinite values and NaN are always refused: an open end
    written ``inf`` means "any finite value".
    """
    kind = "an int" if integer else "a float"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be {kind} in the range "
            f"{_interval(low, high, low_open, high_open)}. Got {value!r} instead."
        )
    infinite = isinstance(value, float) and math.isinf(value)
    bad = infinite or value != value  # NaN and infinities: every range here is finite
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be {kind} in the range "
            f"{_interval(low, high, low_open, high_open)}. Got {value!r} instead."
            + (" Only finite values are allowed." if infinite else "")
        )
    return value


def check_choice(name: str, value: str, choices: Sequence[str], *, owner: str = "regulab") -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`InvalidParameterError`
    (the template of :func:`check_range`, with the nearest choice suggested).

    Examples
    --------
    >>> check_choice("penalty", "l3", ("l1", "l2"), owner="path")
    Traceback (most recent call last):
    ...
    regulab.errors.InvalidParameterError: The 'penalty' parameter of path must be one of l1, ...
    """
    if value not in choices:
        raise InvalidParameterError(
            f"The '{name}' parameter of {owner} must be one of {', '.join(choices)}. "
            f"Got {value!r} instead." + did_you_mean(str(value), choices)
        )
    return value


def closest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice nearest to ``word`` (difflib ratio >= 0.5), or None."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the nearest choice, or an empty string."""
    match = closest(word, choices)
    return f" Did you mean '{match}'?" if match else ""


def one_line(error: BaseException) -> str:
    """``error``'s message on one line (runs of whitespace, newlines too, as one space).

    Examples
    --------
    >>> one_line(ValueError("bad value,   see row 3"))
    'bad value, see row 3'
    """
    return " ".join(str(error).split())
