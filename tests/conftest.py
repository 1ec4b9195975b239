"""Suite-wide settings: offline Gradio, deterministic torch."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from exercise_rec.models import register_model, registry


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The fast path's export cache in a temporary folder (inherited by CLI subprocesses): the
    suite never writes to the user's ~/.cache, and every run starts cold."""
    os.environ["EXERCISE_REC_CACHE"] = str(tmp_path_factory.mktemp("cache"))


class TinyNet(nn.Module):
    """A few-parameter video model registered for tests that need *a* model, not a real one."""

    cam_layers = ("conv",)

    def __init__(self, num_classes: int, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, width, 3, padding=1)
        self.bn = nn.BatchNorm3d(width)
        self.fc = nn.Linear(width, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x)).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


@pytest.fixture
def tiny_model() -> Iterator[str]:
    """Registers TinyNet as ``_test_tiny`` for one test, then removes it again."""
    name = "_test_tiny"

    @register_model(name, default_input=(3, 4, 8, 8), cam_layers=("conv",))
    def _build(num_classes: int, width: int = 4) -> nn.Module:
        """Tiny test model."""
        return TinyNet(num_classes, width)

    yield name
    registry._REGISTRY.pop(name)
    registry._card.cache_clear()
