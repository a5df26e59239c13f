"""Code health as part of the test suite: lint, formatting and types must stay clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["src", "tests", "benchmarks"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_check_is_clean():
    result = _run("ruff", "check", *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _run("ruff", "format", "--check", *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_src_has_no_errors():
    result = _run("mypy", "src")
    assert result.returncode == 0, result.stdout + result.stderr
