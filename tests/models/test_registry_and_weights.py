"""Registry validation and load_weights behaviour, on a small model registered for the test."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest
import torch

from exercise_rec.models import (
    WeightsError,
    build_model,
    list_models,
    load_weights,
    model_card,
    register_model,
)
from tests.conftest import TinyNet as _Tiny


def test_unknown_model_lists_valid_names(tiny_model):
    with pytest.raises(ValueError, match="valid models:.*_test_tiny"):
        build_model("no_such_model", 3)


def test_unknown_kwarg_lists_valid_ones(tiny_model):
    with pytest.raises(ValueError, match=r"widht.*valid: width"):
        build_model(tiny_model, 3, widht=8)


def test_bad_num_classes(tiny_model):
    with pytest.raises(ValueError, match="num_classes"):
        build_model(tiny_model, 0)


def test_model_card_counts_params_and_flops(tiny_model):
    card = model_card(tiny_model, num_classes=5, width=4)
    assert card.params == sum(p.numel() for p in _Tiny(5, 4).parameters())
    # conv MACs: out voxels (4*8*8) * out channels 4 * (3*27) -> 2 FLOPs each; plus the linear.
    conv_flops = 2 * (4 * 8 * 8) * 4 * (3 * 27)
    assert card.flops >= conv_flops
    assert card.default_input == (3, 4, 8, 8) and card.cam_layers == ("conv",)
    assert tiny_model in list_models()


def test_duplicate_registration_refused(tiny_model):
    with pytest.raises(ValueError, match="twice"):
        register_model(tiny_model)(lambda num_classes: _Tiny(num_classes))


def test_round_trip_through_file_with_wrappers(tmp_path, tiny_model):
    src = build_model(tiny_model, 3)
    src.bn.running_mean.fill_(0.5)
    wrapped = {"state_dict": OrderedDict(("module." + k, v) for k, v in src.state_dict().items()),
               "epoch": 3}
    path = tmp_path / "ckpt.pth"
    torch.save(wrapped, path)
    dst = build_model(tiny_model, 3)
    report = load_weights(dst, path)
    assert report.ok and len(report.loaded) == len(src.state_dict())
    x = torch.randn(2, 3, 4, 8, 8)
    src.eval(), dst.eval()
    torch.testing.assert_close(dst(x), src(x))


def test_strict_mismatch_names_keys_and_shapes(tiny_model):
    state = build_model(tiny_model, 5).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["conv.bias"]
    model = build_model(tiny_model, 3)
    before = model.fc.weight.clone()
    with pytest.raises(WeightsError) as info:
        load_weights(model, state)
    msg = str(info.value)
    assert "missing keys [1]: conv.bias" in msg
    assert "unexpected keys [1]: extra.weight" in msg
    assert "fc.weight checkpoint (5, 4) vs model (3, 4)" in msg
    torch.testing.assert_close(model.fc.weight, before)  # nothing half-loaded


def test_non_strict_loads_what_fits(tiny_model):
    src = build_model(tiny_model, 5)
    dst = build_model(tiny_model, 3)
    report = load_weights(dst, src.state_dict(), strict=False)
    assert {k for k, _, _ in report.mismatched} == {"fc.weight", "fc.bias"}
    torch.testing.assert_close(dst.conv.weight, src.conv.weight)


def test_missing_num_batches_tracked_is_tolerated(tiny_model):
    state = {k: v for k, v in build_model(tiny_model, 3).state_dict().items()
             if not k.endswith("num_batches_tracked")}
    assert load_weights(build_model(tiny_model, 3), state).ok


class _Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_pickled_code_is_refused_without_running(tmp_path, monkeypatch, tiny_model):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {}, "payload": _Evil()}, f, protocol=2)
    with pytest.raises(WeightsError, match="refused.*nothing was executed"):
        load_weights(build_model(tiny_model, 3), path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"not a checkpoint at all", "corrupt")])
def test_unreadable_files(tmp_path, tiny_model, content, reason):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=reason):
        load_weights(build_model(tiny_model, 3), path)


def test_truncated_checkpoint(tmp_path, tiny_model):
    path = tmp_path / "full.pth"
    torch.save(build_model(tiny_model, 3).state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=str(path.name)):
        load_weights(build_model(tiny_model, 3), path)


def test_missing_file(tmp_path, tiny_model):
    with pytest.raises(WeightsError, match="no such checkpoint"):
        load_weights(build_model(tiny_model, 3), tmp_path / "nope.pth")
