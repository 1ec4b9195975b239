"""Fixtures of the trainer tests: the tiny model registered per module and its synthetic dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from exercise_rec.data.synthetic import generate_dataset
from exercise_rec.models import register_model, registry
from tests.conftest import TinyNet
from tests.train.common import CLASSES, CLIP_LEN, MODEL, PER_CLASS, SIZE, SYNTH


@pytest.fixture(scope="module")
def tiny_arch() -> Iterator[str]:
    """TinyNet registered for the whole module (the suite's ``tiny_model`` fixture is per test)."""

    @register_model(MODEL, default_input=(3, CLIP_LEN, SIZE, SIZE), cam_layers=("conv",))
    def _build(num_classes: int, width: int = 4) -> torch.nn.Module:
        """Tiny trainer-test model."""
        return TinyNet(num_classes, width)

    yield MODEL
    registry._REGISTRY.pop(MODEL)
    registry._card.cache_clear()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(
        tmp_path_factory.mktemp("synth") / "ds", per_class=PER_CLASS, seed=0, config=SYNTH, classes=CLASSES, workers=1
    )
