"""Atomic writes: whole files only, with the permissions a plain open() gives."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from regulab._files import atomic_write


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
