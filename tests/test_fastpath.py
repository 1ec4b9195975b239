"""The fast CPU path gives the eager model's answers: BatchNorm folding, ONNX export, both runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from exercise_rec import fastpath
from exercise_rec.checkpoint import read_meta
from exercise_rec.fastpath import (
    BACKENDS,
    MAX_REL_ERROR,
    FastModel,
    FastPathError,
    export_onnx,
    fold_batchnorm,
    missing_package,
    read_onnx_metadata,
)
from exercise_rec.inference import DEFAULT_CHECKPOINT, POSE_CHECKPOINT, Predictor
from exercise_rec.models import build_model, get_entry, list_models

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "squat.mp4"
SMALL = (1, 3, 8, 32, 32)


def installed(backend: str) -> bool:
    return missing_package(backend) is None


AVAILABLE = [pytest.param(b, marks=pytest.mark.skipif(not installed(b), reason=f"{b} not installed")) for b in BACKENDS]


def randomise(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine terms (fresh ones are the identity) and a
    non-zero head, so folding and export are tested on numbers that show mistakes."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for tensor, low, high in ((module.running_mean, -0.5, 0.5), (module.running_var, 0.5, 2.0),
                                      (module.weight, 0.5, 1.5), (module.bias, -0.3, 0.3)):  # fmt: skip
                tensor.data.copy_(torch.empty_like(tensor).uniform_(low, high, generator=generator))
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.1, generator=generator)
    return model.eval()


def tiny_mobilenet(mode: str = "standard") -> nn.Module:
    return randomise(build_model("mobilenet_v2_3d", 5, mode=mode, width_mult=0.25))


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float((got - expected).abs().max() / expected.abs().max())


def test_folding_removes_every_batchnorm_of_mobilenet_and_keeps_its_outputs():
    model = tiny_mobilenet()
    norms = sum(isinstance(m, nn.BatchNorm3d) for m in model.modules())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded, count = fold_batchnorm(model)
    assert count == norms > 0
    assert not any(isinstance(m, nn.BatchNorm3d) for m in folded.modules())
    clips = torch.randn(2, *SMALL[1:])
    with torch.inference_mode():
        assert relative_error(folded(clips), model(clips)) < 1e-5
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # original untouched
    assert any(isinstance(m, nn.BatchNorm3d) for m in model.modules())


def test_a_batchnorm_that_does_not_directly_follow_a_convolution_is_left_alone():
    model = randomise(nn.Sequential(nn.Conv3d(3, 4, 1), nn.ReLU(), nn.BatchNorm3d(4)))
    folded, count = fold_batchnorm(model)
    assert count == 0
    assert isinstance(folded[2], nn.BatchNorm3d)


@pytest.mark.parametrize("backend", AVAILABLE)
@pytest.mark.parametrize("mode", ["standard", "high_temporal"])
def test_every_backend_matches_eager_on_new_clips_and_any_batch_size(backend, mode):
    model = tiny_mobilenet(mode)
    fast = FastModel.build(model, SMALL, backend)
    assert fast.backend == backend and fast.max_rel_error is not None and fast.max_rel_error <= MAX_REL_ERROR
    for batch in (1, 3):
        clips = torch.randn(batch, *SMALL[1:])
        with torch.inference_mode():
            expected = model(clips)
        got = fast(clips)
        assert got.shape == (batch, 5) and got.dtype == torch.float32
        assert relative_error(got, expected) < MAX_REL_ERROR


def test_a_fast_model_that_disagrees_with_eager_is_refused():
    model = tiny_mobilenet()
    wrong = FastModel("torch", lambda clips: model(clips) + 0.1)
    with pytest.raises(FastPathError, match="differs from the eager model"):
        wrong.check(model, SMALL)


@pytest.mark.parametrize("backend", [b for b in AVAILABLE if b.values[0] != "torch"])
def test_a_second_build_loads_the_cached_export_and_changed_weights_export_again(backend, monkeypatch, tmp_path):
    monkeypatch.setenv("EXERCISE_REC_CACHE", str(tmp_path))
    exports = []
    monkeypatch.setattr(fastpath, "export_onnx", lambda *a, **k: exports.append(1) or export_onnx(*a, **k))
    model = tiny_mobilenet()
    FastModel.build(model, SMALL, backend)
    again = FastModel.build(model, SMALL, backend)
    assert len(exports) == 1 and again.max_rel_error is not None
    assert len(list((tmp_path / "fastpath").glob("*.onnx"))) == 1
    with torch.no_grad():
        model.classifier[-1].bias.add_(0.5)  # a fine-tuned checkpoint: same architecture, other weights
    changed = FastModel.build(model, SMALL, backend)
    assert len(exports) == 2
    clips = torch.randn(2, *SMALL[1:])
    assert relative_error(changed(clips), model(clips)) <= MAX_REL_ERROR


def test_a_damaged_cache_file_is_rebuilt_with_a_warning(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("EXERCISE_REC_CACHE", str(tmp_path))
    model = tiny_mobilenet()
    path = fastpath.cached_onnx(model, SMALL)
    path.write_bytes(b"not onnx")
    with caplog.at_level("WARNING", logger="exercise_rec.fastpath"):
        fast = FastModel.build(model, SMALL, "onnx")
    assert "rebuilding the fast-path cache" in caplog.text and fast.max_rel_error is not None


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(FastPathError, match="unknown backend 'tensorrt'"):
        FastModel.build(tiny_mobilenet(), SMALL, "tensorrt")


@pytest.mark.heavy
@pytest.mark.parametrize("checkpoint", [DEFAULT_CHECKPOINT, POSE_CHECKPOINT], ids=["rgb", "pose"])
@pytest.mark.parametrize("backend", [b for b in AVAILABLE if b.values[0] != "torch"])
def test_predictor_on_the_fast_path_gives_the_eager_predictions_for_a_real_video(backend, checkpoint):
    eager = Predictor.from_checkpoint(checkpoint, device="cpu")
    fast = Predictor.from_checkpoint(checkpoint, backend=backend)
    assert fast.backend == backend and fast.device.type == "cpu"
    expected, got = eager.predict(SAMPLE), fast.predict(SAMPLE)
    assert got.label == expected.label == "squat"
    np.testing.assert_allclose(got.probs, expected.probs, atol=1e-5)
    assert got.probs.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.heavy
@pytest.mark.skipif(not installed("onnx"), reason="onnxruntime not installed")
def test_export_cli_writes_a_self_describing_onnx_file_that_onnxruntime_runs(tmp_path):
    out = tmp_path / "model.onnx"
    run = subprocess.run(
        [sys.executable, "-m", "exercise_rec.export", "--checkpoint", str(DEFAULT_CHECKPOINT), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "max relative error" in run.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left behind
    meta = read_meta(DEFAULT_CHECKPOINT)
    stored = read_onnx_metadata(out)
    assert stored["class_names"] == list(meta.class_names) and stored["clip_len"] == meta.clip_len
    assert stored["mean"] == list(meta.mean) and stored["input_size"] == list(meta.input_size)

    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    eager = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu")
    clip = eager.inputs([eager.decode(SAMPLE)])  # framed around the person, as predictions are
    (logits,) = session.run(None, {"clip": clip.numpy()})
    assert meta.class_names[int(logits.argmax())] == "squat"
    np.testing.assert_allclose(logits, eager.logits([eager.decode(SAMPLE)]).numpy(), rtol=1e-4, atol=1e-4)


def test_export_of_a_file_that_is_not_a_checkpoint_is_a_one_line_error(tmp_path):
    bogus = tmp_path / "notes.pt"
    bogus.write_text("hello")
    run = subprocess.run(
        [sys.executable, "-m", "exercise_rec.export", "--checkpoint", str(bogus), "--out", str(tmp_path / "m.onnx")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and str(bogus) in run.stderr
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.heavy
@pytest.mark.skipif(not installed("openvino"), reason="openvino not installed")
def test_predict_cli_runs_on_the_fast_path():
    run = subprocess.run(
        [sys.executable, "-m", "exercise_rec.predict", str(SAMPLE), "--json", "--backend", "openvino"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["predictions"][0]["label"] == "squat"


def test_metadata_round_trips_through_an_exported_file(tmp_path):
    path = export_onnx(tiny_mobilenet(), SMALL, tmp_path / "m.onnx", {"class_names": ["a", "b"], "clip_len": 8})
    assert read_onnx_metadata(path) == {"class_names": ["a", "b"], "clip_len": 8}
    assert read_onnx_metadata(export_onnx(tiny_mobilenet(), SMALL, tmp_path / "bare.onnx")) == {}


@pytest.mark.heavy
@pytest.mark.skipif(not installed("openvino"), reason="openvino not installed")
@pytest.mark.parametrize("name", list_models())
def test_every_registry_model_runs_on_the_fast_path(name):
    """Export is not special to mobilenet: every architecture compiles and agrees with eager."""
    entry = get_entry(name)
    shape = (1, *entry.default_input)
    model = randomise(build_model(name, 5))
    fast = FastModel.build(model, shape, "openvino")
    assert fast.max_rel_error <= MAX_REL_ERROR
