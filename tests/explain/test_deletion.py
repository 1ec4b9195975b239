"""Deletion / insertion curves on models built so the faithful ranking is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from exercise_rec.errors import ExerciseRecError
from exercise_rec.explain import CamError, model_lock
from exercise_rec.explain.deletion import Curves, DeletionConfig, DeletionScorer

SHAPE = (3, 4, 8, 8)  # [C, T, H, W]: 256 voxels


class RegionNet(nn.Module):
    """Class 1's logit rises with the mean of channel 0 inside ``region`` only; class 0's is 0.

    So the voxels that matter are exactly ``region``: a CAM on it is the faithful one."""

    def __init__(self, region: torch.Tensor, gain: float = 12.0, offset: float = 0.6) -> None:
        super().__init__()
        self.register_buffer("region", region.float())
        self.gain, self.offset = gain, offset
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert model_lock(self).locked(), "a forward pass outside the model's lock"
        self.seen += list(x.detach().clone())
        inside = (x[:, 0] * self.region).sum(dim=(1, 2, 3)) / self.region.sum()
        score = self.gain * (inside - self.offset)
        return torch.stack([torch.zeros_like(score), score], dim=1)


@pytest.fixture
def region() -> torch.Tensor:
    mask = torch.zeros(SHAPE[1:], dtype=torch.bool)
    mask[:, 1:5, 2:6] = True  # a 4 x 4 square in every frame: a quarter of the voxels
    return mask


@pytest.fixture
def clip(region: torch.Tensor) -> torch.Tensor:
    x = torch.zeros(SHAPE)
    x[:, region] = 1.0
    return x


@pytest.mark.parametrize("config", [DeletionConfig(baseline="mean"), DeletionConfig(blur_sigma=0.5)])
def test_a_cam_on_the_voxels_that_matter_beats_random_and_inverted(region, clip, config):
    model = RegionNet(region).eval()
    scorer = DeletionScorer(model, clip, 1, config)
    assert scorer.clip_prob > 0.9 and scorer.baseline_prob < scorer.clip_prob - 0.3
    right = scorer.curves(region.float().numpy())
    inverted = scorer.curves(1.0 - region.float().numpy())
    chance = scorer.random()
    assert right.deletion_auc < chance.deletion_auc < inverted.deletion_auc
    assert right.insertion_auc > chance.insertion_auc > inverted.insertion_auc
    # Deleting the top quarter (the whole region) already reaches the baseline's probability.
    quarter = list(right.fractions).index(0.25)
    assert right.deletion[quarter] == pytest.approx(scorer.baseline_prob, abs=1e-6)
    assert right.insertion[quarter] == pytest.approx(scorer.clip_prob, abs=1e-6)


def test_curves_start_at_the_clips_probability_and_sample_the_stated_fractions(region):
    clip = torch.randn(SHAPE)  # every voxel differs from the baseline, so changed voxels can be counted
    model = RegionNet(region).eval()
    scorer = DeletionScorer(model, clip, 1, DeletionConfig(steps=8, baseline="mean", batch=3), temperature=2.0)
    with model_lock(model):
        expected = torch.softmax(model(clip[None]) / 2.0, dim=1)[0, 1].item()  # calibrated: logits / temperature
    assert scorer.clip_prob == pytest.approx(expected, rel=1e-5)
    model.seen.clear()
    cam = np.random.default_rng(1).random(SHAPE[1:])
    curves = scorer.curves(cam)
    assert isinstance(curves, Curves)
    np.testing.assert_allclose(curves.fractions, np.linspace(0, 1, 9))
    assert curves.deletion[0] == curves.insertion[-1] == scorer.clip_prob
    assert curves.deletion[-1] == curves.insertion[0] == scorer.baseline_prob
    # The 7 inner points of each curve were run (the ends are shared), in batches of at most 3.
    assert len(model.seen) == 14
    counts = [round(f * 256) for f in curves.fractions[1:-1]]
    deleted = [(seen != clip).any(dim=0) for seen in model.seen[:7]]
    inserted = [(seen == clip).all(dim=0) for seen in model.seen[7:]]
    assert [int(m.sum()) for m in deleted] == counts == [int(m.sum()) for m in inserted]
    assert all((a <= b).all() for a, b in zip(deleted, deleted[1:]))  # each step removes more of the same ranking
    top = torch.from_numpy(cam >= np.sort(cam.ravel())[-counts[0]])
    assert torch.equal(deleted[0], top)  # the most important voxels go first
    assert curves.deletion_auc == pytest.approx(np.trapezoid(curves.deletion, curves.fractions))


def test_ties_and_the_random_reference_are_seeded(region, clip):
    model = RegionNet(region).eval()
    flat = np.zeros(SHAPE[1:])  # every voxel tied: the order is the seed's
    first = DeletionScorer(model, clip, 1, DeletionConfig(seed=3))
    again = DeletionScorer(model, clip, 1, DeletionConfig(seed=3))
    other = DeletionScorer(model, clip, 1, DeletionConfig(seed=4))
    assert np.array_equal(first.curves(flat).deletion, again.curves(flat).deletion)
    assert np.array_equal(first.random().insertion, again.random().insertion)
    assert not np.array_equal(first.random().deletion, other.random().deletion)


def test_the_blur_baseline_keeps_the_clips_mean_and_smooths_it(clip, region):
    scorer = DeletionScorer(RegionNet(region).eval(), clip, 1)
    assert scorer.baseline.shape == clip.shape
    assert scorer.baseline.mean().item() == pytest.approx(clip.mean().item(), abs=0.02)
    assert scorer.baseline.diff(dim=-1).abs().max() < clip.diff(dim=-1).abs().max()


@pytest.mark.parametrize(
    "settings,match",
    [
        ({"steps": 1}, "steps must be an integer from 2"),
        ({"steps": True}, "steps must be"),
        ({"baseline": "zero"}, "baseline must be 'blur' or 'mean'"),
        ({"blur_sigma": 0}, "blur_sigma must be in"),
        ({"batch": 0}, "batch must be a positive integer"),
    ],
)
def test_bad_settings_are_typed_errors(settings, match):
    with pytest.raises(CamError, match=match) as raised:
        DeletionConfig(**settings)
    assert isinstance(raised.value, ExerciseRecError) and isinstance(raised.value, ValueError)


def test_bad_inputs_cams_and_targets_are_typed_errors(region, clip):
    model = RegionNet(region).eval()
    with pytest.raises(CamError, match=r"one float model input \[C, T, H, W\]"):
        DeletionScorer(model, clip[0], 1)
    with pytest.raises(CamError, match="target class 2 does not exist: the model has 2 classes"):
        DeletionScorer(model, clip, 2)
    with pytest.raises(CamError, match="class index >= 0"):
        DeletionScorer(model, clip, -1)
    with pytest.raises(CamError, match="temperature must be positive"):
        DeletionScorer(model, clip, 1, temperature=0)
    with pytest.raises(CamError, match="training mode"):
        DeletionScorer(RegionNet(region).train(), clip, 1)
    scorer = DeletionScorer(model, clip, 1)
    with pytest.raises(CamError, match=r"does not match the input's voxels \(4, 8, 8\)"):
        scorer.curves(np.zeros((4, 4, 4)))
    with pytest.raises(CamError, match="NaN or infinite"):
        scorer.curves(np.full(SHAPE[1:], np.nan))
