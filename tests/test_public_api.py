"""Every public name of regulab resolves and is documented."""

from __future__ import annotations

import pytest

import regulab


def test_all_is_unique_and_nonempty():
    assert len(regulab.__all__) == len(set(regulab.__all__)) > 0


@pytest.mark.parametrize("name", regulab.__all__)
def test_public_name_resolves(name):
    assert hasattr(regulab, name), name


@pytest.mark.parametrize("name", [n for n in regulab.__all__ if n != "__version__"])
def test_public_name_has_docstring(name):
    # the object's own docstring: inspect.getdoc would inherit a parent class's
    doc = getattr(regulab, name).__doc__
    assert doc is not None and doc.strip(), f"regulab.{name} has no docstring"


def test_version_is_a_string():
    assert isinstance(regulab.__version__, str) and regulab.__version__
