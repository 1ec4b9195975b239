"""The metric set shared by the trainer and ``evaluate``: each metric keeps its own state."""

from __future__ import annotations

import pytest
import torch

from exercise_rec.train.module import classification_metrics


def test_top5_is_not_merged_into_top1_by_one_sample_updates() -> None:
    """evaluate feeds one video at a time; a first update that is a top-1 hit must not tie top-5 to top-1."""
    metrics = classification_metrics(7)
    hit = torch.tensor([[9.0, 1, 0, 0, 0, 0, 0]])  # label 0 ranked first
    second = torch.tensor([[1.0, 9, 0, 0, 0, 0, 0]])  # label 0 ranked second: a top-5 hit only
    metrics.update(hit, torch.tensor([0]))
    metrics.update(second, torch.tensor([0]))
    values = metrics.compute()
    assert values["top1"].item() == pytest.approx(0.5)
    assert values["top5"].item() == pytest.approx(1.0)
    assert values["confusion"].tolist()[0][:2] == [1, 1]


def test_top5_only_above_five_classes() -> None:
    assert "top5" not in classification_metrics(5)
    assert "top5" in classification_metrics(6)
