"""pretrained_resnet: torchvision's video ResNets, Kinetics weights from a local file, never a download."""

from __future__ import annotations

import socket
import urllib.request

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import WeightsEnum, get_model_builder

from exercise_rec.errors import ConfigError
from exercise_rec.models import WeightsError, build_model, get_entry, load_weights
from exercise_rec.models.torchvision_video import (
    ARCHS,
    PretrainedWeightsNotFoundError,
    hub_cache_path,
)

# torchvision's published KINETICS400_V1 file names
HUB_FILES = {
    "r3d_18": "r3d_18-b3b3357e.pth",
    "mc3_18": "mc3_18-a90a0ba3.pth",
    "r2plus1d_18": "r2plus1d_18-91a641e6.pth",
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every way torch/torchvision could fetch weights fails loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(WeightsEnum, "get_state_dict", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub directory for this test."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def _kinetics_file(arch: str, path) -> torch.nn.Module:
    """A torchvision-layout Kinetics checkpoint (torchvision's own 400-class model) saved at ``path``."""
    reference = get_model_builder(arch)(weights=None).eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), path)
    return reference


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_per_arch(arch):
    model = build_model("pretrained_resnet", 17, arch=arch).eval()
    x = torch.randn(2, 3, 4, 32, 48)
    with torch.no_grad():
        assert model(x).shape == (2, 17)
        assert model.forward_features(x).shape == (2, 512)
    assert model.fc.out_features == 17
    assert hub_cache_path(arch).name == HUB_FILES[arch]
    for layer in get_entry("pretrained_resnet").cam_layers:
        model.get_submodule(layer)


def test_default_arch_is_r3d_18_and_matches_torchvision_parameter_count():
    model = build_model("pretrained_resnet", 400)
    reference = get_model_builder("r3d_18")(weights=None)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters()) == 33_371_472
    assert list(model.state_dict()) == list(reference.state_dict())  # torchvision's key layout


def test_local_kinetics_file_loads_into_17_class_model(tmp_path):
    path = tmp_path / "mc3.pth"
    reference = _kinetics_file("mc3_18", path)
    model = build_model("pretrained_resnet", 17, arch="mc3_18", pretrained_path=str(path)).eval()
    ours, theirs = model.state_dict(), reference.state_dict()
    assert model.fc.out_features == 17
    for key in theirs:
        if not key.startswith("fc."):
            assert torch.equal(ours[key], theirs[key]), key
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        pooled = torch.flatten(reference.avgpool(reference.layer4(reference.layer3(reference.layer2(
            reference.layer1(reference.stem(x)))))), 1)
        torch.testing.assert_close(model.forward_features(x), pooled)


def test_400_classes_keep_the_kinetics_classifier(tmp_path):
    path = tmp_path / "r2plus1d.pth"
    reference = _kinetics_file("r2plus1d_18", path)
    model = build_model("pretrained_resnet", 400, arch="r2plus1d_18", pretrained_path=path).eval()
    x = torch.randn(1, 3, 2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


def test_hub_cache_is_used_when_no_path_is_given(hub_dir):
    reference = _kinetics_file("mc3_18", hub_dir / "checkpoints" / HUB_FILES["mc3_18"])
    model = build_model("pretrained_resnet", 5, arch="mc3_18", pretrained=True)
    assert torch.equal(model.stem[0].weight, reference.stem[0].weight)


def test_absent_weights_raise_naming_where_it_looked(hub_dir, tmp_path):
    expected = hub_dir / "checkpoints" / HUB_FILES["r3d_18"]
    with pytest.raises(PretrainedWeightsNotFoundError) as info:
        build_model("pretrained_resnet", 17, pretrained=True)
    msg = str(info.value)
    assert str(expected) in msg and "torch hub cache" in msg and "pretrained_path" in msg
    assert isinstance(info.value, ValueError) and not expected.exists()

    missing = tmp_path / "nowhere" / "weights.pth"
    with pytest.raises(PretrainedWeightsNotFoundError, match=f"pretrained_path at {missing}"):
        build_model("pretrained_resnet", 17, pretrained_path=str(missing))


def test_wrong_arch_file_is_refused_by_name(tmp_path):
    path = tmp_path / "mc3.pth"
    _kinetics_file("mc3_18", path)
    with pytest.raises(WeightsError, match="shape conflicts"):
        build_model("pretrained_resnet", 17, arch="r3d_18", pretrained_path=path)


def test_unknown_arch_lists_valid_ones():
    with pytest.raises(ConfigError, match="r3d_18, mc3_18, r2plus1d_18"):
        build_model("pretrained_resnet", 17, arch="r3d_50")


def test_own_checkpoint_round_trip_and_gradient_reaches_stem():
    model = build_model("pretrained_resnet", 3, arch="mc3_18").train()
    loss = F.cross_entropy(model(torch.randn(2, 3, 2, 32, 32)), torch.tensor([0, 2]))
    loss.backward()
    assert model.stem[0].weight.grad.abs().sum() > 0
    copy = build_model("pretrained_resnet", 3, arch="mc3_18")
    assert load_weights(copy, {"state_dict": model.state_dict()}).ok
    assert torch.equal(copy.fc.weight, model.fc.weight)
