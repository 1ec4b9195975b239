"""A NaN/inf training loss: the run stops naming the batch's files, or with --skip-nonfinite skips and counts.

The loss is made non-finite deterministically: one training video's clip is replaced by NaNs (a
"planted" bad tensor), so exactly the batch holding that file has a NaN loss, once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from exercise_rec.checkpoint import load_checkpoint
from exercise_rec.data import ExerciseVideoDataset
from exercise_rec.train.cli import main as cli_main
from exercise_rec.train.module import NonFiniteLossError
from exercise_rec.train.run import train
from tests.train.common import BATCH, CLIP_LEN, SIZE, TRAIN_BATCHES, csv_rows, lightning_ckpt, train_config


@pytest.fixture
def planted(dataset: Path) -> Iterator[Path]:
    """The first training video: every clip read from it (in the trainer's loaders) is all NaN."""
    bad = dataset / (dataset / "train.txt").read_text().split()[0]
    original = ExerciseVideoDataset.__getitem__

    def nan_for_bad(self: ExerciseVideoDataset, index: int):
        sample = original(self, index)
        if len(sample) == 3 and sample[2] == str(bad):
            return torch.full_like(sample[0], float("nan")), *sample[1:]
        return sample

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ExerciseVideoDataset, "__getitem__", nan_for_bad)
        yield bad


def test_nonfinite_loss_stops_the_run_naming_the_batch_files(planted: Path, dataset: Path, tiny_arch: str,
                                                            tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError) as caught:
        train(train_config(dataset, tmp_path / "exp", tiny_arch))
    message = str(caught.value)
    assert "non-finite training loss" in message and "epoch 0" in message and "--skip-nonfinite" in message
    named = message.split("its files: ", 1)[1].split(";", 1)[0].split(", ")
    train_files = {str(dataset / p) for p in (dataset / "train.txt").read_text().split()}
    assert str(planted) in named and len(named) == BATCH and set(named) <= train_files
    assert not (tmp_path / "exp" / "best.pt").exists()  # stopped in epoch 0, before any validation


def test_cli_reports_a_nonfinite_loss_in_one_line(planted: Path, dataset: Path, tiny_arch: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data", str(dataset), "--model", tiny_arch, "--epochs", "1", "--batch-size", str(BATCH),
            "--clip-len", str(CLIP_LEN), "--size", str(SIZE), "--num-workers", "0", "--out", str(tmp_path / "o")]
    assert cli_main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(planted) in errors[0] and "non-finite training loss" in errors[0]


def test_skip_nonfinite_skips_counts_and_keeps_the_model_finite(planted: Path, dataset: Path, tiny_arch: str,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "exp"
    result = train(train_config(dataset, out, tiny_arch, skip_nonfinite=True))
    assert result.nonfinite_batches == 2  # the planted file's batch, once in each of the 2 epochs
    rows = csv_rows(out / "logs" / "metrics.csv")
    assert [float(r["train_nonfinite_batches"]) for r in rows if r.get("train_nonfinite_batches")] == [1.0, 1.0]
    last = lightning_ckpt(out / "lightning" / "last.ckpt")
    assert last["nonfinite_batches"] == 2 and last["epoch"] == 1
    adam_steps = {float(state["step"]) for state in last["optimizer_states"][0]["state"].values()}
    assert adam_steps == {2.0 * (TRAIN_BATCHES - 1)}  # a skipped batch updates no weight
    # The bad forward passes updated BatchNorm's running statistics; skipping restored them.
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values() if t.is_floating_point())
    model, _ = load_checkpoint(result.checkpoint)
    with torch.no_grad():
        assert torch.isfinite(model(torch.randn(2, 3, CLIP_LEN, SIZE, SIZE))).all()
