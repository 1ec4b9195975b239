"""Training loggers: CSV (plain file, readable anywhere) and TensorBoard under ``OUT/logs``.

Why a CSV subclass: Lightning's CSVLogger deletes an existing ``metrics.csv`` when a logger is
created over it, so ``--resume`` into the same directory would erase the interrupted run's history.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class _AppendingWriter(ExperimentWriter):
    """Keeps an existing metrics.csv (rows and columns) and appends to it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    """CSVLogger whose ``metrics.csv`` survives a resumed run (new rows are appended)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def training_loggers(out: Path, resume: bool) -> list[Logger]:
    """CSV + TensorBoard in ``out/logs``; when resuming, the CSV history is continued, not replaced."""
    csv_logger = ResumableCSVLogger if resume else CSVLogger
    return [csv_logger(out, name="logs", version=""), TensorBoardLogger(out, name="logs", version="")]
