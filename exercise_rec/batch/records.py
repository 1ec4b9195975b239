"""The batch output: one record per line (JSON Lines or CSV), crash-safe and resumable.

Why append + fsync per record instead of writing the file at the end: a run over thousands of videos
that is killed (SIGKILL, a lost node, a full disk) keeps every record written so far, and the next
run with the same ``--out`` skips those videos. A kill mid-write leaves at most a torn last line,
which the next writer cuts off before appending. Whole-file rewrites (merging the parts of a
distributed run) go through :func:`exercise_rec.io.atomic_path`.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from exercise_rec.errors import ConfigError
from exercise_rec.io import atomic_path

Record = dict[str, Any]
SUFFIXES = (".jsonl", ".csv")
# CSV columns: the JSON record's fields, ``label``/``prob`` of the top class, nested fields as JSON text.
CSV_FIELDS = ("video", "sha256", "checkpoint_sha256", "model", "mode", "verdict", "reason", "label", "prob",
              "latency_ms", "predictions", "timeline", "error")  # fmt: skip


Key = tuple[str, str, str]  # video as named, its content's SHA-256, the checkpoint's


def _key(record: Record) -> Key | None:
    """What makes two records the same video (same name, same content) for the same checkpoint; None:
    the file was never hashed. Two copies of one file under two names are two videos."""
    if record.get("sha256") and record.get("checkpoint_sha256"):
        return str(record["video"]), str(record["sha256"]), str(record["checkpoint_sha256"])
    return None


def _csv_row(record: Record) -> dict[str, Any]:
    row = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in record.items() if k in CSV_FIELDS}
    predictions = record.get("predictions")
    if isinstance(predictions, list) and predictions:
        row["label"], row["prob"] = predictions[0]["label"], predictions[0]["prob"]
    return row


def _encode(record: Record, is_csv: bool) -> str:
    if not is_csv:
        return json.dumps(record) + "\n"
    text = io.StringIO()
    csv.DictWriter(text, CSV_FIELDS, lineterminator="\n").writerow(_csv_row(record))
    return text.getvalue()


def _header() -> str:
    return ",".join(CSV_FIELDS) + "\n"


class RecordFile:
    """A ``.jsonl`` or ``.csv`` record file (the suffix decides)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.is_csv = self.path.suffix.lower() == ".csv"

    def read(self) -> list[Record]:
        """Every complete record (a torn last line, from a writer killed mid-line, is left out)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        complete = text[: text.rfind("\n") + 1]
        if self.is_csv:
            return [dict(row) for row in csv.DictReader(io.StringIO(complete))]
        records = []
        for number, line in enumerate(complete.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    raise ConfigError(f"{self.path}: line {number} is not a JSON record") from None
        return records

    @contextlib.contextmanager
    def appender(self) -> Iterator[Appender]:
        """Append records, each flushed and fsynced; the file is locked against a second writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"{self.path}: another run is writing this file") from None
            appender = Appender(handle, self.is_csv)
            if _cut_torn_line(handle) == 0 and self.is_csv:
                appender.put(_header())
            yield appender

    def rewrite(self, records: Iterable[Record]) -> None:
        """Replace the file with ``records``, atomically."""
        with atomic_path(self.path) as tmp, open(tmp, "w") as handle:
            if self.is_csv:
                handle.write(_header())
            for record in records:
                handle.write(_encode(record, self.is_csv))


class Appender:
    """Writes one record per call, durable when the call returns."""

    def __init__(self, handle: BinaryIO, is_csv: bool) -> None:
        self.handle, self.is_csv = handle, is_csv

    def write(self, record: Record) -> None:
        self.put(_encode(record, self.is_csv))

    def put(self, line: str) -> None:
        """One whole line in one write, on disk before returning."""
        self.handle.write(line.encode())
        self.handle.flush()
        os.fsync(self.handle.fileno())


def _cut_torn_line(handle: BinaryIO) -> int:
    """Truncate a file opened ``a+b`` after its last newline (a killed writer's partial line); its new size."""
    handle.seek(0)
    data = handle.read()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
    return end


def part_path(out: Path, rank: int) -> Path:
    """The file process ``rank`` of a distributed run appends to, beside ``out``."""
    return out.with_name(f"{out.stem}.part{rank}{out.suffix}")


def parts(out: Path) -> list[Path]:
    """Every part file beside ``out`` (of this run, or left by a killed one of any size)."""
    return sorted(out.parent.glob(f"{out.stem}.part*{out.suffix}"))


def recorded(out: Path, checkpoint_sha256: str) -> dict[tuple[str, str], bool]:
    """Videos already recorded for this checkpoint in ``out`` and its parts:
    (video, content hash) -> whether the record is a result (True) or an error."""
    done: dict[tuple[str, str], bool] = {}
    for path in [out, *parts(out)]:
        for record in RecordFile(path).read():
            if (key := _key(record)) and key[2] == checkpoint_sha256:
                done.setdefault(key[:2], not record.get("error"))
    return done


def merge(out: Path) -> int:
    """Fold the part files into ``out`` (each video once: the first record of a key wins), then delete
    them; returns how many records ``out`` holds. Killed midway, the next merge redoes it."""
    pieces = parts(out)
    target = RecordFile(out)
    records = target.read() + [r for p in pieces for r in RecordFile(p).read()]
    seen: set[Key] = set()
    unique = []
    for record in records:
        key = _key(record)
        if key is None or key not in seen:
            unique.append(record)
        if key is not None:
            seen.add(key)
    if pieces or not out.exists():
        target.rewrite(unique)
    for piece in pieces:
        piece.unlink()
    return len(unique)
