"""Griffe extension used by the docs build: runtime docstrings for classes that build them.

Griffe reads source code statically, so a class whose docstring is assigned with
``__doc__ = f"..."`` (the scikit-learn estimators in ``regulab.estimators`` share their
parameter documentation this way) looks undocumented. For such classes this extension
imports the module and uses the docstring Python actually built.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe


class RuntimeDocstrings(griffe.Extension):
    """Fill in missing class docstrings from the imported class's ``__doc__``."""

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        if cls.docstring is not None or "__doc__" not in cls.members:
            return
        try:
            module = importlib.import_module(cls.module.path)
            runtime = getattr(module, cls.name)
        except (ImportError, AttributeError):
            return
        if runtime.__doc__:
            cls.docstring = griffe.Docstring(
                inspect.cleandoc(runtime.__doc__), lineno=cls.lineno, parent=cls
            )
        del cls.members["__doc__"]
