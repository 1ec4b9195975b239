"""resnet3d (pytorchvideo slow_r50 geometry, separable and standard layouts) and multiview_resnet3d."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models import (
    ModelInputError,
    WeightsError,
    build_model,
    get_entry,
    load_weights,
    model_card,
)

LAYOUT_FILE = Path(__file__).parent / "reference_layouts" / "pytorchvideo_slow_r50.json"
SLOW_R50_PARAMS_400 = 32_454_096  # pytorchvideo slow_r50(), measured on the reference code


def _randomize(model: nn.Module) -> nn.Module:
    """Random BN affine parameters and statistics (convs keep their He init), so a layout mix-up
    cannot hide behind identity BN or zero-initialised residual branches; returns it in eval mode."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 0.1)
    return model.eval()


def _assert_informative(out: Tensor) -> None:
    """Different inputs give different outputs: the comparison is not between two constants."""
    assert not torch.allclose(out[0], out[1])


def _reference_layout() -> dict:
    return json.loads(LAYOUT_FILE.read_text())


def _pytorchvideo_state_dict() -> dict[str, Tensor]:
    """Random tensors in pytorchvideo slow_r50's exact key layout and shapes (He-scaled convs,
    non-trivial BN), so activations neither die nor explode through 16 blocks."""
    state = {}
    for key, shape in _reference_layout()["state_dict"].items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith(("running_var", "norm.weight")) or ("norm_" in key and key.endswith(".weight")):
            state[key] = torch.rand(shape) + 0.5
        elif len(shape) == 5:  # conv
            fan_in = shape[1] * shape[2] * shape[3] * shape[4]
            state[key] = torch.randn(shape) * (2.0 / fan_in) ** 0.5
        else:  # BN bias / running_mean, linear
            state[key] = torch.randn(shape) * 0.1
    return state


