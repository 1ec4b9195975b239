"""atomic_path: the file appears whole, or not at all, with ordinary permissions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from exercise_rec.io import atomic_path


def test_result_has_umask_permissions_not_mkstemp_ones(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_text("{}")
    reference = tmp_path / "plain.json"
    reference.write_text("{}")
    mode = stat.S_IMODE((tmp_path / "out.json").stat().st_mode)
    assert mode == stat.S_IMODE(reference.stat().st_mode)


def test_failure_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "best.pt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
