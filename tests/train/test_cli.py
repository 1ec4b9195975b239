"""``python -m exercise_rec.train`` in real processes: help, one-line refusals before any work, quiet output.

Refusals: exit code 2, one ``error:`` line on stderr, no traceback, nothing written, and they come
before the dataset is read (or, for the dataset's own problems, before seeding and training).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exercise_rec.data.synthetic import SynthConfig, generate_dataset
from exercise_rec.synth import warn_empty_splits
from tests.train.common import CLASSES, CLIP_LEN, SIZE, SYNTH

# A real registry model small enough for a subprocess run (the tiny test net exists only in-process).
SMALL_MODEL = ("--model", "mobilenet_v2_3d", "--model-kwargs", "width_mult=0.25")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the CPU path everywhere
    return subprocess.run([sys.executable, "-m", "exercise_rec.train", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False, env=env)


def _refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one error line of a refused run, checked to name ``words``."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_cli_help(tmp_path: Path) -> None:
    done = _cli("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for option in ("--model", "--data", "--epochs", "--mode", "--debug", "--batch-size", "--lr", "--num-workers",
                   "--clip-len", "--size", "--precision", "--devices", "--resume", "--model-kwargs", "-v"):
        assert option in done.stdout
    assert "(default: 30)" in done.stdout and "(image only)" in done.stdout
    assert not list(tmp_path.iterdir())


def test_cli_missing_dataset_is_one_line_exit_2(tmp_path: Path) -> None:
    _refused(_cli("--data", "/nonexistent", "--epochs", "1", cwd=tmp_path), "/nonexistent")
    assert not list(tmp_path.iterdir())  # nothing written (the default --out is relative: runs/exp)


def test_cli_unknown_model_lists_valid_names(tmp_path: Path) -> None:
    _refused(_cli("--data", "/nonexistent", "--model", "no_such_net", cwd=tmp_path),
             "no_such_net", "mobilenet_v2_3d", "i3d")
    assert not list(tmp_path.iterdir())


def test_cli_refuses_an_image_model_naming_the_video_forms(tmp_path: Path) -> None:
    """mobilenet_v4_nano used to pass every check and fail at the first batch."""
    line = _refused(_cli("--data", "/nonexistent", "--model", "mobilenet_v4_nano", cwd=tmp_path),
                    "mobilenet_v4_nano", "image", "mobilenet_v4_nano_video", "mobilenet_v2_3d")
    assert "/nonexistent" not in line  # refused before the dataset is even looked at
    assert not list(tmp_path.iterdir())


def test_cli_model_kwargs_unknown_key_lists_the_valid_ones(tmp_path: Path) -> None:
    _refused(_cli("--data", "/nonexistent", "--model", "i3d", "--model-kwargs", "dropout_keep_prob=0.3", "depth=18",
                  cwd=tmp_path), "depth", "i3d", "dropout_keep_prob", "in_channels")


@pytest.mark.parametrize("args", [("--model-kwargs", "depth"), ("--epochs", "0")])  # more cases: test_config.py
def test_cli_bad_settings_are_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    _refused(_cli("--data", "/nonexistent", *args, cwd=tmp_path))
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def two_per_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``synth --per-class 2``: train and val get a clip per class, test none."""
    return generate_dataset(tmp_path_factory.mktemp("synth2") / "ds", per_class=2, seed=0, config=SYNTH,
                            classes=CLASSES[:2], workers=1)


def test_cli_refuses_an_empty_test_split_before_training(two_per_class: Path, tmp_path: Path) -> None:
    """It used to train first and fail with "split 'test' has no clips" afterwards."""
    done = _cli("--data", str(two_per_class), *SMALL_MODEL, "--epochs", "1", "--out", str(tmp_path / "o"), cwd=tmp_path)
    _refused(done, str(two_per_class), "split 'test' has no clips")
    assert done.stdout == "" and not (tmp_path / "o").exists()


@pytest.mark.parametrize(("per_class", "empty"), [(1, "the val and test split empty"), (2, "the test split empty"),
                                                  (3, None)])
def test_synth_says_when_a_set_is_too_small_to_train(per_class: int, empty: str | None,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    warn_empty_splits(per_class, SynthConfig())
    assert [r.getMessage() for r in caplog.records] == ([] if empty is None else [
        f"--per-class {per_class} leaves {empty}; training needs --per-class 3 or more"])


def test_cli_dataset_error_comes_before_seeding(tmp_path: Path) -> None:
    """A folder of loose videos (like samples/): its error alone, not after "Seed set to 0" twice."""
    loose = tmp_path / "videos"
    loose.mkdir()
    shutil.copy(Path(__file__).parents[2] / "samples" / "squat.mp4", loose)
    _refused(_cli("--data", str(loose), "--out", str(tmp_path / "o"), cwd=tmp_path), str(loose), "no class folders")
    assert not (tmp_path / "o").exists()


@pytest.mark.heavy
def test_cli_verbose_run_prints_each_lightning_line_once(dataset: Path, tmp_path: Path) -> None:
    """-v shows Lightning's messages once each (they came twice: ``INFO: ...`` and ``INFO lightning...``);
    no deprecation warning from Lightning's internals either way."""
    done = _cli("-v", "--data", str(dataset), *SMALL_MODEL, "--epochs", "1", "--batch-size", "2", "--num-workers", "0",
                "--clip-len", str(CLIP_LEN), "--size", str(SIZE), "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line for line in lines if "Seed set to 0" in line] == ["INFO lightning.fabric.utilities.seed: Seed set to 0"]
    assert not [line for line in lines if line.startswith("INFO: ")]
    assert "LeafSpec" not in done.stderr and "Warning" not in done.stderr, done.stderr
    assert done.stdout.count("best checkpoint: ") == 1
