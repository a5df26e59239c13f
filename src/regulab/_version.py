"""Regulab's version, read once from the installed package's metadata.

It lives in its own module at the bottom of the import graph, so the modules that stamp it
on results (the runners, the store, the report, the CLI) need not import the package root,
which imports them.

Examples
--------
>>> from regulab._version import __version__
>>> __version__.count(".") >= 2
True
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("regulab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
