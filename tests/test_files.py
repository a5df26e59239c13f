"""Files: atomic writes with the permissions a plain open() gives, standard JSON, and output
paths that never replace an input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from regulab._files import atomic_write, check_output_paths, dumps_json
from regulab.errors import RegulabError


def test_new_file_gets_umask_permissions_not_private_ones(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        target = atomic_write(tmp_path / "report.html", b"<html></html>")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # mkstemp alone would give 0o600
    assert target.read_bytes() == b"<html></html>"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")

    class Boom(Exception):
        pass

    def exploding_fsync(fd: int) -> None:
        raise Boom

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", exploding_fsync)
        with pytest.raises(Boom):
            atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_json_has_null_for_nan_and_infinity() -> None:
    payload = {"loss": float("nan"), "l1": float("inf"), "x": [np.float32("nan"), 1.5]}
    text = dumps_json(payload)
    assert json.loads(text) == {"loss": None, "l1": None, "x": [None, 1.5]}
    assert "NaN" not in text and "Infinity" not in text


@pytest.mark.parametrize("link", ["hard", "symbolic", "relative"])
def test_an_output_may_not_be_an_input_under_another_name(
    link: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,y\n1,0\n")
    other = tmp_path / "other.csv"
    if link == "hard":
        os.link(data, other)
    elif link == "symbolic":
        other.symlink_to(data)
    else:
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path / "sub")
        other = Path("../data.csv")
    with pytest.raises(RegulabError, match=r"Refusing to write --json .* it is the --data file"):
        check_output_paths({"--json": other}, {"--data": data})
    assert data.read_text() == "a,y\n1,0\n"


def test_outputs_are_checked_for_folders_and_clashes(tmp_path: Path) -> None:
    with pytest.raises(RegulabError, match="it is a folder"):
        check_output_paths({"--json": tmp_path})
    with pytest.raises(RegulabError, match="folder .* does not exist"):
        check_output_paths({"--json": tmp_path / "missing" / "out.json"})
    with pytest.raises(RegulabError, match="--report and --json both name"):
        check_output_paths({"--json": tmp_path / "x", "--report": tmp_path / "x"})
    with pytest.raises(RegulabError, match="--json needs a file path"):
        check_output_paths({"--json": ""})
    check_output_paths({"--json": tmp_path / "new.json", "--report": None}, {"--data": "iris"})
