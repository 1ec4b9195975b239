"""compute_cam: shapes for every model, temporal resolution, planted evidence, hand-computed maps, no side effects."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from exercise_rec.explain import (
    METHODS,
    CamError,
    cam_layers,
    compute_cam,
    default_layer,
)
from exercise_rec.models import build_model, get_entry, list_models

NUM_CLASSES = 5


def _small_input(name: str) -> tuple[int, ...]:
    """The registry's default input with 8 frames at 64x48 (images: 64x48; multi-view keeps its views)."""
    default = get_entry(name).default_input
    if len(default) == 3:
        return (default[0], 64, 48)
    return (*default[:-3], 8, 64, 48)


@pytest.mark.parametrize("name", list_models())
def test_every_model_gives_a_clip_normalised_map_at_its_default_layer(name):
    model = build_model(name, NUM_CLASSES)
    clip = torch.randn(_small_input(name))
    cam = compute_cam(model, clip)

    video = len(get_entry(name).default_input) > 3
    assert isinstance(cam, np.ndarray) and cam.dtype == np.float32
    assert cam.shape == ((8, 64, 48) if video else (1, 64, 48))
    assert cam.min() >= 0 and cam.max() <= 1
    assert cam.info.layer == default_layer(model)
    assert tuple(cam_layers(model)) == get_entry(name).cam_layers
    peaks = {cam.info.target: float(cam.max())}
    if peaks[cam.info.target] == 0:
        # At random init the predicted class can have no positive evidence at the layer (i3d here:
        # the logits conv's bias carries the prediction). The map is then exactly zero, and another
        # class's map must still be scaled to peak at 1.
        peaks |= {k: float(compute_cam(model, clip, target=k).max()) for k in range(NUM_CLASSES)}
    assert set(peaks.values()) <= {0.0, 1.0} and 1.0 in peaks.values(), peaks


@pytest.fixture(scope="module")
def mobilenets() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    modes = ("standard", "high_temporal")
    return {mode: build_model("mobilenet_v2_3d", 17, width_mult=0.25, mode=mode) for mode in modes}


def test_temporal_resolution_is_reported_and_shown_per_mode(mobilenets):
    clip = torch.randn(3, 16, 64, 64)
    standard = compute_cam(mobilenets["standard"], clip, "features.18")
    assert standard.info.temporal_resolution == 1 and standard.info.layer_shape[0] == 1
    assert standard.shape == (16, 64, 64) and standard.max() == 1
    assert (standard == standard[0]).all()  # one map stretched over every frame

    high = compute_cam(mobilenets["high_temporal"], clip, "features.18")
    assert high.info.temporal_resolution == 16 and high.info.layer_shape[0] == 16
    assert high.shape == (16, 64, 64)
    assert max(np.abs(high[t] - high[0]).max() for t in range(1, 16)) > 0.05

    middle = compute_cam(mobilenets["standard"], clip, "features.3")
    assert middle.info.layer_shape == (8, 16, 16) and middle.info.temporal_resolution == 8


# -- A model whose evidence for class 1 lives in one known spatio-temporal box ---------------------

T, H, W = 16, 16, 24
BOX = (slice(4, 8), slice(2, 6), slice(14, 20))  # frames 4..7, rows 2..5, cols 14..19: off-centre, non-square
DISTRACTOR = (slice(10, 14), slice(10, 14), slice(2, 8))  # same size: other frames, other corner


