"""The Lightning trainer end to end on a tiny synthetic dataset: outputs, resume, --debug, a crash.

Sizes, model and helpers: tests/train/common.py; fixtures ``tiny_arch`` and ``dataset``: conftest.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from tqdm import tqdm

from exercise_rec.checkpoint import load_checkpoint
from exercise_rec.data import read_clip
from exercise_rec.data.framing import FramingConfig
from exercise_rec.data.synthetic import generate_dataset
from exercise_rec.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model, load_weights
from exercise_rec.models.weights import WeightsError
from exercise_rec.train.cli import main as cli_main
from exercise_rec.train.module import ExerciseClassifier
from exercise_rec.train.run import TrainResult, start_from, train
from tests.train.common import (
    BATCH,
    CLASSES,
    CLIP_LEN,
    SIZE,
    SORTED_CLASSES,
    SYNTH,
    TRAIN_BATCHES,
    csv_rows,
    lightning_ckpt,
    train_config,
    train_steps,
)


@pytest.fixture(scope="module")
def trained(dataset: Path, tiny_arch: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainResult]:
    out = tmp_path_factory.mktemp("run") / "exp"
    return out, train(train_config(dataset, out, tiny_arch))


# ---------------------------------------------------------------- a whole run


def test_run_writes_deployable_checkpoint_and_reports(trained, dataset: Path, tiny_arch: str) -> None:
    out, result = trained
    for name in ("best.pt", "metrics.json", "test_confusion.png", "test_confusion.csv", "config.json",
                 "logs/metrics.csv", "lightning/last.ckpt"):
        assert (out / name).is_file(), f"{name} missing; have {sorted(p.name for p in out.rglob('*'))}"
    assert list((out / "logs").glob("events.out.tfevents.*")), "no TensorBoard log"
    assert result.checkpoint == out / "best.pt" and result.skipped_files == []

    # best.pt: plain data (the contract) that rebuilds the model with the run's metadata.
    raw = torch.load(out / "best.pt", weights_only=True)
    assert raw["model_name"] == tiny_arch and "state_dict" in raw
    model, meta = load_checkpoint(out / "best.pt")
    assert meta.model_name == tiny_arch and meta.model_kwargs == {}
    assert meta.class_names == SORTED_CLASSES
    assert meta.clip_len == CLIP_LEN and meta.input_size == (SIZE, SIZE)
    assert meta.mean == pytest.approx(IMAGENET_MEAN) and meta.std == pytest.approx(IMAGENET_STD)
    assert 0.0 <= meta.metrics["val_top1"] <= 1.0
    assert meta.framing == {"margin": FramingConfig().margin}  # trained on person crops, as predictions are made
    with torch.no_grad():
        assert model(torch.randn(2, 3, CLIP_LEN, SIZE, SIZE)).shape == (2, len(CLASSES))

    # It is the *best* epoch: the first one reaching the highest logged val top-1.
    rows = csv_rows(out / "logs" / "metrics.csv")
    val = [(int(r["epoch"]), float(r["val_top1"])) for r in rows if r.get("val_top1")]
    assert [e for e, _ in val] == [0, 1]
    best = max(v for _, v in val)
    assert meta.metrics["val_top1"] == pytest.approx(best)
    assert meta.metrics["epoch"] == next(e for e, v in val if v == best)
    assert sorted(train_steps(rows)) == [(e, e * TRAIN_BATCHES + s) for e in (0, 1) for s in range(TRAIN_BATCHES)]
    assert lightning_ckpt(out / "lightning" / "last.ckpt")["global_step"] == 2 * TRAIN_BATCHES

    # metrics.json: what train() returned; test metrics keyed by class name.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    assert metrics["val"] == pytest.approx(meta.metrics)
    test = metrics["test"]
    assert set(test) >= {"top1", "macro_f1", "per_class_acc"} and "top5" not in test  # top-5 only above 5 classes
    assert tuple(test["per_class_acc"]) == SORTED_CLASSES

    # Confusion CSV: rows = true class, one test clip per class; consistent with the test top-1.
    lines = list(csv.reader((out / "test_confusion.csv").open(newline="")))
    assert lines[0] == ["true\\pred", *SORTED_CLASSES]
    assert [row[0] for row in lines[1:]] == list(SORTED_CLASSES)
    counts = [[int(v) for v in row[1:]] for row in lines[1:]]
    n_test = len((dataset / "test.txt").read_text().split())
    assert [sum(row) for row in counts] == [1, 1, 1] and n_test == 3
    assert sum(counts[i][i] for i in range(3)) / n_test == pytest.approx(test["top1"], abs=1e-5)
    assert (out / "test_confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    config = json.loads((out / "config.json").read_text())
    assert config["data"] == str(dataset) and config["model"] == tiny_arch and config["epochs"] == 2


def test_best_checkpoint_serves_predictions(trained, dataset: Path) -> None:
    out, _ = trained
    video = dataset / (dataset / "test.txt").read_text().split()[0]
    prediction = Predictor.from_checkpoint(out / "best.pt").predict(video, top_k=2)
    assert len(prediction.labels) == 2 and set(prediction.labels) <= set(SORTED_CLASSES)
    assert prediction.probs.shape == (3,) and prediction.probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_trained_checkpoint_refuses_another_model_or_class_count(trained, tiny_arch: str) -> None:
    """A trainer-made best.pt into a 5-class model / another architecture: WeightsError naming keys."""
    best = trained[0] / "best.pt"
    five = build_model(tiny_arch, 5)
    before = five.fc.weight.clone()
    with pytest.raises(WeightsError, match=r"fc\.weight checkpoint \(3, 4\) vs model \(5, 4\)"):
        load_weights(five, best)
    torch.testing.assert_close(five.fc.weight, before)  # nothing half-loaded
    with pytest.raises(WeightsError, match=r"best\.pt.*(missing|unexpected) keys"):
        load_weights(build_model("mobilenet_v2_3d", 3, width_mult=0.25), best)


def test_init_from_starts_a_new_run_from_trained_weights(trained, dataset: Path, tiny_arch: str,
                                                        tmp_path: Path) -> None:
    """--init-from: every matching tensor comes from the file; an unrelated file is refused by name."""
    best = trained[0] / "best.pt"
    trained_model, _ = load_checkpoint(best)
    fresh = build_model(tiny_arch, 3)
    start_from(fresh, best)
    for key, value in trained_model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)

    other = tmp_path / "other.pt"
    torch.save({"unrelated.weight": torch.zeros(2)}, other)
    with pytest.raises(WeightsError, match=r"other\.pt: no tensor matches"):
        start_from(build_model(tiny_arch, 3), other)

    out = tmp_path / "finetuned"
    result = train(train_config(dataset, out, tiny_arch, epochs=1, init_from=best))
    assert result.checkpoint.is_file()
    assert json.loads((out / "config.json").read_text())["init_from"] == str(best)


@pytest.mark.parametrize(("model", "kwargs"), [("mobilenet_v4_nano_video", {}),
                                                ("mobilenet_v2_3d", {"width_mult": 0.25, "mode": "high_temporal"})])
def test_registry_video_models_train_through_the_trainer(model: str, kwargs: dict, dataset: Path,
                                                         tmp_path: Path) -> None:
    """Real registry models (not the tiny test net) run the whole trainer and serve predictions."""
    out = tmp_path / model
    result = train(train_config(dataset, out, model, epochs=1, size=64, **kwargs))
    model_, meta = load_checkpoint(result.checkpoint)
    assert meta.model_name == model and meta.model_kwargs == kwargs
    steps = train_steps(csv_rows(out / "logs" / "metrics.csv"))
    assert len(steps) == TRAIN_BATCHES
    video = dataset / (dataset / "test.txt").read_text().split()[0]
    assert Predictor.from_checkpoint(result.checkpoint).predict(video).labels[0] in SORTED_CLASSES


# ---------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def resumed(dataset: Path, tiny_arch: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One epoch, then ``epochs=2`` resumed from ``lightning/last.ckpt`` into the same directory."""
    out = tmp_path_factory.mktemp("resume") / "exp"
    train(train_config(dataset, out, tiny_arch, epochs=1))
    last = out / "lightning" / "last.ckpt"
    first = {"ckpt": lightning_ckpt(last), "rows": csv_rows(out / "logs" / "metrics.csv")}
    steps: list[tuple[int, int]] = []  # (epoch, global step) of every training step the second run takes
    original = ExerciseClassifier.training_step

    def counting_step(self, batch, batch_idx):
        steps.append((self.current_epoch, self.global_step))
        return original(self, batch, batch_idx)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ExerciseClassifier, "training_step", counting_step)
        result = train(train_config(dataset, out, tiny_arch, epochs=2, resume=last))
    return {"out": out, "first": first, "second": lightning_ckpt(last), "steps": steps,
            "rows": csv_rows(out / "logs" / "metrics.csv"), "result": result}


