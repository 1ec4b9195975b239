"""Batch prediction on real files: synthetic videos, a broken one, an archive; real subprocesses,
a real SIGKILL, two real processes on Lightning's predict loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from exercise_rec.batch import DecodeSpec, VideoSource, collect, make_loader
from exercise_rec.batch.classify import predictions
from exercise_rec.batch.engine import NONE_CLASSIFIED, SOME_FAILED
from exercise_rec.batch.records import RecordFile, merge, part_path
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.limits import DEFAULT_LIMITS
from exercise_rec.data.synthetic import SynthConfig, generate_dataset
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model

CLASSES = ("jumping_jack", "no_exercise", "squat")
PREDICT = [sys.executable, "-m", "exercise_rec.predict"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 synthetic videos in class folders, a broken mp4 and a zip holding one more video."""
    config = SynthConfig(width=64, height=48, duration=1.0, vary_resolution=False)
    root = generate_dataset(tmp_path_factory.mktemp("batch") / "videos", 2, seed=5, config=config,
                            classes=CLASSES, workers=1)  # fmt: skip
    (root / "squat" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 200)
    with zipfile.ZipFile(root / "more.zip", "w") as zf:
        zf.write(root / "squat" / "squat_0000.mp4", "inner/squat.mp4")
        zf.writestr("readme.txt", "not a video")
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry model (CLI subprocesses cannot see test-registered ones), a quarter wide."""
    meta = CheckpointMeta(model_name="mobilenet_v2_3d", model_kwargs={"width_mult": 0.25}, class_names=CLASSES,
                          clip_len=4, input_size=(24, 32), mean=(0.5,) * 3, std=(0.25,) * 3)  # fmt: skip
    path = tmp_path_factory.mktemp("ckpt") / "c.pt"
    return save_checkpoint(path, build_model("mobilenet_v2_3d", len(CLASSES), width_mult=0.25), meta)


def _videos(folder: Path) -> list[str]:
    """Every video of ``folder`` and ``folder/more.zip``, as records name them."""
    return [str(p) for p in sorted(folder.rglob("*.mp4"))] + [f"{folder / 'more.zip'}!inner/squat.mp4"]


def _run(*args: object, check_code: int | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*PREDICT, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=300)
    if check_code is not None:
        assert done.returncode == check_code, done.stderr
    return done


def test_collect_finds_folders_globs_and_archive_members(folder):
    names = [s.name for s in collect([str(folder)])]
    assert names == [str(p) for p in sorted(folder.rglob("*.mp4"))]  # folders: video suffixes only
    globbed = collect([str(folder / "*" / "squat_*.mp4"), str(folder / "more.zip"), str(folder / "nothing*.mp4")])
    assert [s.name for s in globbed] == [*(str(p) for p in sorted(folder.glob("*/squat_*.mp4"))),
                                         f"{folder / 'more.zip'}!inner/squat.mp4"]  # fmt: skip
    assert [s.name for s in collect(["missing.mp4"])] == ["missing.mp4"]  # recorded as "file not found"


def test_batch_gives_the_single_video_predictions(folder, checkpoint):
    """Workers decode and run the person check; the answers equal Predictor.predict's, framing on."""
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    assert predictor.framing is not None and predictor.pose is not None
    sources = [VideoSource(p) for p in sorted(folder.glob("squat/squat_*.mp4"))]
    items = [item for batch in make_loader(sources, DecodeSpec.of(predictor), workers=1, batch_size=2)
             for item in batch]  # fmt: skip
    batch = predictions(predictor, items, top_k=3)
    for source, result in zip(sources, batch):
        single = predictor.predict(source.path, top_k=3)
        np.testing.assert_allclose(result.probs, single.probs, atol=1e-5)
        assert (result.labels, result.verdict, result.reason) == (single.labels, single.verdict, single.reason)


