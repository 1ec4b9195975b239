"""``python -m exercise_rec.bench``: statistics and table helpers on known input, and one real
``--quick`` run (heavy) whose JSON must hold every section's rows with finite positive numbers.
No test asserts a speed: timings belong in the table, not in pass/fail."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from exercise_rec.bench.config import SECTIONS, BenchConfig
from exercise_rec.bench.media import SHORT_SECONDS
from exercise_rec.bench.report import (
    Ratio,
    Row,
    Section,
    Target,
    machine_info,
    render,
    to_json,
)
from exercise_rec.bench.timing import Stats, measure, median_ms
from exercise_rec.fastpath import BACKENDS
from exercise_rec.models import list_models


def test_median_and_p90_on_known_input() -> None:
    stats = Stats(tuple(float(v) for v in range(10, 0, -1)))  # order must not matter
    assert stats.median == 5.5
    assert stats.p90 == pytest.approx(9.1)  # linear interpolation between the 9th and 10th values
    one = Stats((7.0,))
    assert one.median == one.p90 == 7.0


def test_measure_times_only_the_runs_after_warmup() -> None:
    calls: list[int] = []
    stats = measure(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5
    assert len(stats.samples_ms) == 3 and min(stats.samples_ms) >= 0
    assert median_ms(lambda: None, repeats=2) >= 0
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


def test_rows_rates_and_ratios() -> None:
    slow = Row.time("slow", Stats((10.0, 20.0, 30.0)))
    fast = Row.time("fast", Stats((5.0,)))
    assert fast.speedup(slow) == 4.0 and fast.relative(slow) == 0.25
    rate = Row.rate("rate", Stats((100.0, 200.0)), items=8)  # median 150 ms, p90 190 ms
    assert rate.median == pytest.approx(8 / 0.150) and rate.p90 == pytest.approx(8 / 0.190)
    assert rate.speedup(Row.rate("half", Stats((300.0,)), items=8)) == pytest.approx(2.0)
    assert Row.missing("x", "ms", "n/a (install openvino)").median is None


def test_targets_say_met_or_missed_by_how_much() -> None:
    row = Row.time("x", Stats((1.0,))).with_ratios(Ratio(2.5, "faster than y"))
    sections = [Section("decode", (row,))]
    met = Target("fast enough", "decode", "x", 0, at_least=2.0).check(sections)
    assert met["met"] is True and met["verdict"].startswith("met")
    missed = Target("faster", "decode", "x", 0, at_least=5.0).check(sections)
    assert missed["met"] is False and "missed by 50%" in missed["verdict"]
    assert Target("small", "decode", "x", 0, at_most=1.2).check(sections)["met"] is False
    assert Target("absent", "decode", "nope").check(sections)["met"] is None


def test_table_and_json_hold_the_same_rows() -> None:
    peer = Row.time("peer", Stats((10.0,)), peer=True)
    row = Row.time("fast", Stats((2.0,))).with_ratios(Ratio(5.0, "faster than peer"))
    missing = Row.missing("other", "ms", "n/a (install openvino)")
    sections = [Section("inference", (peer, row, missing), notes=("a note",)), Section("gpu", skipped="no CUDA")]
    machine = machine_info(threads=2)
    assert machine["cores"] >= 1 and machine["torch"] == torch.__version__
    text = render(machine, {"mode": "quick"}, sections, [])
    assert "| 1. inference | fast | 2.00 | 2.00 | ms | 1 | 5.00x faster than peer |" in text
    assert "| 1. inference | peer | 10.0 | 10.0 | ms | 1 | peer |" in text
    assert "n/a (install openvino)" in text and "skipped: no CUDA" in text and "a note" in text
    data = json.loads(json.dumps(to_json(machine, {"mode": "quick"}, sections, [])))
    rows = data["sections"][0]["rows"]
    assert [r["name"] for r in rows] == ["peer", "fast", "other"]
    assert rows[1]["ratios"] == [{"value": 5.0, "vs": "faster than peer"}]
    assert rows[2]["median"] is None and data["sections"][1]["skipped"] == "no CUDA"


def test_quick_preset_shrinks_but_keeps_the_long_file_long() -> None:
    full, quick = BenchConfig.preset(False), BenchConfig.preset(True)
    assert quick.repeats < full.repeats and quick.clip < full.clip
    assert quick.long_seconds >= 2 * SHORT_SECONDS and full.long_seconds == 120
    assert BenchConfig.preset(True, repeats=5, threads=None).repeats == 5
    with pytest.raises(ValueError, match="unknown section"):
        BenchConfig(sections=("nope",))


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.heavy
def test_quick_run_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "exercise_rec.bench", "--quick", "--json", str(out)],
        check=False, capture_output=True, text=True, timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| section | row | median | p90 |" in done.stdout
    data = json.loads(out.read_text())
    assert [s["name"] for s in data["sections"]] == list(SECTIONS)
    for section in data["sections"]:
        if section["name"] == "gpu" and not torch.cuda.is_available():
            assert section["skipped"] and not section["rows"]
            continue
        assert not section["skipped"] and section["rows"], section["name"]
        assert any(r["peer"] for r in section["rows"]), f"{section['name']} has no peer row"
        for row in section["rows"]:
            if row["note"]:
                assert row["note"].startswith("n/a (install "), row
                continue
            assert _positive(row["median"]) and _positive(row["p90"]) and row["runs"] >= 1, row
            assert row["peer"] or row["ratios"], f"{row['name']} has no ratio to its peer"
            assert all(_positive(r["value"]) and r["vs"] for r in row["ratios"]), row
    inference = " ".join(r["name"] for r in data["sections"][0]["rows"])
    assert all(name in inference for name in list_models())
    assert all(f"fast path {backend}" in inference for backend in BACKENDS)
    assert data["targets"] and all(t["met"] in (True, False) and _positive(t["value"]) for t in data["targets"])