def test_resume_continues_where_the_run_stopped(resumed) -> None:
    first, second = resumed["first"], resumed["second"]
    assert first["ckpt"]["global_step"] == TRAIN_BATCHES
    assert train_steps(first["rows"]) == [(0, s) for s in range(TRAIN_BATCHES)]
    # The second run trained exactly one more epoch (epoch 1, steps 3..5), not two from scratch.
    assert resumed["steps"] == [(1, TRAIN_BATCHES + s) for s in range(TRAIN_BATCHES)]
    assert second["global_step"] == 2 * TRAIN_BATCHES
    assert second["epoch"] == first["ckpt"]["epoch"] + 1
    logged = train_steps(resumed["rows"])
    assert {(1, TRAIN_BATCHES + s) for s in range(TRAIN_BATCHES)} <= set(logged)
    assert len(logged) == len(set(logged)), "a step was logged twice"
    assert [int(r["epoch"]) for r in resumed["rows"] if r.get("val_top1")][-1] == 1
    # Optimizer state came along (AdamW's step counter keeps counting) and the outputs are still there.
    adam_steps = [float(s["step"]) for s in second["optimizer_states"][0]["state"].values()]
    assert adam_steps and all(s == 2 * TRAIN_BATCHES for s in adam_steps)
    _, meta = load_checkpoint(resumed["out"] / "best.pt")
    assert meta.metrics["epoch"] in (0.0, 1.0) and "val_top1" in meta.metrics
    assert resumed["result"].metrics["test"]["top1"] is not None