class Planted(nn.Module):
    """Class 1's logit pools the feature map only inside ``BOX`` (a fixed 0/1 window)."""

    cam_layers = ("features",)

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv3d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 2)
        with torch.no_grad():
            self.features.weight.uniform_(0.0, 0.1)  # non-negative: brighter input, larger activation
            self.features.bias.fill_(0.05)
            self.fc.weight.uniform_(0.5, 1.0)
        window = torch.zeros(1, 1, T, H, W)
        window[(..., *BOX)] = 1
        self.register_buffer("window", window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc((self.features(x) * self.window).mean(dim=(2, 3, 4)))


def _bright(*regions: tuple[slice, ...]) -> torch.Tensor:
    clip = torch.zeros(3, T, H, W)
    for region in regions:
        clip[(slice(None), *region)] = 1.0
    return clip


def _inside(index: tuple[int, ...], region: tuple[slice, ...]) -> list[bool]:
    return [s.start <= i < s.stop for i, s in zip(index, region)]


def test_gradcam_peaks_in_the_bright_box_on_the_right_frames_rows_and_columns():
    cam = compute_cam(Planted(), _bright(BOX), method="gradcam", target=1)
    assert cam.shape == (T, H, W)
    peak = np.unravel_index(cam.argmax(), cam.shape)
    assert _inside(peak, BOX) == [True, True, True], f"peak (t, y, x) = {peak}"


def test_hirescam_puts_no_mass_outside_the_box_the_class_uses():
    clip = _bright(BOX, DISTRACTOR)
    cam = compute_cam(Planted(), clip, method="hirescam", target=1)
    outside = np.ones(cam.shape, bool)
    outside[BOX] = False
    assert cam[outside].sum() <= 1e-6 * cam.sum()
    peak = np.unravel_index(cam.argmax(), cam.shape)
    assert _inside(peak, BOX) == [True, True, True], f"peak (t, y, x) = {peak}"
    # Grad-CAM cannot tell the two boxes apart here (its weights are spatial averages): the contrast.
    gradcam = compute_cam(Planted(), clip, method="gradcam", target=1)
    assert gradcam[DISTRACTOR].max() == pytest.approx(gradcam[BOX].max(), rel=1e-5)


# -- Methods against a hand computation --------------------------------------------------------------


class TwoStage(nn.Module):
    """stem -> block (explained, input resolution) -> ReLU head: gradients vary over positions."""

    def __init__(self, conv: type[nn.Module]) -> None:
        super().__init__()
        pool = nn.AdaptiveAvgPool3d(1) if conv is nn.Conv3d else nn.AdaptiveAvgPool2d(1)
        self.stem = nn.Sequential(conv(3, 4, 3, padding=1), nn.ReLU())
        self.block = conv(4, 5, 3, padding=1)
        self.head = nn.Sequential(nn.ReLU(), pool, nn.Flatten(), nn.Linear(5, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.stem(x)))


@pytest.mark.parametrize(("conv", "shape"), [(nn.Conv3d, (3, 4, 6, 5)), (nn.Conv2d, (3, 6, 5))])
def test_hirescam_and_gradcam_match_the_hand_computation(conv, shape):
    model = TwoStage(conv).eval()
    clip = torch.randn(shape)
    target = 2
    activation = model.block(model.stem(clip[None])).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.head(activation)[0, target], activation)
    a, g = activation[0].detach(), grad[0]
    spatial = tuple(range(1, a.ndim))
    hires = (g * a).sum(0).relu()
    gradcam = (g.mean(dim=spatial, keepdim=True) * a).sum(0).relu()
    assert hires.max() > 0 and gradcam.max() > 0
    assert not torch.allclose(hires / hires.max(), gradcam / gradcam.max(), atol=1e-3)  # the test tells them apart

    for method, expected in (("hirescam", hires), ("gradcam", gradcam)):
        cam = compute_cam(model, clip, "block", method, target)
        expected = (expected / expected.max()).reshape(cam.shape)  # images: [1, H, W]
        np.testing.assert_allclose(cam, expected.numpy(), atol=1e-5, err_msg=method)
        assert cam.info.layer_shape == tuple(a.shape[1:])


@pytest.mark.parametrize("method", list(METHODS))
def test_inplace_relu_after_the_layer_does_not_change_the_map(method):
    """On CPU the recorded activation is the layer's output tensor itself unless it is cloned."""
    inplace = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3),
    )  # fmt: skip
    plain = copy.deepcopy(inplace)
    plain[2] = nn.ReLU(inplace=False)
    clip = torch.randn(3, 4, 8, 8)
    with torch.no_grad():
        assert (plain[:2].eval()(clip[None]) < 0).any()  # the in-place ReLU would overwrite something
    cam = compute_cam(inplace, clip, "1", method, target=0)
    np.testing.assert_array_equal(cam, compute_cam(plain, clip, "1", method, target=0))