def _pytorchvideo_forward(sd: dict[str, Tensor], x: Tensor) -> Tensor:
    """pytorchvideo's slow_r50 computation, written directly over its ``blocks.N`` state dict:
    stem conv 1x7x7 pad (0,3,3) stride (1,2,2), max-pool 1x3x3; bottleneck conv_a pads its temporal
    kernel, conv_b carries the spatial stride, branch1 is a strided 1x1x1 projection; global-pool head."""

    def bn(t: Tensor, p: str) -> Tensor:
        return F.batch_norm(t, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"])

    x = F.relu(bn(F.conv3d(x, sd["blocks.0.conv.weight"], stride=(1, 2, 2), padding=(0, 3, 3)), "blocks.0.norm"))
    x = F.max_pool3d(x, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    for stage, spatial_stride in zip(range(1, 5), (1, 2, 2, 2)):
        block = 0
        while f"blocks.{stage}.res_blocks.{block}.branch2.conv_a.weight" in sd:
            p = f"blocks.{stage}.res_blocks.{block}."
            s = (1, spatial_stride, spatial_stride) if block == 0 else (1, 1, 1)
            kt = sd[p + "branch2.conv_a.weight"].shape[2]
            y = F.conv3d(x, sd[p + "branch2.conv_a.weight"], padding=(kt // 2, 0, 0))
            y = F.relu(bn(y, p + "branch2.norm_a"))
            y = F.conv3d(y, sd[p + "branch2.conv_b.weight"], stride=s, padding=(0, 1, 1))
            y = F.relu(bn(y, p + "branch2.norm_b"))
            y = bn(F.conv3d(y, sd[p + "branch2.conv_c.weight"]), p + "branch2.norm_c")
            if p + "branch1_conv.weight" in sd:
                x = bn(F.conv3d(x, sd[p + "branch1_conv.weight"], stride=s), p + "branch1_norm")
            x = F.relu(x + y)
            block += 1
    return F.linear(x.mean(dim=(2, 3, 4)), sd["blocks.5.proj.weight"], sd["blocks.5.proj.bias"])


def test_default_is_slow_r50_geometry_with_its_parameter_count():
    model = build_model("resnet3d", 400)
    assert sum(p.numel() for p in model.parameters()) == SLOW_R50_PARAMS_400
    assert _reference_layout()["num_parameters"] == SLOW_R50_PARAMS_400
    stem = model.get_stem()
    assert stem.conv.kernel_size == (1, 7, 7) and stem.conv.stride == (1, 2, 2) and stem.conv.padding == (0, 3, 3)
    assert stem.pool.kernel_size == (1, 3, 3) and stem.pool.stride == (1, 2, 2)
    assert tuple(stem.pool.padding) == (0, 1, 1)
    body = model.get_body()
    assert [len(stage) for stage in body] == [3, 4, 6, 3]
    # temporal kernels only in res4/res5; the spatial stride sits on conv_b of each stage's first block
    assert [stage[0].conv_a.kernel_size for stage in body] == [(1, 1, 1), (1, 1, 1), (3, 1, 1), (3, 1, 1)]
    assert [stage[0].conv_b.stride for stage in body] == [(1, 1, 1), (1, 2, 2), (1, 2, 2), (1, 2, 2)]
    assert all(stage[0].conv_a.stride == (1, 1, 1) for stage in body)
    assert isinstance(model.get_head().dropout, nn.Dropout) and model.get_head().dropout.p == 0.5
    bn = stem.norm
    assert (bn.eps, bn.momentum) == (1e-5, 0.1)


@pytest.mark.parametrize("stem", ["slow_r50", "7x7x7"])
def test_body_output_for_16x224x224_clip(stem):
    with torch.device("meta"):  # shapes only: no memory, no compute
        model = build_model("resnet3d", 17, stem=stem)
        feature_map = model.feature_map(torch.empty(2, 3, 16, 224, 224))
        logits = model(torch.empty(2, 3, 16, 224, 224))
    assert feature_map.shape == (2, 2048, 16, 7, 7)
    assert logits.shape == (2, 17)


def test_seed_stem_is_spatiotemporal():
    conv = build_model("resnet3d", 3, stem="7x7x7", width=4).get_stem().conv
    assert conv.kernel_size == (7, 7, 7) and conv.padding == (3, 3, 3) and conv.stride == (1, 2, 2)


@pytest.mark.parametrize("use_separable", [True, False])
def test_full_width_shapes_on_small_clip(use_separable):
    model = build_model("resnet3d", 17, use_separable=use_separable).eval()
    x = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (1, 17)
        assert model.forward_features(x).shape == (1, 2048)
        assert model.feature_map(x).shape == (1, 2048, 4, 2, 2)


@pytest.mark.parametrize("depth, blocks", [(101, [3, 4, 23, 3]), (152, [3, 8, 36, 3])])
def test_deeper_variants(depth, blocks):
    model = build_model("resnet3d", 5, depth=depth, width=4).eval()
    assert [len(stage) for stage in model.body] == blocks
    with torch.no_grad():
        assert model(torch.randn(1, 3, 2, 32, 32)).shape == (1, 5)


@pytest.mark.parametrize("shape", [(2, 3, 3, 40, 56), (1, 3, 1, 33, 17), (1, 3, 9, 96, 64)])
def test_any_clip_size_that_survives_the_strides(shape):
    model = build_model("resnet3d", 4, width=4).eval()
    with torch.no_grad():
        fmap = model.feature_map(torch.randn(*shape))
        assert model(torch.randn(*shape)).shape == (shape[0], 4)
    b, _, t, h, w = shape
    assert fmap.shape == (b, 128, t, -(-h // 32), -(-w // 32))  # no temporal stride; spatial /32, ceil


def test_separable_layout_exposes_stem_body_head_and_standard_is_flat():
    sep = build_model("resnet3d", 3, width=4)
    std = build_model("resnet3d", 3, width=4, use_separable=False)
    assert [name for name, _ in sep.named_children()] == ["stem", "body", "head"]
    assert {"conv1", "bn1", "maxpool", "layer1", "layer4", "fc"} <= {name for name, _ in std.named_children()}
    assert not hasattr(std, "stem") and not hasattr(sep, "layer1")
    assert len(sep.state_dict()) == len(std.state_dict())
    # the standard layout's get_*() are views over its own modules, not copies
    assert std.get_stem().conv is std.conv1 and std.get_body().layer3 is std.layer3 and std.get_head().proj is std.fc


@pytest.mark.parametrize("src_separable", [True, False])
def test_separable_and_standard_give_identical_outputs(src_separable):
    src = _randomize(build_model("resnet3d", 6, width=8, use_separable=src_separable))
    dst = build_model("resnet3d", 6, width=8, use_separable=not src_separable).eval()
    report = load_weights(dst, src.state_dict(), strict=True)  # the other layout's keys, remapped
    assert report.ok and len(report.loaded) == len(src.state_dict())
    x = torch.randn(2, 3, 4, 48, 48)
    with torch.no_grad():
        _assert_informative(src(x))
        torch.testing.assert_close(dst(x), src(x), rtol=0, atol=0)
        torch.testing.assert_close(dst.forward_features(x), src.forward_features(x), rtol=0, atol=0)


@pytest.mark.parametrize("use_separable", [True, False])
def test_get_stem_body_head_compose_to_the_model(use_separable):
    model = _randomize(build_model("resnet3d", 5, width=4, use_separable=use_separable))
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad():
        stem_out = model.get_stem()(x)
        assert stem_out.shape == (2, 4, 4, 16, 16)
        body_out = model.get_body()(stem_out)
        assert body_out.shape == (2, 128, 4, 2, 2)
        _assert_informative(model(x))
        torch.testing.assert_close(model.get_head()(body_out), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("use_separable", [True, False])
def test_pytorchvideo_slow_r50_layout_loads_strictly_with_its_outputs(use_separable):
    state = _pytorchvideo_state_dict()
    model = build_model("resnet3d", 400, use_separable=use_separable).eval()
    report = load_weights(model, {"model_state": state}, strict=True)  # pytorchvideo's container key
    assert report.ok and len(report.loaded) == len(state) == len(model.state_dict())
    own = model.state_dict()
    body = "body." if use_separable else ""
    expected = {
        "blocks.0.conv.weight": "stem.conv.weight" if use_separable else "conv1.weight",
        "blocks.1.res_blocks.0.branch1_conv.weight": f"{body}layer1.0.shortcut_conv.weight",
        "blocks.4.res_blocks.0.branch1_norm.running_var": f"{body}layer4.0.shortcut_norm.running_var",
        "blocks.3.res_blocks.5.branch2.norm_b.bias": f"{body}layer3.5.norm_b.bias",
        "blocks.5.proj.weight": "head.proj.weight" if use_separable else "fc.weight",
    }
    for theirs, ours in expected.items():
        assert torch.equal(own[ours], state[theirs]), (theirs, ours)
    x = torch.randn(2, 3, 2, 32, 32)
    with torch.no_grad():
        out = model(x)
        _assert_informative(out)
        torch.testing.assert_close(out, _pytorchvideo_forward(state, x), rtol=1e-4, atol=1e-5)


def test_reference_layout_with_wrong_head_or_extra_keys_is_named():
    state = _pytorchvideo_state_dict()
    state["blocks.5.extra.weight"] = torch.zeros(1)
    del state["blocks.2.res_blocks.3.branch2.conv_b.weight"]
    model = build_model("resnet3d", 17)
    with pytest.raises(WeightsError) as info:
        load_weights(model, state)
    msg = str(info.value)
    assert "missing keys [1]: body.layer2.3.conv_b.weight" in msg
    assert "unexpected keys [1]: blocks.5.extra.weight" in msg
    assert "head.proj.weight checkpoint (400, 2048) vs model (17, 2048)" in msg
    # fine-tuning: everything but the head loads
    del state["blocks.5.extra.weight"]
    state["blocks.2.res_blocks.3.branch2.conv_b.weight"] = torch.randn(128, 128, 1, 3, 3)
    report = load_weights(model, state, strict=False)
    assert report.missing == [] and {k for k, _, _ in report.mismatched} == {"head.proj.weight", "head.proj.bias"}


@pytest.mark.parametrize("use_separable", [True, False])
def test_gradient_reaches_the_stem(use_separable):
    model = build_model("resnet3d", 3, width=4, use_separable=use_separable).train()
    loss = F.cross_entropy(model(torch.randn(2, 3, 2, 32, 32)), torch.tensor([0, 2]))
    loss.backward()
    grad = model.get_stem().conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_invalid_configuration_is_named():
    with pytest.raises(ConfigError, match="depth 18.*valid depths: 50, 101, 152"):
        build_model("resnet3d", 3, depth=18)
    with pytest.raises(ConfigError, match="stem 'bogus'.*slow_r50, 7x7x7"):
        build_model("resnet3d", 3, stem="bogus")
    with pytest.raises(ConfigError, match="dropout"):
        build_model("resnet3d", 3, dropout=1.0)
    with pytest.raises(ConfigError, match="width"):
        build_model("resnet3d", 3, width=0)


def test_wrong_input_shape_is_named():
    model = build_model("resnet3d", 3, width=4)
    with pytest.raises(ModelInputError, match=r"\[B, 3, T, H, W\].*\(3, 4, 32, 32\)"):
        model(torch.randn(3, 4, 32, 32))
    with pytest.raises(ModelInputError, match=r"\(1, 1, 4, 32, 32\)"):
        model(torch.randn(1, 1, 4, 32, 32))


def test_model_card_at_default_input():
    card = model_card("resnet3d", num_classes=5, width=4)  # FLOPs at (3, 16, 224, 224)
    assert card.params == sum(p.numel() for p in build_model("resnet3d", 5, width=4).parameters())
    # the stem conv alone: 16x112x112 outputs x 4 channels x (3*1*7*7) MACs
    assert card.flops > 2 * 16 * 112 * 112 * 4 * 147
    assert card.cam_layers[-1] == "body.layer4"


@pytest.mark.parametrize("name", ["resnet3d", "multiview_resnet3d"])
def test_suggested_cam_layers_exist(name):
    model = build_model(name, 3, width=4)
    for layer in get_entry(name).cam_layers:
        assert isinstance(model.get_submodule(layer), nn.Module), layer


# ----- multiview_resnet3d -----------------------------------------------------------------------


def _views(batch: int = 2, t: int = 2, size: int = 32, names=("front", "side")) -> dict[str, Tensor]:
    return {name: torch.randn(batch, 3, t, size, size) for name in names}


def test_multiview_forward_backward():
    model = build_model("multiview_resnet3d", 7, width=4).train()
    views = _views()
    logits = model(views)
    assert logits.shape == (2, 7)
    assert model.forward_features(views).shape == (2, 128)
    F.cross_entropy(logits, torch.tensor([1, 6])).backward()
    for name in ("front", "side"):
        grad = model.backbones[name].stem.conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert model.fusion.conv.weight.grad.abs().sum() > 0
    # per-view backbones do not share weights
    assert model.backbones["front"].stem.conv.weight is not model.backbones["side"].stem.conv.weight


def test_multiview_stacked_input_equals_dict_and_views_matter():
    model = _randomize(build_model("multiview_resnet3d", 4, width=4, views=("a", "b", "c")))
    views = _views(names=("c", "a", "b"))  # dict order is irrelevant
    stacked = torch.stack([views["a"], views["b"], views["c"]], dim=1)
    with torch.no_grad():
        out = model(views)
        _assert_informative(out)
        torch.testing.assert_close(model(stacked), out, rtol=0, atol=0)
        swapped = model({"a": views["b"], "b": views["a"], "c": views["c"]})
    assert not torch.allclose(swapped, out)


def test_multiview_starts_every_view_from_a_single_view_checkpoint():
    single = _randomize(build_model("resnet3d", 3, width=4, use_separable=False))
    model = build_model("multiview_resnet3d", 3, width=4).eval()
    report = load_weights(model, single.state_dict(), strict=False)
    assert report.unexpected == [] and report.mismatched == []
    fusion = [k for k in model.state_dict() if k.startswith("fusion.") and not k.endswith("num_batches_tracked")]
    assert sorted(report.missing) == sorted(fusion)
    assert torch.equal(model.head.proj.weight, single.fc.weight)
    x = torch.randn(2, 3, 2, 32, 32)
    with torch.no_grad():
        for name in ("front", "side"):
            torch.testing.assert_close(model.backbones[name](x), single.feature_map(x), rtol=0, atol=0)
    own = model.state_dict()  # its own keys round-trip unchanged
    assert load_weights(build_model("multiview_resnet3d", 3, width=4), own).ok


def test_multiview_input_errors_are_named():
    model = build_model("multiview_resnet3d", 3, width=4)
    with pytest.raises(ModelInputError, match=r"missing \['side'\], unknown \['top'\]"):
        model({"front": torch.randn(1, 3, 2, 32, 32), "top": torch.randn(1, 3, 2, 32, 32)})
    with pytest.raises(ModelInputError, match="different sizes"):
        model({"front": torch.randn(1, 3, 2, 32, 32), "side": torch.randn(1, 3, 2, 64, 64)})
    with pytest.raises(ModelInputError, match=r"view 'side'.*\[B, 3, T, H, W\]"):
        model({"front": torch.randn(1, 3, 2, 32, 32), "side": torch.randn(3, 2, 32, 32)})
    with pytest.raises(ModelInputError, match=r"views front, side.*\[B, 2, 3, T, H, W\]"):
        model(torch.randn(1, 3, 3, 2, 32, 32))
    for views in [(), ("a", "a"), ("a.b",), "front"]:
        with pytest.raises(ConfigError):
            build_model("multiview_resnet3d", 3, width=4, views=views)


def test_multiview_model_card_uses_a_stacked_default_input():
    card = model_card("multiview_resnet3d", num_classes=3, width=4)
    assert card.default_input == (2, 3, 16, 224, 224)
    assert card.params == sum(p.numel() for p in build_model("multiview_resnet3d", 3, width=4).parameters())
    assert card.flops > 0
