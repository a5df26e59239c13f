"""The Jinja2 environment every part of the report renders with.

Templates live in ``templates/`` beside this module (shipped as package data). Autoescaping is
on for all of them, so a user's string is escaped wherever a template prints it; only
:class:`markupsafe.Markup` (what a template returns, or HTML a caller declared trusted) goes in
as is.
"""

from __future__ import annotations

import base64
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

__all__ = ["render"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_ENV = Environment(
    loader=PackageLoader("regulab.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["b64"] = _b64


def render(template: str, **context: Any) -> Markup:
    """Render one template of ``templates/`` with autoescaping; the result is safe HTML.

    Leading and trailing whitespace is dropped, so fragments nest without blank lines.

    Examples
    --------
    >>> render("empty.html.j2")
    Markup('<p class="empty">No comparison runs in these records.</p>')
    """
    return Markup(_ENV.get_template(template).render(**context).strip())
