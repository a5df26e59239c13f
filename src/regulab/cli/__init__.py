"""The ``regulab`` command line: thin commands over the public Python API.

Each command parses its options, calls one public function, prints, and returns an exit
code. The commands are grouped by job, and every module imports only downward:

- :mod:`regulab.cli._common`: the click group :func:`cli`, the error boundary :func:`main`
  and the helpers every command shares (data options, output checks, store session, JSON);
- :mod:`regulab.cli._data`: ``datasets``, ``diagnose``, ``diagnose-run``;
- :mod:`regulab.cli._train`: ``train``, ``predict``;
- :mod:`regulab.cli._compare`: ``compare``;
- :mod:`regulab.cli._runs`: ``runs list|show|export``, ``report``;
- :mod:`regulab.cli._advise`: ``advise``;
- :mod:`regulab.cli._experiments`: ``path``, ``curve``, ``tune``.

This module imports the command modules, which registers their commands on the group.
Nothing else in the library imports :mod:`regulab.cli`.

Examples
--------
>>> from regulab.cli import cli
>>> sorted(cli.commands)[:4]
['advise', 'compare', 'curve', 'datasets']
"""

from __future__ import annotations

from regulab.cli import _advise, _compare, _data, _runs, _train  # noqa: F401  (registers)
from regulab.cli._common import cli, main, write_json
from regulab.cli._experiments import add_commands

__all__ = ["cli", "main", "write_json"]

add_commands(cli)
