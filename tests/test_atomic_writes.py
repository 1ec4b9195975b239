"""A writer SIGKILLed mid-write leaves the previous file intact and nothing that passes for a checkpoint or video.

Each writer runs in its own process group (Python and, for videos, its ffmpeg) and rewrites one
target endlessly. The test freezes the group (SIGSTOP) at a moment its temporary file is
part-written, which proves the kill lands mid-write, then SIGKILLs it: no clean-up code runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from exercise_rec.data import read_clip, write_video
from exercise_rec.io import atomic_path, temp_path_for
from exercise_rec.models import build_model
from exercise_rec.train.resume import SafeCheckpointIO

META = CheckpointMeta(model_name="mobilenet_v2_3d", model_kwargs={}, class_names=("a", "b", "c"), clip_len=4,
                      input_size=(32, 32), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))

# Child programs: ``target`` is formatted in; each rewrites it until killed.
BEST_PT_WRITER = """
import dataclasses
from exercise_rec.models import build_model
from exercise_rec.checkpoint import save_checkpoint
from tests.test_atomic_writes import META
model = build_model("mobilenet_v2_3d", 3)
n = 0
while True:
    n += 1
    save_checkpoint({target!r}, model, dataclasses.replace(META, metrics={{"n": n}}))
"""
LAST_CKPT_WRITER = """
import torch
from exercise_rec.train.resume import SafeCheckpointIO
io, state = SafeCheckpointIO(), {{"w": torch.randn(4_000_000)}}
n = 0
while True:
    n += 1
    io.save_checkpoint({{"epoch": n, "state_dict": state}}, {target!r})
"""
VIDEO_WRITER = """
import itertools, numpy as np
from exercise_rec.data import write_video
noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
write_video({target!r}, itertools.repeat(noise), 25, preset="ultrafast")  # endless: never completes
"""


def _kill_mid_write(program: str, target: Path, timeout: float = 120) -> None:
    """Run ``program`` for ``target``; SIGKILL its process group while its temporary file is part-written."""
    tmp = temp_path_for(target)
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(program.format(target=str(target)))], cwd=repo,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert proc.poll() is None, f"the writer exited ({proc.returncode}) before it could be killed"
            assert time.monotonic() < deadline, "the writer never started writing"
            if _part_written(tmp):
                os.killpg(proc.pid, signal.SIGSTOP)
                if _part_written(tmp):  # frozen while the temporary file holds part of a write
                    break
                os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(0.002)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is gone if the writer died by itself
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _part_written(tmp: Path) -> bool:
    try:
        return tmp.stat().st_size > 0
    except FileNotFoundError:
        return False


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_best_pt_survives_a_kill_mid_write(tmp_path: Path) -> None:
    target = tmp_path / "best.pt"
    save_checkpoint(target, build_model("mobilenet_v2_3d", 3), META)
    _kill_mid_write(BEST_PT_WRITER, target)
    _, meta = load_checkpoint(target)  # a whole file: the first one or one of the writer's
    assert meta.class_names == META.class_names
    assert [p.name for p in tmp_path.glob("*.pt")] == ["best.pt"]  # the stray is no checkpoint by name
    save_checkpoint(target, build_model("mobilenet_v2_3d", 3), META)  # the next write reuses the stray
    assert _names(tmp_path) == ["best.pt"]


def test_lightning_last_ckpt_survives_a_kill_mid_write(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    io = SafeCheckpointIO()
    io.save_checkpoint({"epoch": 0, "state_dict": {"w": torch.zeros(3)}}, target)
    _kill_mid_write(LAST_CKPT_WRITER, target)
    assert io.load_checkpoint(target)["epoch"] >= 0
    assert [p.name for p in tmp_path.glob("*.ckpt")] == ["last.ckpt"]
    io.save_checkpoint({"epoch": 0, "state_dict": {"w": torch.zeros(3)}}, target)
    assert _names(tmp_path) == ["last.ckpt"]


def test_video_survives_a_kill_mid_write(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    frames = np.zeros((6, 48, 64, 3), dtype=np.uint8)
    before = write_video(target, frames, 10, preset="ultrafast").read_bytes()
    _kill_mid_write(VIDEO_WRITER, target)
    assert target.read_bytes() == before and read_clip(target, 6).shape == (6, 48, 64, 3)
    assert [p.name for p in tmp_path.glob("*.mp4")] == ["clip.mp4"]
    write_video(target, frames, 10, preset="ultrafast")
    assert _names(tmp_path) == ["clip.mp4"]


@pytest.mark.parametrize("suffix", [".mp4", ".m4v", ".mov", ".mkv"])
def test_write_video_names_the_container_despite_the_temporary_name(suffix: str, tmp_path: Path) -> None:
    path = write_video(tmp_path / f"v{suffix}", np.full((3, 16, 16, 3), 200, np.uint8), 5, preset="ultrafast")
    assert read_clip(path, 3).shape == (3, 16, 16, 3)


def test_writers_of_one_target_take_turns(tmp_path: Path) -> None:
    """The second writer waits for the first instead of truncating its half-written file."""
    target = tmp_path / "best.pt"
    inside, release = threading.Event(), threading.Event()
    seen_by_second: list[str] = []  # what the target held when the second writer got its turn

    def first() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("first, half")
            inside.set()
            release.wait(10)
            tmp.write_text("first")

    def second() -> None:
        inside.wait(10)
        with atomic_path(target) as tmp:
            seen_by_second.append(target.read_text())
            tmp.write_text("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    inside.wait(10)
    time.sleep(0.2)
    assert seen_by_second == []  # still waiting while the first writer holds the file
    release.set()
    for thread in threads:
        thread.join(10)
    assert seen_by_second == ["first"]  # its turn came after the first write was complete and in place
    assert target.read_text() == "second" and _names(tmp_path) == ["best.pt"]