def test_cli_records_every_video_once_resumes_and_reports_failures(folder, checkpoint, tmp_path):
    out = tmp_path / "results.jsonl"
    first = _run(
        folder, folder / "more.zip", "--checkpoint", checkpoint, "--out", out, "--workers", 2, check_code=SOME_FAILED
    )
    records = RecordFile(out).read()
    assert sorted(r["video"] for r in records) == sorted(_videos(folder))
    errors = [r for r in records if "error" in r]
    assert [r["video"] for r in errors] == [str(folder / "squat" / "broken.mp4")]
    assert "moov" in errors[0]["error"]
    for record in records:
        if "error" not in record:
            assert {"video", "model", "mode", "verdict", "reason", "predictions", "latency_ms"} <= set(record)
            assert record["checkpoint_sha256"] and len(record["sha256"]) == 64
    assert "7 classified, 1 failed" in first.stderr

    again = _run(
        folder, folder / "more.zip", "--checkpoint", checkpoint, "--out", out, "--workers", 0, check_code=SOME_FAILED
    )
    assert RecordFile(out).read() == records and "8 recorded by an earlier run" in again.stderr

    broken_only = _run(folder / "squat" / "broken.mp4", tmp_path / "gone.mp4", "--checkpoint", checkpoint,
                       "--workers", 0, "--json", check_code=NONE_CLASSIFIED)  # fmt: skip
    lines = [json.loads(line) for line in broken_only.stdout.splitlines()]
    assert [set(line) for line in lines] == [{"video", "error", "sha256", "checkpoint_sha256"}] * 2
    assert lines[1]["error"] == "file not found"


def test_csv_output_and_timeline_in_batch(folder, checkpoint, tmp_path):
    out = tmp_path / "results.csv"
    _run(folder / "squat", "--checkpoint", checkpoint, "--out", out, "--timeline", "0.5", "--workers", 1,
         check_code=SOME_FAILED)  # fmt: skip
    rows = RecordFile(out).read()
    assert len(rows) == 3 and out.read_text().startswith("video,sha256,")
    good = [r for r in rows if not r["error"]]
    timeline = json.loads(good[0]["timeline"])
    assert timeline[0]["start_s"] == 0 and {"label", "prob", "verdict", "reason"} <= set(timeline[0])
    assert good[0]["label"] == json.loads(good[0]["predictions"])[0]["label"]


def test_a_sigkilled_run_resumes_without_losing_or_repeating_records(folder, checkpoint, tmp_path):
    out = tmp_path / "results.jsonl"
    cmd = [*PREDICT, str(folder), str(folder / "more.zip"), "--checkpoint", str(checkpoint), "--out", str(out),
           "--workers", "0", "--batch-size", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while (not out.exists() or out.read_text().count("\n") < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = RecordFile(out).read()
    assert 2 <= len(kept) < len(_videos(folder))
    with open(out, "a") as handle:  # what a kill in the middle of a write leaves
        handle.write('{"video": "torn')
    _run(folder, folder / "more.zip", "--checkpoint", checkpoint, "--out", out, "--workers", 0, check_code=SOME_FAILED)
    records = RecordFile(out).read()
    assert sorted(r["video"] for r in records) == sorted(_videos(folder))
    assert records[: len(kept)] == kept and out.read_text().endswith("}\n")


def test_merge_keeps_each_video_once(tmp_path):
    out = tmp_path / "r.jsonl"
    record = {"video": "a.mp4", "sha256": "1", "checkpoint_sha256": "c", "predictions": []}
    with RecordFile(out).appender() as writer:
        writer.write(record)
    for rank, part in ((0, record), (1, {**record, "video": "b.mp4", "sha256": "2"})):  # rank 0 repeats a.mp4
        with RecordFile(part_path(out, rank)).appender() as writer:
            writer.write(part)
    assert merge(out) == 2
    assert [r["video"] for r in RecordFile(out).read()] == ["a.mp4", "b.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]


@pytest.mark.heavy
def test_two_processes_on_lightning_shard_and_merge(folder, checkpoint, tmp_path):
    """--devices 2 on CPU: two DDP processes (gloo), a shard and part file each, one merged file."""
    out = tmp_path / "results.jsonl"
    done = _run(folder, folder / "more.zip", "--checkpoint", checkpoint, "--out", out, "--devices", 2, "--workers", 0,
                check_code=SOME_FAILED)  # fmt: skip
    records = RecordFile(out).read()
    assert sorted(r["video"] for r in records) == sorted(_videos(folder))  # every video exactly once
    assert [r["video"] for r in records if "error" in r] == [str(folder / "squat" / "broken.mp4")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]  # the parts were folded in
    assert done.stderr.count("7 classified, 1 failed") == 1  # process 0 speaks for the run


def test_a_few_long_videos_are_shared_by_every_worker(folder):
    """Each DataLoader batch is decoded by one worker: 4 videos at batch size 4 on 2 workers come as
    two batches of 2 (in order), not one batch that leaves a worker idle."""
    sources = [VideoSource(p) for p in sorted(folder.rglob("*_000?.mp4"))][:4]
    spec = DecodeSpec(clip_len=2, size=24, limits=DEFAULT_LIMITS, person_check=False)
    batches = [[item.source for item in batch] for batch in make_loader(sources, spec, workers=2, batch_size=4)]
    assert batches == [sources[:2], sources[2:]]
