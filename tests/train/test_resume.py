"""--resume under real failures: a trainer SIGKILLed mid-epoch, unsafe or unfitting checkpoints, corrupt videos.

The process tests run the real command line (``python -m exercise_rec.train``) on a small registry
model (mobilenet_v2_3d at width 0.25, 4 frames of 64x64, batch 1: 6 steps an epoch) and kill its
whole process group (trainer and DataLoader worker) the way an OOM killer or a preempted node does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from exercise_rec.checkpoint import CheckpointError, load_checkpoint
from exercise_rec.train.resume import read_resume_point
from exercise_rec.train.run import train
from tests.test_checkpoint_security import plant_payload
from tests.train.common import (
    CLIP_LEN,
    SORTED_CLASSES,
    csv_rows,
    lightning_ckpt,
    train_config,
    train_steps,
)

STEPS = 6  # 6 training clips at batch size 1
PROGRESS = re.compile(r"Epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def _cli(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "exercise_rec.train", "--data", str(data), "--model", "mobilenet_v2_3d",
            "--width-mult", "0.25", "--batch-size", "1", "--clip-len", str(CLIP_LEN), "--size", "64",
            "--num-workers", "1", "--out", str(out), *extra]


def _kill_inside_epoch(cmd: list[str], epoch: int, steps: int, timeout: float = 300) -> None:
    """Run ``cmd``; SIGKILL its process group once its progress bar shows ``steps`` (or more) steps of
    ``epoch`` done, but not all: mid-epoch, after the first steps' metrics reached metrics.csv."""
    # Lightning's progress bar writes to stdout.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            seen = (seen + chunk.decode(errors="replace"))[-8000:]
            if any(int(e) == epoch and steps <= int(k) < int(n) for e, k, n in PROGRESS.findall(seen)):
                os.killpg(proc.pid, signal.SIGKILL)
                assert proc.wait() == -signal.SIGKILL
                return
        raise AssertionError(f"the trainer never reached a step inside epoch {epoch}:\n{seen[-3000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.heavy
def test_sigkill_mid_epoch_then_resume_finishes_every_epoch_once(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    last = out / "lightning" / "last.ckpt"
    _kill_inside_epoch(_cli(dataset, out, "--epochs", "3"), epoch=1, steps=STEPS // 2)
    logged = train_steps(csv_rows(out / "logs" / "metrics.csv"))
    assert (1, STEPS) in logged, "the killed run logged no step of epoch 1: nothing for the resume to repeat"

    killed = lightning_ckpt(last)  # intact, and weights-only loadable
    assert (killed["epoch"], killed["global_step"]) == (0, STEPS), "the kill did not land inside epoch 1"
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt"]

    done = subprocess.run(_cli(dataset, out, "--epochs", "3", "--resume", str(last)), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    final = lightning_ckpt(last)
    assert (final["epoch"], final["global_step"]) == (2, 3 * STEPS)
    rows = csv_rows(out / "logs" / "metrics.csv")
    # Every step of every epoch logged exactly once: the killed attempt's part of epoch 1 was dropped
    # from the history when the resumed run repeated it.
    assert sorted(train_steps(rows)) == [(e, e * STEPS + s) for e in range(3) for s in range(STEPS)]
    assert [int(r["epoch"]) for r in rows if r.get("val_top1")] == [0, 1, 2]
    _, meta = load_checkpoint(out / "best.pt")
    assert meta.class_names == SORTED_CLASSES and (out / "metrics.json").is_file()


@pytest.mark.heavy
def test_corrupt_videos_train_to_the_end_and_are_reported_in_one_line(dataset: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(dataset, tmp_path / "ds"))
    train_files = (data / "train.txt").read_text().split()
    bad = [data / train_files[0], data / train_files[3], data / (data / "val.txt").read_text().split()[0]]
    bad[0].write_bytes(b"not a video" * 100)
    for path in bad[1:]:
        path.write_bytes(path.read_bytes()[:200])  # truncated
    out = tmp_path / "run"
    done = subprocess.run(_cli(data, out, "--epochs", "2"), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert lightning_ckpt(out / "lightning" / "last.ckpt")["epoch"] == 1  # trained to the end
    lines = [line for line in re.split(r"[\r\n]", done.stderr) if any(str(p) in line for p in bad)]
    assert len(lines) == 1, "\n".join(lines)  # not one per file, epoch or DataLoader worker
    assert lines[0].startswith("WARNING") and "3 unreadable video(s)" in lines[0]
    assert all(str(p) in lines[0] for p in bad)


# ---------------------------------------------------------------- checkpoints --resume refuses


def _lightning_like(tiny_arch: str, **hparams: object) -> dict:
    """The parts of a Lightning checkpoint that ``read_resume_point`` reads."""
    return {"epoch": 0, "global_step": 3, "state_dict": {"model.fc.weight": torch.zeros(3, 4)},
            "hyper_parameters": {"model_name": tiny_arch, "model_kwargs": {}, "class_names": list(SORTED_CLASSES),
                                 **hparams}}


@pytest.mark.parametrize(("hparams", "named"), [
    ({"model_name": "mobilenet_v2_3d"}, r"model_name='mobilenet_v2_3d'"),
    ({"model_kwargs": {"width": 8}}, r"model_kwargs=\{'width': 8\}"),
    ({"class_names": ["squat", "lunge"]}, r"class_names=\['squat', 'lunge'\]"),
])
def test_resume_from_another_model_or_class_list_is_refused_before_any_output(
    hparams: dict, named: str, dataset: Path, tiny_arch: str, tmp_path: Path
) -> None:
    ckpt = tmp_path / "last.ckpt"
    torch.save(_lightning_like(tiny_arch, **hparams), ckpt)
    out = tmp_path / "run"
    with pytest.raises(CheckpointError, match=rf"last\.ckpt: was trained with {named}, this run has"):
        train(train_config(dataset, out, tiny_arch, resume=ckpt))
    assert not out.exists()


def test_resume_point_of_a_fitting_checkpoint(tiny_arch: str, tmp_path: Path) -> None:
    ckpt = tmp_path / "last.ckpt"
    torch.save(_lightning_like(tiny_arch), ckpt)
    point = read_resume_point(ckpt, _lightning_like(tiny_arch)["hyper_parameters"])
    assert (point.epoch, point.global_step) == (0, 3)


def test_resume_from_a_truncated_or_deployable_file_is_refused(tiny_arch: str, tmp_path: Path) -> None:
    hparams = _lightning_like(tiny_arch)["hyper_parameters"]
    cut = tmp_path / "last.ckpt"
    torch.save(_lightning_like(tiny_arch), cut)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"last\.ckpt: not a readable PyTorch checkpoint \(truncated"):
        read_resume_point(cut, hparams)
    best = tmp_path / "best.pt"
    torch.save({"state_dict": {"fc.weight": torch.zeros(3, 4)}, "model_name": tiny_arch}, best)
    with pytest.raises(CheckpointError, match=r"best\.pt: not a Lightning training checkpoint.*--resume takes"):
        read_resume_point(best, hparams)


def test_resume_refuses_pickled_code_before_writing_anything(dataset: Path, tiny_arch: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = plant_payload(tmp_path / "last.ckpt", marker, hidden=True)
    out = tmp_path / "run"
    with pytest.raises(CheckpointError, match=r"last\.ckpt: refused to load"):
        train(train_config(dataset, out, tiny_arch, resume=evil))
    assert not marker.exists() and not out.exists()