# -- No side effects ----------------------------------------------------------------------------------


def _small_net(dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.Dropout(dropout),
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3),
    )  # fmt: skip


def _hooks(model: nn.Module) -> list[tuple[str, str, int]]:
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    modules = model.named_modules()
    return [(name, kind, len(getattr(m, kind))) for name, m in modules for kind in kinds if getattr(m, kind)]


@pytest.mark.parametrize("frozen", [False, True], ids=["trainable", "partly_frozen"])
def test_no_hooks_flags_grads_or_mode_change(frozen):
    model = _small_net().train()
    if frozen:
        model[0].requires_grad_(False)
    model[6].weight.grad = torch.full_like(model[6].weight, 3.0)
    saved_grad = model[6].weight.grad
    flags = [p.requires_grad for p in model.parameters()]
    running_mean = model[1].running_mean.clone()
    user_hook = model[0].register_forward_hook(lambda *args: None)
    before = _hooks(model)

    compute_cam(model, torch.randn(3, 4, 8, 8), "0")

    assert _hooks(model) == before == [("0", "_forward_hooks", 1)]
    assert [p.requires_grad for p in model.parameters()] == flags
    assert model[6].weight.grad is saved_grad and (saved_grad == 3.0).all()
    assert all(p.grad is None for name, p in model.named_parameters() if not name.startswith("6."))
    assert model.training and all(m.training for m in model.modules())
    torch.testing.assert_close(model[1].running_mean, running_mean)  # BatchNorm ran in eval mode
    user_hook.remove()


def test_map_is_computed_in_eval_mode():
    model = _small_net(dropout=0.9).train()
    clip = torch.randn(3, 4, 8, 8)
    first, second = compute_cam(model, clip, "0", target=1), compute_cam(model, clip, "0", target=1)
    np.testing.assert_array_equal(first, second)  # Dropout(0.9) in train mode would differ every call
    np.testing.assert_array_equal(first, compute_cam(model.eval(), clip, "0", target=1))


def test_failed_call_leaves_no_hooks_and_restores_flags():
    model = _small_net().train()
    with pytest.raises(CamError, match="does not exist"):
        compute_cam(model, torch.randn(3, 4, 8, 8), "0", target=7)
    assert _hooks(model) == []
    assert all(p.requires_grad for p in model.parameters()) and model.training


def test_works_inside_no_grad_and_inference_mode():
    model = _small_net().eval()
    clip = torch.randn(3, 4, 8, 8)
    expected = compute_cam(model, clip, "0", "hirescam", target=2)
    with torch.no_grad():
        np.testing.assert_array_equal(compute_cam(model, clip, "0", "hirescam", target=2), expected)
    with torch.inference_mode():
        inference_clip = clip.clone()  # an inference tensor
        cam = compute_cam(model, inference_clip, "0", "hirescam", target=2)
    np.testing.assert_array_equal(cam, expected)


# -- Targets and errors -------------------------------------------------------------------------------

CLASSES = ("squat", "lunge", "plank")


def test_target_by_index_or_name_and_the_default_is_the_prediction():
    model = _small_net().eval()
    clip = torch.randn(3, 4, 8, 8)
    by_index = compute_cam(model, clip, "0", target=1, class_names=CLASSES)
    by_name = compute_cam(model, clip, "0", target="lunge", class_names=CLASSES)
    np.testing.assert_array_equal(by_index, by_name)
    assert by_index.info == by_name.info
    assert (by_name.info.target, by_name.info.target_name) == (1, "lunge")

    with torch.no_grad():
        logits = model(clip[None])[0]
    default = compute_cam(model, clip, "0")
    assert default.info.target == int(logits.argmax()) and default.info.target_name is None
    assert default.info.score == pytest.approx(float(logits.max()), abs=1e-6)
    assert sum(default.info.probs) == pytest.approx(1.0, abs=1e-6) and len(default.info.probs) == 3
    assert default.info.prob == pytest.approx(float(logits.softmax(0).max()), abs=1e-6)
    np.testing.assert_array_equal(default, compute_cam(model, clip, "0", target=default.info.target))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "deadlift", "class_names": CLASSES}, "unknown class 'deadlift'"),
        ({"target": "squat"}, "no class_names"),
        ({"target": -1}, "class index >= 0"),
        ({"target": 3}, "target class 3 does not exist"),
        ({"target": 3, "class_names": CLASSES}, "target class 3 does not exist"),
        ({"method": "scorecam"}, "unknown CAM method 'scorecam'"),
        ({"layer": "features.99"}, r"no layer 'features\.99'; CAM layers: 0, 1"),
        ({"layer": "6"}, "not a feature map"),  # the final Linear
        ({"normalize": "video"}, "normalize must be"),
    ],
)
def test_bad_requests_raise_cam_error(kwargs, message):
    model = _small_net().eval()
    model.cam_layers = ("0", "1")
    with pytest.raises(CamError, match=message) as err:
        compute_cam(model, torch.randn(3, 4, 8, 8), **kwargs)
    assert isinstance(err.value, ValueError)
    assert _hooks(model) == []


class SharedConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 3, 3, padding=1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(self.conv(x)).mean(dim=(2, 3, 4)))


def test_a_layer_that_runs_twice_per_forward_is_refused():
    model = SharedConv()
    with pytest.raises(CamError, match="ran 2 times"):
        compute_cam(model, torch.randn(3, 4, 8, 8), "conv")
    assert _hooks(model) == []


# -- Normalisation ------------------------------------------------------------------------------------


def test_frame_normalisation_scales_each_frame_and_clip_normalisation_keeps_quiet_frames_quiet():
    model = Planted()
    clip = torch.rand(3, T, H, W)
    clip[:, 10:] = 0  # frames 11..15 see no input at all (3-frame kernel): only the conv bias
    per_clip = compute_cam(model, clip, target=1)
    per_frame = compute_cam(model, clip, target=1, normalize="frame")
    assert per_frame.info.normalization == "frame" and per_clip.info.normalization == "clip"

    frame_peaks = per_frame.max(axis=(1, 2))
    np.testing.assert_allclose(frame_peaks, 1.0, rtol=0, atol=1e-6)
    clip_peaks = per_clip.max(axis=(1, 2))
    assert per_clip.max() == 1 and (clip_peaks[11:] < 0.5).all()
    np.testing.assert_allclose(per_frame, per_clip / clip_peaks[:, None, None], rtol=1e-5, atol=1e-6)


def test_every_method_runs_on_a_small_mobilenet(mobilenets):
    clip = torch.randn(3, 8, 32, 32)
    for method in METHODS:
        cam = compute_cam(mobilenets["standard"], clip, "features.6", method)
        assert cam.shape == (8, 32, 32) and cam.info.method == method
        assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1, method
        assert len(cam.info.layer_shape) == 3


def test_mixed_train_and_eval_submodules_keep_their_modes():
    """Fine-tuning with a frozen BatchNorm: the CAM (run in eval mode) must not flip it back to train."""
    model = _small_net().train()
    model[1].eval()
    compute_cam(model, torch.randn(3, 4, 8, 8), "0")
    assert [m.training for m in model] == [True, False, True, True, True, True, True]
    model.eval()
    model[1].train()
    compute_cam(model, torch.randn(3, 4, 8, 8), "0")
    assert [m.training for m in model] == [False, True, False, False, False, False, False]


@pytest.mark.heavy
@pytest.mark.parametrize("name", list_models())
def test_every_model_explains_at_every_listed_layer(name):
    model = build_model(name, NUM_CLASSES)
    clip = torch.randn(_small_input(name))
    video = len(get_entry(name).default_input) > 3
    for layer in cam_layers(model):
        for method in ("gradcam", "hirescam"):
            cam = compute_cam(model, clip, layer, method, target=0)
            assert cam.shape == ((8, 64, 48) if video else (1, 64, 48)), (layer, method)
            assert np.isfinite(cam).all() and cam.min() >= 0 and cam.max() <= 1, (layer, method)
            assert cam.info.layer == layer and 1 <= cam.info.temporal_resolution <= cam.shape[0]
