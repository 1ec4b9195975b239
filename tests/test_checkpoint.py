"""The deployable checkpoint format: round trip, fp16 shipping, clear errors for wrong files."""

from __future__ import annotations

import pytest
import torch

from exercise_rec.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from exercise_rec.models import build_model


def _meta(name: str, classes=("a", "b", "c"), **kwargs) -> CheckpointMeta:
    return CheckpointMeta(
        model_name=name, model_kwargs=kwargs, class_names=tuple(classes), clip_len=4,
        input_size=(8, 8), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), metrics={"val_top1": 0.9},
    )


def test_round_trip_rebuilds_model_and_meta(tmp_path, tiny_model):
    model = build_model(tiny_model, 3, width=6).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, _meta(tiny_model, width=6))
    raw = torch.load(path, weights_only=True)  # the contract: plain data only
    assert raw["model_name"] == tiny_model and "state_dict" in raw
    loaded, meta = load_checkpoint(path)
    assert meta == _meta(tiny_model, width=6) and meta.num_classes == 3
    x = torch.randn(2, 3, 4, 8, 8)
    torch.testing.assert_close(loaded(x), model(x))
    assert read_meta(path).class_names == ("a", "b", "c")
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_half_checkpoint_loads_as_fp32(tmp_path, tiny_model):
    model = build_model(tiny_model, 3).eval()
    path = save_checkpoint(tmp_path / "h.pt", model, _meta(tiny_model), half=True)
    assert torch.load(path, weights_only=True)["state_dict"]["conv.weight"].dtype == torch.float16
    loaded, _ = load_checkpoint(path)
    assert loaded.conv.weight.dtype == torch.float32
    x = torch.randn(1, 3, 4, 8, 8)
    torch.testing.assert_close(loaded(x), model(x), atol=1e-2, rtol=1e-2)


def test_class_count_mismatch_is_named(tmp_path, tiny_model):
    model = build_model(tiny_model, 3)
    path = save_checkpoint(tmp_path / "m.pt", model, _meta(tiny_model, classes=("a", "b")))
    with pytest.raises(CheckpointError, match=r"2 classes.*fc.weight checkpoint \(3, 4\) vs model \(2, 4\)"):
        load_checkpoint(path)


def test_weights_of_another_architecture_are_named(tmp_path, tiny_model):
    """Metadata says one model, the weights are another's: missing and unexpected keys by name."""
    other = build_model("mobilenet_v2_3d", 3, width_mult=0.25)
    path = save_checkpoint(tmp_path / "m.pt", other, _meta(tiny_model))
    with pytest.raises(CheckpointError, match=r"m\.pt: weights do not fit _test_tiny with 3 classes.*"
                                              r"missing keys \[\d+\]: conv\.weight.*unexpected keys"):
        load_checkpoint(path)


def test_truncated_file_is_a_checkpoint_error(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.pt", build_model(tiny_model, 3), _meta(tiny_model))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for load in (load_checkpoint, read_meta):
        with pytest.raises(CheckpointError, match=r"m\.pt: not a readable PyTorch checkpoint \(truncated or corrupt\)"):
            load(path)


def test_bare_state_dict_is_not_a_deployable_checkpoint(tmp_path, tiny_model):
    path = tmp_path / "bare.pt"
    torch.save(build_model(tiny_model, 3).state_dict(), path)
    with pytest.raises(CheckpointError, match="metadata missing: model_name"):
        load_checkpoint(path)


def test_unknown_model_name_is_named(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.pt", build_model(tiny_model, 3), _meta("not_registered"))
    with pytest.raises(CheckpointError, match="cannot rebuild.*not_registered"):
        load_checkpoint(path)


def test_failed_write_keeps_previous_file(tmp_path, tiny_model, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", build_model(tiny_model, 3), _meta(tiny_model))
    before = path.read_bytes()

    def crash_midway(obj, f):
        open(f, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, build_model(tiny_model, 3), _meta(tiny_model))
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*tmp*"))


def test_metadata_must_be_plain_numbers(tmp_path, tiny_model):
    meta = CheckpointMeta(**{**_meta(tiny_model).__dict__, "metrics": {"val_top1": "high"}})
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "m.pt", build_model(tiny_model, 3), meta)
    assert not (tmp_path / "m.pt").exists()
