"""The shape of the code: the import graph of ``src/regulab`` has no cycle and every import
points down the layer order of ``docs/architecture.md``; no module is too long; only public
torch is used; ``python -m regulab`` runs.

The graph is read with :mod:`ast`, not by importing: every ``import`` and ``from ... import``
counts, at module level or inside a function (a function-level import is a dependency that
only shows up later), relative imports resolved, a package meaning its ``__init__``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "regulab"

#: The layers, lowest first. A module may import its own layer and the layers below it, never
#: one above. The first name that prefixes a module (``regulab.training._vmap`` is in
#: ``regulab.training``) gives its layer; docs/architecture.md explains the order.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "regulab.errors",
        "regulab._version",
        "regulab._files",
        "regulab._format",
        "regulab._split",
        "regulab._terminal",
        "regulab._groups",
    ),
    ("regulab.stats", "regulab.tables"),
    ("regulab.penalties", "regulab.models"),
    ("regulab.custom",),
    ("regulab.training", "regulab.solvers"),
    ("regulab.data",),
    ("regulab.io",),
    ("regulab.config",),
    ("regulab.diagnose",),
    ("regulab.estimators",),
    ("regulab.experiment",),
    ("regulab.report",),
    ("regulab.advise",),
    ("regulab",),  # the package root: the public names, re-exported
    ("regulab.cli", "regulab.__main__"),
)
MAX_LINES = 800


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The ``regulab`` modules that the module ``name`` (at ``path``) imports anywhere."""
    known = modules()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..y import z
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:  # ``from pkg import module`` imports the module
                child = f"{source}.{alias.name}"
                found.add(child if child in known else source)
    found = {target for target in found if target.split(".")[0] == "regulab"}
    unknown = {target for target in found if target not in known}
    assert not unknown, f"{name} imports modules that do not exist: {sorted(unknown)}"
    return found - {name}


@cache
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imported(name, path)) for name, path in modules().items()}


def layer(name: str) -> int:
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if name == prefix or name.startswith(prefix + ".")
    ]
    assert matches, f"{name} is in no layer: add it to LAYERS and docs/architecture.md"
    return max(matches)[1]


def find_cycle(edges: dict[str, frozenset[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_reader_resolves_relative_and_function_level_imports(tmp_path: Path) -> None:
    text = (
        "from . import _history\nfrom ..errors import DataError\ndef f():\n    import regulab.io\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(text)
    assert imported("regulab.training._common", probe) == {
        "regulab.training._history",
        "regulab.errors",
        "regulab.io",
    }


def test_find_cycle_names_the_modules() -> None:
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(dict(graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_nothing_in_the_library_imports_the_cli() -> None:
    users = sorted(
        name
        for name, targets in graph().items()
        if layer(name) < layer("regulab.cli")
        and any(t == "regulab.cli" or t.startswith("regulab.cli.") for t in targets)
    )
    assert users == []


def test_every_import_points_down_the_layers() -> None:
    upward = sorted(
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, targets in graph().items()
        for target in targets
        if layer(target) > layer(name)
    )
    assert upward == []


def test_cli_modules_import_only_downward() -> None:
    """``_common`` imports no command module; command modules import no other command
    module; only the package's ``__init__`` (and ``__main__``) gathers them."""
    commands = {name for name in modules() if name.startswith("regulab.cli._")} - {
        "regulab.cli._common",
        "regulab.cli.__main__",
    }
    assert commands, "the CLI is a package of command modules"
    for name in commands | {"regulab.cli._common"}:
        assert graph()[name] & (commands | {"regulab.cli"}) == set(), name


def test_no_module_over_800_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _torch_private(tree: ast.AST) -> Iterator[str]:
    """Dotted ``torch...`` names with a private part (``torch._x``, ``from torch import _x``)."""

    def dotted(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def private(name: str) -> bool:
        parts = name.split(".")
        return parts[0] == "torch" and any(
            p.startswith("_") and not p.endswith("__") for p in parts[1:]
        )

    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Attribute):
            names = [n for n in [dotted(node)] if n]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        yield from (name for name in names if private(name))


def test_the_private_torch_finder_finds_them() -> None:
    code = (
        "import torch\ntorch._fused_adam_(x)\nfrom torch.nn import _reduction\ntorch.__version__\n"
    )
    assert sorted(set(_torch_private(ast.parse(code)))) == [
        "torch._fused_adam_",
        "torch.nn._reduction",
    ]


def test_only_public_torch_in_src() -> None:
    used = sorted(
        f"{name}: {private}"
        for name, path in modules().items()
        for private in set(_torch_private(ast.parse(path.read_text())))
    )
    assert used == []


def test_python_m_regulab_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "regulab", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: regulab" in done.stdout and "advise" in done.stdout
