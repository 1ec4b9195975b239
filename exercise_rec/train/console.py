"""What a training run prints: our progress and results, Lightning's chatter only when asked for.

Why: Lightning attaches its own console handler to the ``lightning`` loggers, so under an
application's logging set-up every line came twice (``INFO: ...`` and ``INFO lightning...``), and
its INFO lines (seed, GPU/TPU availability, a cloud-logger advert) reached every run. Routed
through the application's handlers instead, they print once and only at the level it chose (the
CLI: from WARNING, INFO with ``-v``). A bar left open by a failed run was drawn again at exit,
after the traceback (or after pytest's summary).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar

_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


def route_lightning_logs() -> None:
    """Drop Lightning's own console handlers and levels: its records go to the application's handlers."""
    for name in _LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def lightning_verbose() -> bool:
    """Whether the application shows Lightning's INFO messages (the CLI's ``-v``): then its model summary too."""
    return logging.getLogger("lightning.pytorch").isEnabledFor(logging.INFO)


@contextmanager
def known_warnings_silenced(resuming: bool) -> Iterator[None]:
    """Silence Lightning warnings a user can do nothing about.

    Lightning 2.6 builds ``torch.utils._pytree.LeafSpec`` objects, which torch (2.14 here) deprecates
    with a FutureWarning on every run; a batch skipped on purpose (``skip_nonfinite``) returns
    ``None`` from ``training_step``, which Lightning questions; a resumed run continues in the folder
    whose ``lightning/`` Lightning then finds "not empty".
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", message=r"`training_step` returned `None`")
        if resuming:
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        yield


class ProgressBar(TQDMProgressBar):
    """Lightning's tqdm bars, also closed when the run fails (an open bar is redrawn at interpreter exit)."""

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        for name in ("_train_progress_bar", "_val_progress_bar", "_test_progress_bar"):
            bar = getattr(self, name, None)
            if bar is not None:
                bar.close()