def test_resume_keeps_the_earlier_csv_history(resumed) -> None:
    epochs = {e for e, _ in train_steps(resumed["rows"])}
    assert epochs == {0, 1}


def test_resume_from_missing_file_is_a_usage_error(dataset: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope" / "last.ckpt"
    code = cli_main(["--data", str(dataset), "--epochs", "1", "--resume", str(missing), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and str(missing) in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- --debug


@pytest.fixture(scope="module")
def debug_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 clips per class -> 21 training clips: enough that 5% of the batches (batch 1) is one batch."""
    return generate_dataset(tmp_path_factory.mktemp("synth_debug") / "ds", per_class=9, seed=1, config=SYNTH,
                            classes=CLASSES, workers=1)


def _debug_args(data: Path, out: Path, model: str, batch_size: int) -> list[str]:
    return ["--data", str(data), "--model", model, "--epochs", "1", "--batch-size", str(batch_size),
            "--clip-len", str(CLIP_LEN), "--size", str(SIZE), "--num-workers", "0", "--debug", "--out", str(out)]


def test_debug_writes_before_after_videos(debug_dataset: Path, tiny_arch: str, tmp_path: Path) -> None:
    out = tmp_path / "dbg"
    assert cli_main(_debug_args(debug_dataset, out, tiny_arch, batch_size=1)) == 0
    videos = sorted((out / "debug_output").glob("*.mp4"))
    assert len(videos) == 4 and all(v.stem.split("_", 2)[2] in SORTED_CLASSES for v in videos)
    for video in videos:
        clip = read_clip(video, num_frames=CLIP_LEN)
        t, h, w, c = clip.shape
        assert clip.dtype == torch.uint8 and (t, c) == (CLIP_LEN, 3)
        assert h >= 256 and w > h  # before | after side by side, scaled up for viewing
        assert clip.float().std() > 5  # real picture, not a blank frame
    assert (out / "best.pt").is_file()
    assert 1 <= lightning_ckpt(out / "lightning" / "last.ckpt")["global_step"] <= 2  # ~5% of 21 batches


def test_debug_works_on_a_small_dataset(dataset: Path, tiny_arch: str, tmp_path: Path) -> None:
    out = tmp_path / "dbg"
    try:
        code = cli_main(_debug_args(dataset, out, tiny_arch, batch_size=BATCH))
    finally:
        assert len(list((out / "debug_output").glob("*.mp4"))) == 4  # written before training starts
    assert code == 0 and (out / "best.pt").is_file()


# ---------------------------------------------------------------- a crash


def test_an_interrupted_run_leaves_a_checkpoint_to_resume_from(dataset: Path, tiny_arch: str, tmp_path: Path) -> None:
    """A run that dies in epoch 1 (killed, crashed) must have saved epoch 0 for ``--resume``."""
    out = tmp_path / "exp"
    original = ExerciseClassifier.training_step

    def dies_in_epoch_1(self, batch, batch_idx):
        if self.current_epoch == 1:
            raise RuntimeError("simulated crash")
        return original(self, batch, batch_idx)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(RuntimeError, match="simulated crash"):
        patch.setattr(ExerciseClassifier, "training_step", dies_in_epoch_1)
        train(train_config(dataset, out, tiny_arch, epochs=3))
    # Closed on the crash too: an open bar was redrawn at exit, after the traceback (or pytest's summary).
    assert not [bar for bar in tqdm._instances if not bar.disable]
    last = out / "lightning" / "last.ckpt"
    assert last.is_file(), "no checkpoint written before the crash"
    assert lightning_ckpt(last)["global_step"] == TRAIN_BATCHES  # the end of epoch 0
    train(train_config(dataset, out, tiny_arch, epochs=2, resume=last))
    assert lightning_ckpt(last)["global_step"] == 2 * TRAIN_BATCHES
