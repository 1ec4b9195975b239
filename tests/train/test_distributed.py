"""A real two-process DDP run on the CPU (gloo): correct metrics, one report, no warnings.

Lightning launches the second process by running the same command again, so the run is a
subprocess of the real command line. Its test metrics must equal a one-process evaluation of the
same ``best.pt``: the 3 test clips (an odd count, so equal shares would need a repeated clip) are
each counted once.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest

from exercise_rec.train.console import known_warnings_silenced
from exercise_rec.train.report import summarize
from exercise_rec.train.run import build_module, evaluate, prepare_data
from tests.train.common import BATCH, CLIP_LEN, SIZE, train_config

MODEL, KWARGS = "mobilenet_v2_3d", {"width_mult": 0.25}


def _two_process_run(data: Path, out: Path) -> subprocess.CompletedProcess[str]:
    args = ["--data", str(data), "--model", MODEL, "--model-kwargs", *(f"{k}={v}" for k, v in KWARGS.items()),
            "--epochs", "2", "--batch-size", str(BATCH), "--num-workers", "0", "--clip-len", str(CLIP_LEN),
            "--size", str(SIZE), "--devices", "2", "--out", str(out)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # two CPU processes, whatever the machine has
    return subprocess.run([sys.executable, "-m", "exercise_rec.train", *args], capture_output=True, text=True,
                          timeout=240, check=False, env=env)


def _one_process_test_metrics(data: Path, checkpoint: Path) -> dict[str, object]:
    config = train_config(data, checkpoint.parent, MODEL, model_kwargs=KWARGS)
    datamodule = prepare_data(config)
    class_names = list(datamodule.class_names)
    module = build_module(config, class_names)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    with known_warnings_silenced(resuming=False):
        return summarize(evaluate(trainer, module, datamodule, checkpoint), class_names)


@pytest.mark.heavy
def test_two_process_run_matches_one_process_evaluation(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    done = _two_process_run(dataset, out)
    assert done.returncode == 0, done.stderr[-3000:]

    # One report, not one per process; no Lightning or DDP warning (sync_dist, DistributedSampler,
    # gradient strides); stderr holds only our own progress lines.
    assert done.stdout.count("test metrics: ") == 1 and done.stdout.count("best checkpoint: ") == 1
    stderr = done.stderr.splitlines()
    assert stderr and all(line.startswith("INFO exercise_rec.") for line in stderr), done.stderr

    reported = json.loads((out / "metrics.json").read_text())["test"]
    assert reported == _one_process_test_metrics(dataset, out / "best.pt")
    rows = list(csv.reader((out / "test_confusion.csv").open(newline="")))[1:]
    assert sum(int(v) for row in rows for v in row[1:]) == len((dataset / "test.txt").read_text().split()) == 3

    # Epoch-level training metrics: one row per epoch (computed from both processes' torchmetrics states).
    logged = list(csv.DictReader((out / "logs" / "metrics.csv").open(newline="")))
    assert len([r for r in logged if r.get("train_top1")]) == 2
