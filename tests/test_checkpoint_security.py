"""A checkpoint is data, never code: pickled payloads are refused by every loader before they run.

The payload is a ``__reduce__`` that creates a marker file when unpickled. The first test shows it
is live (plain unpickling creates the marker); the others load it through each public way in
(``load_checkpoint``, ``read_meta``, ``Predictor.from_checkpoint``, ``load_weights``, Lightning's
resume reader; ``train --resume`` in tests/train/test_resume.py) and check for the typed error and
for the marker's absence.
Also a static audit: every ``torch.load`` in the package passes ``weights_only=True``; and the
refusal's wording: it names what the file asked for and never suggests loading it unsafely.
"""

from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import exercise_rec
from exercise_rec.checkpoint import CheckpointError, load_checkpoint, read_meta
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model, load_weights
from exercise_rec.models.weights import WeightsError, refused_global
from exercise_rec.train.resume import SafeCheckpointIO


class _Payload:
    """Unpickling this calls ``open(marker, "x")``: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return open, (str(self.marker), "x")


def plant_payload(path: Path, marker: Path, hidden: bool) -> Path:
    """A .pt holding the payload: bare, or ``hidden`` in an otherwise well-formed checkpoint."""
    meta = {"model_name": "mobilenet_v2_3d", "model_kwargs": {}, "class_names": ["a", "b"], "clip_len": 4,
            "input_size": [8, 8], "mean": [0.5] * 3, "std": [0.25] * 3, "format_version": 1,
            "state_dict": {"fc.weight": torch.zeros(2, 4)}}
    torch.save({**meta, "metrics": _Payload(marker)} if hidden else _Payload(marker), path)
    return path


LOADERS: dict[str, tuple[Callable[[Path], object], type[Exception]]] = {
    "load_checkpoint": (load_checkpoint, CheckpointError),
    "read_meta": (read_meta, CheckpointError),
    "Predictor.from_checkpoint": (Predictor.from_checkpoint, CheckpointError),
    "lightning resume reader": (SafeCheckpointIO().load_checkpoint, CheckpointError),
    "load_weights": (lambda path: load_weights(build_model("mobilenet_v2_3d", 2, width_mult=0.25), path),
                     WeightsError),
}


def test_the_payload_is_live(tmp_path: Path) -> None:
    marker = tmp_path / "proof"
    path = plant_payload(tmp_path / "armed.pt", marker, hidden=False)
    torch.load(path, weights_only=False)  # what an unsafe loader would do
    assert marker.exists()


@pytest.mark.parametrize("hidden", [False, True], ids=["bare", "inside-a-checkpoint"])
@pytest.mark.parametrize("loader", list(LOADERS))
def test_loaders_refuse_pickled_code(loader: str, hidden: bool, tmp_path: Path) -> None:
    load, error = LOADERS[loader]
    marker = tmp_path / "pwned"
    path = plant_payload(tmp_path / "evil.pt", marker, hidden)
    with pytest.raises(error, match=r"evil\.pt: refused to load.*nothing was executed") as caught:
        load(path)
    assert "open" in str(caught.value) or "builtins" in str(caught.value)  # names what it refused
    assert not marker.exists(), "the payload ran"


def test_every_torch_load_in_the_package_is_weights_only() -> None:
    package = Path(exercise_rec.__file__).parent
    calls = 0
    for source in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                calls += 1
                flags = {k.arg: k.value for k in node.keywords}
                assert isinstance(flags.get("weights_only"), ast.Constant) and flags["weights_only"].value is True, (
                    f"{source}:{node.lineno}: torch.load without weights_only=True"
                )
    assert calls >= 1  # the audit saw the loader (models/weights.py read_checkpoint)


class _Shell:
    """Unpickling this would run ``os.system`` (never run here: the tests only try to load it)."""

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return os.system, ("echo pwned",)


UNSAFE_ADVICE = ("weights_only", "Re-running", "will likely succeed", "trusted source", "add_safe_globals")


def test_a_refusal_names_the_global_and_never_suggests_disabling_the_check(tmp_path: Path) -> None:
    path = tmp_path / "shell.pt"
    torch.save({"state_dict": {}, "hook": _Shell()}, path)
    with pytest.raises(CheckpointError) as caught:
        read_meta(path)
    message = str(caught.value)
    assert f"{path}: refused to load: the file asks to import {os.system.__module__}.system" in message
    assert not [words for words in UNSAFE_ADVICE if words in message], message


@pytest.mark.parametrize("text,name", [
    ("Unsupported global: GLOBAL os.system was not an allowed global by default. Please use ...", "os.system"),
    ("Trying to load unsupported GLOBAL posix.system whose module posix is blocked.", "posix.system"),
    ("Unsupported global: GLOBAL open was not an allowed global by default.", "builtins.open"),
    ("Unsupported operand 149", None),
])  # fmt: skip
def test_the_refused_global_is_parsed_from_torchs_message(text: str, name: str | None) -> None:
    assert refused_global(pickle.UnpicklingError(text)) == name


def test_a_raw_pickle_is_refused_in_one_line_with_nothing_on_stderr(tmp_path: Path) -> None:
    """A plain ``pickle.dump`` (protocol 4+) made torch warn about the protocol on stderr, in every CLI."""
    path = tmp_path / "raw.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0], "hook": _Shell()}, protocol=pickle.HIGHEST_PROTOCOL))
    script = (
        "import sys\n"
        "from exercise_rec.checkpoint import CheckpointError, read_meta\n"
        "try:\n    read_meta(sys.argv[1])\nexcept CheckpointError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.strip() == f"{path}: refused to load: not a weights-only checkpoint (a pickle of other " \
                                  "objects, or corrupt; nothing was executed)"  # fmt: skip
