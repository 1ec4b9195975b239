"""i3d: shapes, SAME padding, pytorch-i3d key layout, local pretrained loading, fine-tuning head."""

from __future__ import annotations

import json
import math
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
from exercise_rec.models.i3d import (
    I3D,
    I3DConfig,
    MaxPool3dSamePadding,
    Unit3D,
    same_padding,
)

LAYOUT_FILE = Path(__file__).parent / "reference_layouts" / "pytorch_i3d.json"
PORT_PARAMS_400 = 12_697_264  # pytorch-i3d InceptionI3d(num_classes=400), measured on the reference code
HEAD_PARAMS_PER_CLASS = 1024 + 1  # 1x1x1 conv weight row + bias


def _layout() -> dict:
    return json.loads(LAYOUT_FILE.read_text())


def _port_state_dict(num_classes: int = 400, seed: int = 1) -> dict[str, Tensor]:
    """Random tensors in pytorch-i3d's exact key layout (no num_batches_tracked, as in its files):
    He-scaled convs and non-trivial BatchNorm, so activations survive 60 layers and a mix-up of
    two same-shaped tensors changes the output."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in _layout()["state_dict"].items():
        if key.startswith("logits."):
            shape = [num_classes, *shape[1:]]
        if key.endswith(("running_var", "bn.weight")):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) == 5:
            fan_in = math.prod(shape[1:])
            state[key] = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        else:  # BN bias / running_mean, logits bias
            state[key] = torch.randn(shape, generator=gen) * 0.1
    return state


@pytest.fixture(scope="module")
def model17() -> I3D:
    return build_model("i3d", 17).eval()


# --- shapes, geometry, registry ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "map_shape"),
    [((1, 3, 8, 64, 64), (1, 1024, 1, 2, 2)), ((2, 3, 9, 57, 57), (2, 1024, 2, 2, 2))],
)
def test_output_shapes(model17: I3D, shape: tuple[int, ...], map_shape: tuple[int, ...]) -> None:
    x = torch.randn(shape)
    with torch.no_grad():
        logits = model17(x)
        features = model17.forward_features(x)
        feature_map = model17.feature_map(x)
    assert logits.shape == (shape[0], 17)
    assert features.shape == (shape[0], 1024)
    # Overall stride 8x32x32 with SAME padding: ceil(T/8), ceil(H/32), ceil(W/32).
    assert feature_map.shape == map_shape
    torch.testing.assert_close(features, feature_map.mean(dim=(2, 3, 4)))
    assert torch.isfinite(logits).all()


def test_parameter_count_matches_port() -> None:
    assert _layout()["num_parameters"] == PORT_PARAMS_400
    assert sum(p.numel() for p in build_model("i3d", 400).parameters()) == PORT_PARAMS_400
    expected_17 = PORT_PARAMS_400 + (17 - 400) * HEAD_PARAMS_PER_CLASS
    assert sum(p.numel() for p in build_model("i3d", 17).parameters()) == expected_17


def test_registry_entry(model17: I3D) -> None:
    entry = get_entry("i3d")
    assert entry.kwargs == {
        "in_channels": 3,
        "dropout_keep_prob": 0.5,
        "use_pretrained": False,
        "pretrained_path": None,
    }
    assert entry.default_input == (3, 16, 224, 224)
    modules = dict(model17.named_modules())
    assert entry.cam_layers[-1] == "Mixed_5c"
    assert all(name.startswith("Mixed_") and name in modules for name in entry.cam_layers)
    with pytest.raises(ValueError, match="dropout_keep_prob"):
        build_model("i3d", 17, dropout=0.3)


def test_cam_layers_are_ordered_shallow_to_deep(model17: I3D) -> None:
    seen: list[str] = []
    hooks = [
        dict(model17.named_modules())[name].register_forward_hook(lambda *_, n=name: seen.append(n))
        for name in get_entry("i3d").cam_layers
    ]
    with torch.no_grad():
        model17(torch.randn(1, 3, 8, 64, 64))
    for hook in hooks:
        hook.remove()
    assert seen == list(get_entry("i3d").cam_layers)


def test_in_channels_and_input_errors() -> None:
    flow = build_model("i3d", 5, in_channels=2).eval()
    with torch.no_grad():
        assert flow(torch.randn(1, 2, 4, 40, 40)).shape == (1, 5)
    with pytest.raises(ModelInputError, match=r"\[B, 2, T, H, W\]"):
        flow(torch.randn(1, 3, 4, 40, 40))
    with pytest.raises(ModelInputError):
        flow(torch.randn(2, 4, 40, 40))


@pytest.mark.parametrize(
    "kwargs", [{"dropout_keep_prob": 0.0}, {"dropout_keep_prob": 1.5}, {"in_channels": 0}]
)
def test_invalid_config(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        build_model("i3d", 17, **kwargs)


def test_dropout_keep_prob_is_a_keep_probability() -> None:
    assert I3D(I3DConfig(num_classes=3, dropout_keep_prob=0.8)).dropout.p == pytest.approx(0.2)
    model = I3D(I3DConfig(num_classes=3, dropout_keep_prob=1.0)).train()
    x = torch.randn(2, 3, 4, 32, 32)
    for module in model.modules():  # freeze BN statistics so two train-mode passes are comparable
        if isinstance(module, nn.BatchNorm3d):
            module.eval()
    torch.testing.assert_close(model(x), model(x))  # keep everything: no randomness


# --- SAME padding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (57, 7, 2, (3, 3)),  # odd size: 57 % 2 = 1 -> 7 - 1 = 6
        (56, 7, 2, (2, 3)),  # even size: 7 - 2 = 5, the extra one at the back
        (9, 3, 1, (1, 1)),
        (4, 2, 2, (0, 0)),
        (5, 2, 2, (0, 1)),
        (1, 7, 2, (3, 3)),
    ],
)
def test_same_padding_by_hand(size: int, kernel: int, stride: int, expected: tuple[int, int]) -> None:
    assert same_padding(size, kernel, stride) == expected
    out = (size + sum(expected) - kernel) // stride + 1
    assert out == math.ceil(size / stride)


def test_unit3d_stride2_odd_size_gives_ceil() -> None:
    unit = Unit3D(1, 2, (7, 7, 7), (2, 2, 2)).eval()
    assert unit(torch.randn(1, 1, 9, 57, 56)).shape == (1, 2, 5, 29, 28)


def test_unit3d_padding_placement_by_hand() -> None:
    """Ones through a ones kernel of width 3, stride 2, on 4 samples: SAME pads (0, 1), so the
    windows see 3 and 2 real samples; padding in front would give (2, 3)."""
    unit = Unit3D(1, 1, (1, 1, 3), (1, 1, 2)).eval()
    with torch.no_grad():
        unit.conv3d.weight.fill_(1.0)
    out = unit(torch.ones(1, 1, 1, 1, 4)).flatten()
    bn_scale = 1.0 / math.sqrt(1.0 + 1e-3)  # eval BN with default statistics, eps 1e-3
    torch.testing.assert_close(out, torch.tensor([3.0, 2.0]) * bn_scale)


@pytest.mark.parametrize(("kernel", "stride"), [((3, 3, 3), (1, 1, 1)), ((7, 7, 7), (2, 2, 2))])
def test_unit3d_equals_explicit_pad_then_conv(kernel: tuple[int, ...], stride: tuple[int, ...]) -> None:
    """The conv's built-in padding (stride 1) and the run-time padding (stride 2) both equal
    padding by the SAME rule and convolving unpadded, as the port does."""
    unit = Unit3D(2, 3, kernel, stride).eval()
    x = torch.randn(1, 2, 7, 10, 9)
    pads: list[int] = []
    for size, k, s in zip((9, 10, 7), reversed(kernel), reversed(stride)):
        pads.extend(same_padding(size, k, s))
    conv = unit.conv3d
    expected = F.relu(unit.bn(F.conv3d(F.pad(x, pads), conv.weight, None, conv.stride)))
    torch.testing.assert_close(unit(x), expected)


def test_maxpool_same_padding_by_hand() -> None:
    pool = MaxPool3dSamePadding((1, 1, 3), (1, 1, 2))

    def row(*v: float) -> torch.Tensor:
        return torch.tensor(v, dtype=torch.float32).view(1, 1, 1, 1, -1)

    torch.testing.assert_close(pool(row(1, 2, 3, 4)).flatten(), torch.tensor([3.0, 4.0]))  # pads (0, 1)
    torch.testing.assert_close(pool(row(1, 2, 3, 4, 5)).flatten(), torch.tensor([2.0, 4.0, 5.0]))  # (1, 1)
    # Zero padding, as the port: a padded window of negatives gives 0.
    torch.testing.assert_close(pool(row(-1, -2, -3, -4)).flatten(), torch.tensor([-1.0, 0.0]))


# --- training ------------------------------------------------------------------------------------


def test_one_training_step_reaches_the_stem() -> None:
    model = build_model("i3d", 4).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    stem = model.Conv3d_1a_7x7
    before = stem.conv3d.weight.detach().clone()
    running_mean = stem.bn.running_mean.clone()
    x, target = torch.randn(2, 3, 8, 64, 64), torch.tensor([1, 3])

    loss = F.cross_entropy(model(x), target)
    loss.backward()
    assert torch.isfinite(loss)
    assert stem.conv3d.weight.grad is not None and stem.conv3d.weight.grad.abs().sum() > 0
    optimizer.step()

    assert not torch.equal(stem.conv3d.weight, before)
    # BN momentum 0.01 (the port's): running mean moves 1% of the way to the batch mean.
    assert not torch.equal(stem.bn.running_mean, running_mean)
    assert (stem.bn.running_mean - running_mean).abs().max() < 0.05


# --- weights -------------------------------------------------------------------------------------


def test_port_layout_loads_strictly() -> None:
    state = _port_state_dict()
    model = build_model("i3d", 400)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert own == {k: tuple(v.shape) for k, v in state.items()}

    report = load_weights(model, state, strict=True)
    assert report.ok and len(report.loaded) == len(state)
    loaded = model.state_dict()
    for key, tensor in state.items():
        assert torch.equal(loaded[key], tensor), key
    with torch.no_grad():
        out = model.eval()(torch.randn(2, 3, 8, 64, 64))
    assert out.shape == (2, 400) and torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])


def test_port_layout_with_other_head_is_refused_by_name() -> None:
    with pytest.raises(WeightsError, match=r"logits\.conv3d\.weight"):
        load_weights(build_model("i3d", 17), _port_state_dict(), strict=True)


@pytest.mark.parametrize(("file_classes", "num_classes"), [(400, 17), (157, 17), (400, 400)])
def test_use_pretrained_from_local_file(tmp_path: Path, file_classes: int, num_classes: int) -> None:
    state = _port_state_dict(file_classes)
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(state, path)  # a plain state dict, like pytorch-i3d's files

    model = build_model("i3d", num_classes, use_pretrained=True, pretrained_path=str(path)).eval()
    assert isinstance(model, I3D) and model.num_classes == num_classes
    loaded = model.state_dict()
    for key, tensor in state.items():
        if not key.startswith("logits."):
            assert torch.equal(loaded[key], tensor), key
    head = model.logits.conv3d.weight
    assert head.shape == (num_classes, 1024, 1, 1, 1)
    assert torch.equal(head, state["logits.conv3d.weight"]) == (file_classes == num_classes)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 64, 64)).shape == (1, num_classes)


def test_use_pretrained_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "rgb_imagenet.pt"
    with pytest.raises(WeightsError, match="rgb_imagenet.pt"):
        build_model("i3d", 17, use_pretrained=True, pretrained_path=str(missing))
    with pytest.raises(ConfigError, match="pretrained_path"):
        build_model("i3d", 17, use_pretrained=True)


def test_use_pretrained_rejects_a_non_i3d_file(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(3, 4)}, path)
    with pytest.raises(WeightsError, match=r"other\.pt.*logits\.conv3d\.weight"):
        build_model("i3d", 17, use_pretrained=True, pretrained_path=path)


def test_reset_classifier_keeps_backbone() -> None:
    model = build_model("i3d", 17).eval()
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        features = model.forward_features(x)
        model.reset_classifier(5)
        assert model(x).shape == (1, 5)
        torch.testing.assert_close(model.forward_features(x), features)
    assert model.num_classes == 5 and model.config.num_classes == 5
    assert model.logits.conv3d.weight.requires_grad
    assert "logits.conv3d.bias" in dict(model.named_parameters())
    with pytest.raises(ConfigError):
        model.reset_classifier(0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_forward_and_reset_classifier() -> None:
    model = build_model("i3d", 17).cuda().eval()
    model.reset_classifier(3)
    assert model.logits.conv3d.weight.is_cuda
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 64, 64, device="cuda")).shape == (1, 3)


# --- full size -------------------------------------------------------------------------------------


@pytest.mark.heavy
def test_full_size_forward_and_card() -> None:
    model = build_model("i3d", 17).eval()
    with torch.no_grad():
        x = torch.randn(1, 3, 16, 224, 224)
        assert model.feature_map(x).shape == (1, 1024, 2, 7, 7)
        assert model(x).shape == (1, 17)
    card = model_card("i3d", 17)
    assert card.params == PORT_PARAMS_400 + (17 - 400) * HEAD_PARAMS_PER_CLASS
    assert card.flops > 0 and card.cam_layers[-1] == "Mixed_5c"
