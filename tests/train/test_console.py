"""What a run prints: Lightning's log records through the application's handlers, known warnings silenced."""

from __future__ import annotations

import logging
import warnings

import lightning.pytorch  # noqa: F401  (attaches Lightning's own console handlers, as any run does)
import pytest
from torch.utils._pytree import LeafSpec

from exercise_rec.train.console import known_warnings_silenced, route_lightning_logs

LIGHTNING = ("lightning", "lightning.pytorch", "lightning.fabric")


def test_lightning_records_reach_the_application_handlers_once_at_its_level(caplog: pytest.LogCaptureFixture) -> None:
    """They were printed twice under a configured root logger (``INFO: ...`` and ``INFO lightning...``),
    and at INFO whatever level the application chose."""
    route_lightning_logs()
    assert not [h for name in LIGHTNING for h in logging.getLogger(name).handlers if type(h) is logging.StreamHandler]
    source = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with caplog.at_level(logging.WARNING):
        source.info("GPU available: False")  # the CLI's default level hides it
    with caplog.at_level(logging.INFO):
        source.info("Seed set to 0")  # -v shows it
    assert [record.getMessage() for record in caplog.records] == ["Seed set to 0"]


def test_lightning_internal_deprecations_are_silenced() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with known_warnings_silenced(resuming=False):
            LeafSpec()  # what Lightning 2.6 builds on every run
            warnings.warn("Checkpoint directory x exists and is not empty.", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["Checkpoint directory x exists and is not empty."]
