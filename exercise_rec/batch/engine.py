"""A batch run on Lightning's predict loop: one process, or N per machine on M machines.

Why Lightning: the trainer already runs on it, so ``--devices`` / ``--num-nodes``, torchrun and SLURM
work the same way for both commands, and no process pool of our own is needed. Each process takes
a disjoint shard of the sorted video list (every ``world``-th video from its rank), decodes it with
its own DataLoader workers and appends its records to its own part file; after a barrier, process 0
folds the parts into ``--out`` (every video once) and deletes them. A one-process run appends to
``--out`` directly. Either way a re-run skips the videos the output (and any part left by a killed
run) already records for the same checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from tqdm import tqdm

from exercise_rec.batch.classify import predictions, timeline_json
from exercise_rec.batch.loader import Decoded, DecodeSpec, file_sha256, make_loader
from exercise_rec.batch.records import Record, RecordFile, merge, part_path, recorded
from exercise_rec.batch.sources import VideoSource
from exercise_rec.inference import Predictor
from exercise_rec.train.console import known_warnings_silenced, route_lightning_logs

log = logging.getLogger(__name__)

ALL_CLASSIFIED, SOME_FAILED, NONE_CLASSIFIED = 0, 3, 4  # exit codes (docs/cli.md)


@dataclass(frozen=True)
class BatchJob:
    """One batch run: what to classify, with which predictor, where the records go (None: stdout)."""

    sources: list[VideoSource]
    make_predictor: Callable[[torch.device | None], Predictor]
    checkpoint: Path
    out: Path | None = None
    top_k: int = 5
    timeline_s: float | None = None
    workers: int = 0
    batch_size: int = 4
    devices: int = 1
    num_nodes: int = 1
    json_lines: bool = True

    @property
    def distributed(self) -> bool:
        return self.devices * self.num_nodes > 1


class _Sink:
    """Where one process's records go: its file (appended, durable per record) or stdout."""

    def __init__(self, appender: Any | None, as_json: bool) -> None:
        self.appender, self.as_json = appender, as_json

    def write(self, record: Record) -> None:
        if self.appender is not None:
            self.appender.write(record)
        else:
            print(json.dumps(record) if self.as_json else _text_line(record), flush=True)


def _text_line(record: Record) -> str:
    if record.get("error"):
        return f"{record['video']}: error: {record['error']}"
    top = record["predictions"][0]
    return f"{record['video']}: {record['verdict']}: {top['label']} {top['prob']:.1%}   [{record['latency_ms']:.0f} ms]"


class BatchModule(pl.LightningModule):
    """The predict loop's module: decodes this process's shard, classifies batches, writes records."""

    def __init__(self, job: BatchJob, checkpoint_sha256: str, predictor: Predictor, sink: _Sink):
        super().__init__()
        self.job, self.checkpoint_sha256 = job, checkpoint_sha256
        self.predictor, self.sink = predictor, sink
        self.bar: tqdm | None = None
        self.outcome: Counter[str] = Counter()

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device
        if self.job.distributed and device.type != "cpu" and self.predictor.device != device:
            self.predictor = self.job.make_predictor(device)  # one GPU per process

    def shard(self) -> list[VideoSource]:
        return self.job.sources[self.global_rank :: self.trainer.world_size]

    def predict_dataloader(self) -> Any:
        done = recorded(self.job.out, self.checkpoint_sha256) if self.job.out else {}
        spec = DecodeSpec.of(self.predictor, hashing=True, recorded=done, keep_files=self.job.timeline_s is not None)
        return make_loader(self.shard(), spec, self.job.workers, self.job.batch_size)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch  # clips are transformed on the CPU, as Predictor.predict does; it moves the inputs

    def on_predict_start(self) -> None:
        self.bar = tqdm(total=len(self.shard()), desc="classify", unit="video", disable=self.global_rank != 0,
                        file=sys.stderr)  # fmt: skip

    def predict_step(self, batch: list[Decoded], batch_idx: int) -> int:
        """Classify and record one batch; returns how many videos it held (nothing is collected)."""
        assert self.bar is not None
        fresh = [item for item in batch if item.recorded is None and item.error is None]
        done = predictions(self.predictor, fresh, self.job.top_k) if fresh else []
        results = {id(item): p.to_json() for item, p in zip(fresh, done)}
        for item in batch:
            try:
                if item.recorded is not None:
                    self.outcome["ok" if item.recorded else "failed"] += 1
                    self.outcome["resumed"] += 1
                    continue
                record = results.get(id(item)) or {"video": item.source.name, "error": item.error}
                if "error" not in record and self.job.timeline_s:
                    record["timeline"] = self._timeline(item)
                record.update(sha256=item.sha256, checkpoint_sha256=self.checkpoint_sha256)
                self.sink.write(record)
                self.outcome["failed" if "error" in record else "ok"] += 1
            finally:
                item.release()
                self.bar.update()
        return len(batch)

    def _timeline(self, item: Decoded) -> list[dict[str, Any]]:
        assert item.local is not None and self.job.timeline_s is not None
        return timeline_json(self.predictor.predict_windows(item.local, self.job.timeline_s))

    def on_predict_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(job: BatchJob, predictor: Predictor) -> int:
    """Classify every source of ``job``; returns the exit code (docs/cli.md)."""
    checkpoint_sha256 = file_sha256(job.checkpoint)
    trainer = _trainer(job, predictor)
    with _output(job, trainer) as sink, known_warnings_silenced(resuming=False):
        module = BatchModule(job, checkpoint_sha256, predictor, sink)
        trainer.predict(module, return_predictions=False)
    outcome = _gather(trainer, module.outcome)
    if job.out is not None:
        trainer.strategy.barrier("parts written")
        if trainer.is_global_zero:
            merge(job.out)
    if trainer.is_global_zero:
        resumed = f" ({outcome['resumed']} recorded by an earlier run)" if outcome["resumed"] else ""
        where = f"; records in {job.out}" if job.out else ""
        print(f"{outcome['ok']} classified, {outcome['failed']} failed{resumed}{where}", file=sys.stderr)
    if outcome["failed"] == 0:
        return ALL_CLASSIFIED
    return SOME_FAILED if outcome["ok"] else NONE_CLASSIFIED


@contextlib.contextmanager
def _output(job: BatchJob, trainer: pl.Trainer) -> Iterator[_Sink]:
    if job.out is None:
        yield _Sink(None, job.json_lines)
        return
    target = part_path(job.out, trainer.global_rank) if job.distributed else job.out
    with RecordFile(target).appender() as appender:
        yield _Sink(appender, True)


def _gather(trainer: pl.Trainer, outcome: Counter[str]) -> Counter[str]:
    """Every process's counts, summed (the exit code is the whole run's)."""
    if trainer.world_size == 1:
        return outcome
    parts: list[Counter[str] | None] = [None] * trainer.world_size
    torch.distributed.all_gather_object(parts, outcome)
    return sum((p for p in parts if p), Counter())


def _trainer(job: BatchJob, predictor: Predictor) -> pl.Trainer:
    """Lightning's loop; several processes: DDP (gloo on CPU, NCCL on GPUs), one device each."""
    route_lightning_logs()
    gpu = job.distributed and predictor.backend == "torch" and torch.cuda.is_available() and predictor.device.type != "cpu"
    return pl.Trainer(
        accelerator="gpu" if gpu else "cpu", devices=job.devices, num_nodes=job.num_nodes,
        strategy="ddp" if job.distributed else "auto", use_distributed_sampler=False, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
