"""Training loggers: CSV (plain file, readable anywhere) and TensorBoard under ``OUT/logs``.

Why our own CSV writer: Lightning's deletes an existing ``metrics.csv`` when a logger is created
over it, so ``--resume`` into the same directory would erase the interrupted run's history; and it
rewrites the file in place when a new column appears, so a kill at that moment lost the history.
On resume, rows from the resume checkpoint's step on are dropped: a run killed mid-epoch logged
steps the resumed run repeats, and each step should appear once.
"""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from exercise_rec.io import atomic_path

Row = dict[str, str]


class _RunWriter(ExperimentWriter):
    """Starts a new ``metrics.csv``, or with ``resume_step`` keeps the rows logged before that step."""

    def __init__(self, log_dir: str, resume_step: int | None) -> None:
        self.resume_step = resume_step
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        if self.resume_step is None:
            path.unlink()  # a new run into the same folder starts a new history
            return
        self.metrics_keys, rows = self._read()
        self._write([row for row in rows if _logged_before(row, self.resume_step)], self.metrics_keys)

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        self._write(self._read()[1], fieldnames)

    def _read(self) -> tuple[list[str], list[Row]]:
        with open(self.metrics_file_path, newline="") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)

    def _write(self, rows: list[Row], fieldnames: list[str]) -> None:
        with atomic_path(self.metrics_file_path) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)


def _logged_before(row: Row, step: int) -> bool:
    try:
        return int(row["step"]) < step
    except (TypeError, ValueError):  # a last row cut short by a kill mid-append
        return False


class RunCSVLogger(CSVLogger):
    """CSVLogger over :class:`_RunWriter`: ``resume_step`` None starts afresh, else continues the history."""

    def __init__(self, out: Path, resume_step: int | None) -> None:
        super().__init__(out, name="logs", version="")
        self.resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _RunWriter(self.log_dir, self.resume_step)
        return self._experiment


def training_loggers(out: Path, resume_step: int | None) -> list[Logger]:
    """CSV + TensorBoard in ``out/logs``; when resuming at ``resume_step``, the CSV history is continued."""
    return [RunCSVLogger(out, resume_step), TensorBoardLogger(out, name="logs", version="")]
