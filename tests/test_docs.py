"""The documentation builds with ``mkdocs build --strict`` and every figure it shows exists."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TECHNIQUES = ("l1", "l2", "elastic-net", "weight-decay", "dropout", "batch-norm", "early-stopping")
# ![alt](path.png) and <img src="path.png">, optionally with a title or query after the path
_IMAGE = re.compile(
    r"!\[[^\]]*\]\(\s*<?([^)\s>]+\.png)>?(?:\s+[^)]*)?\)|<img\b[^>]*\bsrc=[\"']([^\"']+\.png)[\"']",
    re.IGNORECASE | re.DOTALL,
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_references() -> dict[Path, list[Path]]:
    """Markdown page -> the PNG files it references, resolved against the page's folder."""
    references: dict[Path, list[Path]] = {}
    for page in sorted(DOCS.rglob("*.md")):
        found = []
        for match in _IMAGE.finditer(page.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if "://" in target:
                continue
            found.append((page.parent / target.split("#")[0]).resolve())
        references[page] = found
    return references


def test_every_referenced_png_exists_and_is_a_png() -> None:
    references = _png_references()
    missing = [
        f"{page.relative_to(ROOT)} -> {png}"
        for page, pngs in references.items()
        for png in pngs
        if not png.is_file()
    ]
    assert not missing, "figures referenced but missing:\n" + "\n".join(missing)
    for pngs in references.values():
        for png in pngs:
            assert DOCS in png.parents, f"{png} is outside docs/ and will not be published"
            with png.open("rb") as handle:
                assert handle.read(8) == _PNG_SIGNATURE, f"{png} is not a PNG file"


def test_every_technique_page_shows_a_figure() -> None:
    references = _png_references()
    for name in TECHNIQUES:
        page = DOCS / "techniques" / f"{name}.md"
        assert page.is_file(), f"missing technique page {page.relative_to(ROOT)}"
        assert references[page], f"{page.relative_to(ROOT)} shows no figure"


def test_mkdocs_strict_build(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]' installs it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    site = tmp_path / "site"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{output[-6000:]}"
    assert (site / "index.html").is_file()
    assert (site / "api" / "index.html").is_file()
    for pngs in _png_references().values():
        for png in pngs:
            published = site / png.relative_to(DOCS)
            assert published.is_file(), f"{png.name} was not copied into the built site"
