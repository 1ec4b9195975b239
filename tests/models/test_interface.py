"""The one interface every registry model shares: features -> head, reset_classifier, its declared
input kind checked by ``check_clip``, ``cam_layers`` from one source, and one family of typed errors."""

from __future__ import annotations

import functools
import re

import pytest
import torch
from torch import Tensor, nn

from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.models import (
    ModelInputError,
    WeightsError,
    build_model,
    check_clip,
    get_entry,
    list_models,
    model_card,
    register_model,
    registry,
)

NUM_CLASSES = 5
# The smallest configuration each builder allows; every other model is built with its defaults.
SMALL_KWARGS: dict[str, dict[str, object]] = {
    "mobilenet_v2_3d": {"width_mult": 0.25},
    "mobilenet_v2_3d_pose": {"width_mult": 0.25},
    "resnet3d": {"width": 4},
    "multiview_resnet3d": {"width": 4},
    "posec3d_slowonly": {"width": 4},
}
# What each input kind means, written out here rather than read from the code under test; a model of
# a kind missing here fails (KeyError) instead of being skipped.
LAYOUTS = {
    "video": "[B, 3, T, H, W]",
    "image": "[B, 3, H, W]",
    "multiview": "[B, 2, 3, T, H, W]",
    "pose": "[B, 17, T, H, W]",
}
SAMPLE_SHAPES = {"video": (3, 2, 16, 16), "image": (3, 16, 16), "multiview": (2, 3, 2, 16, 16), "pose": (17, 2, 16, 16)}
BATCH = 2


def _build(name: str) -> nn.Module:
    """``name`` small, in eval mode (dropout off: outputs comparable)."""
    return build_model(name, NUM_CLASSES, **SMALL_KWARGS.get(name, {})).eval()


_model = functools.cache(_build)  # one shared instance per model for the tests that do not change it


def _input(name: str) -> Tensor:
    """A small batch of the kind the registry entry declares (not of the entry's default_input)."""
    return torch.randn(BATCH, *SAMPLE_SHAPES[get_entry(name).input_kind])


@pytest.mark.parametrize("name", list_models())
def test_declared_input_kind_is_what_forward_accepts(name: str) -> None:
    model, kind = _model(name), get_entry(name).input_kind
    assert model.input_kind == kind
    assert len(get_entry(name).default_input) == len(SAMPLE_SHAPES[kind])
    with torch.no_grad():
        assert model(_input(name)).shape == (BATCH, NUM_CLASSES)


@pytest.mark.parametrize("name", list_models())
def test_forward_is_forward_head_of_forward_features(name: str) -> None:
    model, x = _model(name), _input(name)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.ndim == 2 and features.shape[0] == BATCH
        torch.testing.assert_close(model.forward_head(features), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", list_models())
def test_reset_classifier_keeps_the_backbone_device_and_dtype(name: str) -> None:
    """In float64, so a new head left in the default dtype fails the forward after the reset."""
    model, x = _build(name).double(), _input(name).double()
    with torch.no_grad():
        features = model.forward_features(x)
        model.reset_classifier(7)
        assert model(x).shape == (BATCH, 7)
        torch.testing.assert_close(model.forward_features(x), features, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="num_classes"):
        model.reset_classifier(0)


@pytest.mark.parametrize("name", list_models())
def test_wrong_rank_raises_model_input_error_naming_the_expected_shape(name: str) -> None:
    kind, x = get_entry(name).input_kind, _input(name)
    wrong = x.unsqueeze(2) if kind == "image" else x.select(1, 0)  # a clip for an image, one view for a stack
    with pytest.raises(ModelInputError, match=re.escape(LAYOUTS[kind])) as info:
        _model(name)(wrong)
    assert str(tuple(wrong.shape)) in str(info.value)


@pytest.mark.parametrize("name", list_models())
def test_cam_layers_have_one_source(name: str) -> None:
    """The registry's layers are the ones the built model (at defaults) names, and exist in it."""
    model = _model(name)
    assert tuple(model.cam_layers) == get_entry(name).cam_layers
    assert set(model.cam_layers) <= dict(model.named_modules()).keys()


def test_model_card_reports_the_configured_models_cam_layers() -> None:
    """The flat layout names its stages ``layer1``..``layer4``; the card used to repeat the registry's
    ``body.layerN``, which that model does not have."""
    card = model_card("resnet3d", num_classes=3, width=4, use_separable=False)
    assert card.cam_layers == ("layer1", "layer2", "layer3", "layer4")


def test_two_dimensional_models_declare_image_and_their_video_forms_video() -> None:
    names = list_models()
    image = {name for name in names if get_entry(name).input_kind == "image"}
    video_forms = [name for name in names if name.startswith("mobilenet_v4_") and name.endswith("_video")]
    assert image == {name for name in names if name.startswith("mobilenet_v4_") and not name.endswith("_video")}
    assert video_forms and all(get_entry(name).input_kind == "video" for name in video_forms)
    assert get_entry("multiview_resnet3d").input_kind == "multiview"


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("mobilenet_v2_3d", {"mode": "bogus"}),
        ("i3d", {"dropout_keep_prob": 0.0}),
        ("i3d", {"use_pretrained": True}),
        ("resnet3d", {"depth": 18}),
        ("multiview_resnet3d", {"views": ("a", "a")}),
        ("pretrained_resnet", {"arch": "bogus"}),
        ("mobilenet_v4_custom", {"squeeze_ratio": 0}),
        ("mobilenet_v4_nano_video", {"shift_fraction": 0.9}),
        ("posec3d_slowonly", {"width": 0}),
    ],
)
def test_every_family_raises_the_shared_config_error(name: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_model(name, 3, **kwargs)


def test_build_model_names_the_valid_models_and_arguments_in_a_config_error() -> None:
    with pytest.raises(ConfigError, match="valid models:.*mobilenet_v2_3d"):
        build_model("mobilenet_v9", 3)
    with pytest.raises(ConfigError, match=r"widht.*valid: dropout, mode, width_mult"):
        build_model("mobilenet_v2_3d", 3, widht_mult=0.5)
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("mobilenet_v2_3d", 0)


def test_error_classes_belong_to_the_library_family() -> None:
    for error in (ConfigError, ModelInputError, WeightsError):
        assert issubclass(error, ExerciseRecError) and issubclass(error, ValueError)


def test_check_clip_names_the_layout_of_a_pose_heatmap_volume() -> None:
    volume = torch.zeros(2, 17, 4, 8, 8)
    assert check_clip(volume, "pose", 17) is volume
    with pytest.raises(ModelInputError, match=re.escape("[B, 17, T, H, W] pose heatmap volume")):
        check_clip(volume[:, :3], "pose", 17)
    with pytest.raises(ModelInputError, match="got list"):
        check_clip([volume], "pose", 17)


def test_registration_refuses_an_unknown_kind_or_a_default_input_of_another_rank() -> None:
    def build(num_classes: int) -> nn.Module:
        return nn.Linear(1, num_classes)

    with pytest.raises(ValueError, match="input_kind"):
        register_model("_test_bad_kind", input_kind="audio")(build)
    with pytest.raises(ValueError, match=r"default_input \(3, 16, 112, 112\).*image"):
        register_model("_test_bad_rank", input_kind="image", default_input=(3, 16, 112, 112))(build)
    assert not {"_test_bad_kind", "_test_bad_rank"} & set(registry.list_models())
