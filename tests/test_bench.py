"""``python -m exercise_rec.bench``: statistics and table helpers on known input, the noise rule on
fabricated samples, ratio wording, ``--help`` against what ``--quick`` does, the command's plumbing
with a fake section, and one real ``--quick`` run (heavy) whose JSON must hold every section's rows
with finite positive numbers. No test asserts a speed: timings belong in the table, not in pass/fail."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec.bench import __main__ as bench_main
from exercise_rec.bench.config import QUICK, SECTIONS, SHIPPED_WIDTH, BenchConfig, PhoneSpec
from exercise_rec.bench.inference import model_specs
from exercise_rec.bench.media import SHORT_SECONDS
from exercise_rec.bench.report import (
    Ratio,
    Row,
    Section,
    Target,
    busy_note,
    machine_info,
    render,
    to_json,
)
from exercise_rec.bench.timing import (
    MAX_WARMUP_CALLS,
    NOISE_LIMIT,
    SHARED_LIMIT,
    NoiseRule,
    Stats,
    cpu_ticks,
    measure,
    median_ms,
    others_share,
)
from exercise_rec.errors import ConfigError
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
    stats = measure(lambda: calls.append(1), repeats=3, warmup=2, settle_s=0, warmup_s=0)
    assert len(calls) == 5 and stats.warmup_calls == 2
    assert len(stats.samples_ms) == 3 and min(stats.samples_ms) >= 0
    assert median_ms(lambda: None, repeats=2) >= 0
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


def test_warmup_lasts_its_time_within_a_call_cap_and_zero_means_none() -> None:
    calls: list[int] = []
    stats = measure(lambda: calls.append(1), repeats=2, warmup=1, settle_s=0, warmup_s=60)
    assert stats.warmup_calls == MAX_WARMUP_CALLS and len(calls) == MAX_WARMUP_CALLS + 2  # the cap, not 60 s
    calls.clear()
    stats = measure(lambda: calls.append(1), repeats=2, warmup=0, settle_s=0)
    assert stats.warmup_calls == 0 and len(calls) == 2


def _noisy_and_clean() -> tuple[Row, Row, Row]:
    """A peer, a clean row and a row with one stalled run among five (fabricated samples)."""
    peer = Row.time("peer", Stats((100.0, 101.0, 99.0, 100.0, 102.0)), peer=True)
    clean = Row.time("clean", Stats((10.0, 10.5, 11.0, 10.2, 10.4)))
    noisy = Row.time("noisy", Stats((10.0, 10.0, 11.0, 10.0, 40.0)))  # median 10, p90 28.4
    return (peer,
            clean.with_ratios(clean.faster(peer, "faster than peer")),
            noisy.with_ratios(noisy.faster(peer, "faster than peer")))


def test_noise_rule_withholds_the_ratio_of_a_noisy_row() -> None:
    peer, clean, noisy = _noisy_and_clean()
    assert noisy.spread == pytest.approx(2.84) and noisy.noisy() and not clean.noisy() and not peer.noisy()
    assert NOISE_LIMIT == 1.5
    text = render(machine_info(threads=2), {}, [Section("inference", (peer, clean, noisy))], [])
    assert "| noisy | 10.0 | 28.4 | ms | 5 | noisy (p90/median 2.84 > 1.5): no ratio |" in text
    assert "| clean | 10.4 | 10.8 | ms | 5 | 9.6x faster than peer |" in text
    assert "noise rule: a row whose p90/median exceeds 1.5 (noisy), or during whose warm-up and runs" in text
    assert "(1 of 3 timed rows in this run)" in text and 'speed ratios below 1x read "N x slower"' in text
    data = to_json(machine_info(threads=2), {}, [Section("inference", (peer, clean, noisy))], [])
    rows = {r["name"]: r for r in data["sections"][0]["rows"]}
    assert rows["noisy"]["noisy"] is True and rows["noisy"]["samples_ms"] == [10.0, 10.0, 11.0, 10.0, 40.0]
    assert rows["noisy"]["ratios"][0]["text"] is None and "2.84 > 1.5" in rows["noisy"]["ratios"][0]["withheld"]
    assert rows["clean"]["noisy"] is False and rows["clean"]["ratios"][0]["text"] == "9.6x faster than peer"
    assert "exceeds 1.5" in data["noise_rule"] and rows["noisy"]["noise"] == "noisy (p90/median 2.84 > 1.5)"
    # a looser limit (--noise-limit 3) lets the same row through
    assert "| noisy | 10.0 | 28.4 | ms | 5 | 10.0x faster than peer |" in render(
        machine_info(threads=2), {}, [Section("inference", (peer, noisy))], [], NoiseRule(limit=3.0))


def test_noise_rule_withholds_ratios_to_a_noisy_peer_and_targets_on_noise() -> None:
    peer = Row.time("peer", Stats((100.0, 100.0, 100.0, 100.0, 400.0)), peer=True)
    row = Row.time("fast", Stats((10.0, 10.0, 10.0, 10.0, 10.0)))
    row = row.with_ratios(row.faster(peer, "faster than peer"))
    sections = [Section("inference", (peer, row))]
    text = render(machine_info(threads=2), {}, sections, [])
    assert "| peer | 100 | 280 | ms | 5 | peer, noisy (p90/median 2.80 > 1.5): no ratio to it |" in text
    assert "| fast | 10.0 | 10.0 | ms | 5 | peer noisy (p90/median 2.80 > 1.5): no ratio to peer |" in text
    verdict = Target("fast >= 5x", "inference", "fast", 0, at_least=5.0).check(sections)
    assert verdict["met"] is None and verdict["verdict"].startswith("not judged: peer noisy")
    _, _, noisy = _noisy_and_clean()
    verdict = Target("noisy >= 5x", "inference", "noisy", 0, at_least=5.0).check([Section("inference", (noisy,))])
    assert verdict["met"] is None and verdict["verdict"] == "not judged: noisy (p90/median 2.84 > 1.5)"


def test_a_row_timed_while_others_used_the_cpus_is_shared_even_with_a_clean_spread() -> None:
    """Uniformly slow rows (other work holding the cores every run) have a clean spread."""
    peer = Row.time("peer", Stats((100.0,) * 5, others_share=0.01), peer=True)
    slow = Row.time("slow", Stats((50.0, 51.0, 50.0, 52.0, 50.0), others_share=0.9))
    slow = slow.with_ratios(slow.faster(peer, "faster than peer"))
    assert slow.spread < NOISE_LIMIT and SHARED_LIMIT == 0.2
    assert slow.noise() == "shared (other processes used 90% of the CPUs > 20%)"
    text = render(machine_info(threads=2), {}, [Section("inference", (peer, slow))], [])
    assert "| slow | 50.0 | 51.6 | ms | 5 | shared (other processes used 90% of the CPUs > 20%): no ratio |" in text
    assert "| peer | 100 | 100 | ms | 5 | peer |" in text
    assert not slow.noisy(NoiseRule(shared_limit=1.0))  # --shared-limit 1
    # a shared peer withholds the ratio of a clean row
    fast = Row.time("fast", Stats((10.0,) * 5, others_share=0.0))
    fast = fast.with_ratios(fast.faster(slow, "faster than slow"))
    assert "peer shared (other processes used 90% of the CPUs > 20%): no ratio to slow" in render(
        machine_info(threads=2), {}, [Section("inference", (slow, fast))], [])


def test_others_share_is_the_machine_busy_time_less_this_process_tree() -> None:
    capacity = os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)  # ticks of all CPUs in one second
    # the machine was busy for 0.75 of its capacity, of which this process used 0.25
    assert others_share((1000, 100), (1000 + 0.75 * capacity, 100 + 0.25 * capacity), 1.0) == pytest.approx(0.5)
    assert others_share((0, 0), (10, 20), 1.0) == 0.0  # never below zero (tick rounding)
    assert others_share(None, (1, 1), 1.0) is None
    ticks = cpu_ticks()
    if ticks is None:
        pytest.skip("no /proc here")
    assert ticks[0] > 0 and ticks[1] >= 0
    stats = measure(lambda: sum(range(1000)), repeats=3, settle_s=0, warmup_s=0)
    assert stats.others_share is not None and stats.others_share >= 0


def test_rows_without_timed_runs_are_never_noise() -> None:
    memory = Row("peak RSS", "MB", 900.0, 900.0, 1)
    assert memory.spread is None and not memory.noisy()
    assert Row.missing("x", "ms", "n/a (install openvino)").spread is None


def test_ratio_wording_says_slower_below_one() -> None:
    assert str(Ratio(0.41, "faster than r3d_18 eager")) == "2.4x slower than r3d_18 eager"
    assert str(Ratio(46.69, "faster than r3d_18 eager")) == "46.7x faster than r3d_18 eager"
    assert str(Ratio(1.03, "faster than own eager")) == "1.03x faster than own eager"
    assert str(Ratio(0.96, "faster than backend torch")) == "1.04x slower than backend torch"
    assert str(Ratio(1.0, "faster than naive")) == "1.00x faster than naive"
    # not a speed: a share of the peer's cost or rate reads as it is
    assert str(Ratio(0.88, "the batch-1 eager clips/s")) == "0.88x the batch-1 eager clips/s"
    assert str(Ratio(4.1, "the training step's clips/s")) == "4.1x the training step's clips/s"
    slow = Row.time("slow", Stats((41.0,)))
    assert str(slow.faster(Row.time("p", Stats((16.81,))), "faster than p")) == "2.4x slower than p"
    assert "0.41x faster" not in render(machine_info(threads=2), {}, [Section("e2e", (
        slow.with_ratios(Ratio(0.41, "faster than p")),))], [])


def _help() -> str:
    return " ".join(bench_main.build_parser().format_help().split())  # argparse wraps lines


def test_help_says_what_quick_does() -> None:
    quick, full = BenchConfig.preset(True), BenchConfig.preset(False)
    text = _help()
    assert f"--quick {quick.repeats} runs per row" in text and quick.repeats == QUICK["repeats"]
    assert f"(default {full.repeats}, --quick {quick.repeats})" in text
    t, h, w = quick.clip
    assert f"3x{t}x{h}x{w} clips" in text and f"a {quick.long_seconds} s long file" in text
    assert f"at the shipped width {SHIPPED_WIDTH:g} only" in text and quick.widths == (SHIPPED_WIDTH,)
    assert f"(default {NOISE_LIMIT:g})" in text and quick.noise_limit == full.noise_limit == NOISE_LIMIT
    assert f"(default {SHARED_LIMIT:g})" in text and quick.shared_limit == full.shared_limit == SHARED_LIMIT
    # the rows --quick measures are the shipped width's only; the full run has both widths
    quick_labels = [s.label for s in model_specs(quick.fast_configs, quick.widths)]
    assert any("mobilenet_v2_3d standard w0.5" == label for label in quick_labels)
    assert not any("w1.0" in label for label in quick_labels)
    assert sum("w1.0" in s.label for s in model_specs(full.fast_configs, full.widths)) == 2
    assert quick.fast_configs == (("standard", SHIPPED_WIDTH),)


def test_config_refuses_a_limit_that_flags_everything_and_fast_rows_without_eager() -> None:
    with pytest.raises(ConfigError, match="noise limit"):
        BenchConfig(noise_limit=1.0)
    with pytest.raises(ConfigError, match="shared limit"):
        BenchConfig(shared_limit=0.0)
    with pytest.raises(ConfigError, match="no eager row"):
        BenchConfig(widths=(0.5,), fast_configs=(("standard", 1.0),))


def test_busy_machine_is_said_in_the_header() -> None:
    assert busy_note(0.25, 2) == ""
    note = busy_note(3.0, 2)
    assert note.startswith("BUSY MACHINE: the 1-min load average was 3.00 on 2 cores")
    machine = {**machine_info(threads=2), "busy": note}
    assert note in render(machine, {}, [], []).splitlines()[1]


def test_command_prints_the_table_and_json_with_the_noise_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command end to end with a fake section (no measuring): --quick settings and
    --noise-limit reach the section, the table and the JSON."""
    seen: list[BenchConfig] = []

    class FakeSection:
        @staticmethod
        def run(cfg: BenchConfig) -> Section:
            seen.append(cfg)
            peer, clean, noisy = _noisy_and_clean()
            return Section("cam", (peer, clean, noisy), notes=("fabricated",))

    monkeypatch.setattr(bench_main.importlib, "import_module", lambda name: FakeSection)
    out = tmp_path / "bench.json"
    argv = ["--quick", "--sections", "cam", "--noise-limit", "2", "--shared-limit", "0.5", "--json", str(out)]
    assert bench_main.main(argv) == 0
    assert seen and seen[0].repeats == QUICK["repeats"] and seen[0].rule == NoiseRule(2.0, 0.5)
    text = capsys.readouterr().out
    assert "mode=quick, repeats=5," in text and "noise limit (p90/median)=2.0" in text
    assert "noisy (p90/median 2.84 > 2): no ratio" in text and "exceeds 2 (noisy), or during whose" in text
    assert "more than 50% of the CPUs" in text and "shared limit=50%" in text
    data = json.loads(out.read_text())
    assert [r["noisy"] for r in data["sections"][3]["rows"]] == [False, False, True]
    assert "cam " in data["machine"]["load_1min"]  # the load at the section's start


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
    assert "| 1. inference | fast | 2.00 | 2.00 | ms | 1 | 5.0x faster than peer |" in text
    assert "| 1. inference | peer | 10.0 | 10.0 | ms | 1 | peer |" in text
    assert "n/a (install openvino)" in text and "skipped: no CUDA" in text and "a note" in text
    data = json.loads(json.dumps(to_json(machine, {"mode": "quick"}, sections, [])))
    rows = data["sections"][0]["rows"]
    assert [r["name"] for r in rows] == ["peer", "fast", "other"]
    assert rows[1]["ratios"] == [{"value": 5.0, "vs": "faster than peer", "text": "5.0x faster than peer",
                                  "withheld": None}]
    assert rows[2]["median"] is None and data["sections"][1]["skipped"] == "no CUDA"


def test_quick_preset_shrinks_but_keeps_the_long_file_long() -> None:
    full, quick = BenchConfig.preset(False), BenchConfig.preset(True)
    assert quick.repeats < full.repeats and quick.clip < full.clip and quick.repeats >= 3  # p90 needs runs
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
            # every ratio is printed, or withheld by the noise rule, never both
            assert all((r["text"] is None) != (r["withheld"] is None) for r in row["ratios"]), row
            if row["unit"] in ("ms", "clips/s"):
                assert len(row["samples_ms"]) == row["runs"], row
                assert row["noisy"] == bool(NoiseRule().why(row["spread"], row["others_share"])), row
    inference = " ".join(r["name"] for r in data["sections"][0]["rows"])
    assert all(name in inference for name in list_models())
    assert all(f"fast path {backend}" in inference for backend in BACKENDS)
    assert "w1.0" not in inference  # --quick: the shipped width only, as --help says
    decode = [r["name"] for r in data["sections"][1]["rows"]]
    assert f"read_clip, all {len(QUICK['phone_files'])} phone-like files" in decode  # type: ignore[arg-type]
    batch = next(s for s in data["sections"] if s["name"] == "batch")
    assert len(batch["rows"]) == 4 and {r["unit"] for r in batch["rows"]} == {"videos/s"}
    assert sum("batch >= 1.8x the loop" in t["target"] for t in data["targets"]) == 2
    assert data["settings"]["repeats"] == QUICK["repeats"]
    assert data["targets"] and all(
        (t["met"] in (True, False) or t["verdict"].startswith("not judged: ")) and _positive(t["value"])
        for t in data["targets"]
    )


def test_batch_and_phone_sets_full_and_quick() -> None:
    """The issue's sizes in the full run (>= 64 synthetic videos, >= 8 phone-like files of 30-60 s at
    1080p, a keyframe every 1-2 s, some at 60 fps); --quick few and short, as --help says."""
    full, quick = BenchConfig.preset(False), BenchConfig.preset(True)
    assert full.batch_videos >= 64 and len(full.phones) >= 8
    assert all(30 <= p.seconds <= 60 and p.keyframe_s in (1, 2) for p in full.phones)
    assert {p.fps for p in full.phones} == {30, 60} and max(p.seconds for p in full.phones) == 60
    assert quick.batch_videos < full.batch_videos and len(quick.phones) < len(full.phones)
    assert sum(p.seconds for p in quick.phones) <= 10 and quick.batch_runs <= full.batch_runs
    assert f"{quick.batch_videos} synthetic videos and {len(quick.phones)} phone-like files" in _help()
    assert PhoneSpec(60, 30, 2).gop == 60 and PhoneSpec(30, 60, 1).label == "phone 30 s 1080p60, keyframe 1 s"
    assert list(SECTIONS)[-1] == "gpu" and "batch" in BenchConfig().sections  # gpu stays last (only with --gpu)
    with pytest.raises(ConfigError, match="batch videos"):
        BenchConfig(synth_classes=4, batch_videos=64)
    with pytest.raises(ConfigError, match="phone files"):
        BenchConfig(phone_files=((30, 0, 1),))
    with pytest.raises(ConfigError, match="batch runs"):
        BenchConfig(batch_runs=0)


def _tiny_video(path: Path, frames: int = 12) -> Path:
    from exercise_rec.data.video import write_video

    rng = np.random.default_rng(0)
    return write_video(path, rng.integers(0, 256, (frames, 48, 64, 3), dtype=np.uint8), 24, preset="ultrafast")


def test_phone_video_is_1080p_with_a_keyframe_every_interval(tmp_path: Path) -> None:
    from exercise_rec.bench.config import SYNTH_PER_CLASS
    from exercise_rec.bench.media import PHONE_SOURCE_CLASSES, phone_video
    from exercise_rec.data.keyframes import mp4_keyframes
    from exercise_rec.data.video import probe

    synth = tmp_path / f"synth_{PHONE_SOURCE_CLASSES}x{SYNTH_PER_CLASS}"  # a stand-in for the generator's set
    _tiny_video(synth / "squat" / "squat_0000.mp4")
    (synth / "test.txt").write_text("squat/squat_0000.mp4\n")
    path = phone_video(tmp_path, PhoneSpec(2, 30, 1), 0)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (1920, 1080, 60) and info.fps == pytest.approx(30)
    assert mp4_keyframes(path).tolist() == [0, 30]
    made = path.stat().st_mtime_ns
    assert phone_video(tmp_path, PhoneSpec(2, 30, 1), 0) == path and path.stat().st_mtime_ns == made  # cached


def test_decode_child_over_a_set_times_every_file_in_each_run(tmp_path: Path) -> None:
    from exercise_rec.bench.decode import SetReading, child_set

    paths = [str(_tiny_video(tmp_path / f"v{i}.mp4", 20 + i)) for i in range(2)]
    for method in ("read_clip", "naive"):
        reading = SetReading(**child_set(method, paths, repeats=2, warmup=0, threads=1))
        assert len(reading.times_ms) == 2 and [len(t) for t in reading.per_file_ms] == [2, 2]
        assert all(sum(files) <= run for files, run in zip(zip(*reading.per_file_ms), reading.times_ms))
        assert reading.stats(0).samples_ms == tuple(reading.per_file_ms[0])


def test_batch_section_compares_the_command_with_the_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Rows, units, ratios and targets of the batch section, with fake runs in place of predictions;
    the batch row's arguments are the predict command's defaults with --out."""
    import time

    from exercise_rec.batch.loader import default_workers
    from exercise_rec.bench import batch

    args = batch.command_args([Path("a.mp4"), Path("b.mp4")], tmp_path / "r.jsonl")
    assert args.videos == ["a.mp4", "b.mp4"] and args.out == tmp_path / "r.jsonl"
    assert args.workers == default_workers() and args.batch_size == 4 and args.backend == "torch"
    videos = [tmp_path / f"{i}.mp4" for i in range(64)]
    monkeypatch.setattr(batch, "synthetic_videos", lambda data_dir, classes: videos)
    monkeypatch.setattr(batch, "phone_videos", lambda data_dir, specs: videos[: len(specs)])
    monkeypatch.setattr(batch, "loop_call", lambda paths, seen=None: lambda: time.sleep(0.002 * len(paths)))
    monkeypatch.setattr(batch, "batch_call", lambda paths, scratch: lambda: time.sleep(0.001 * len(paths)))
    section = batch.run(BenchConfig(repeats=2, batch_runs=2, warmup=0))
    names = [r.name for r in section.rows]
    assert names[1] == "loop of Predictor.predict, 64 synthetic videos" and section.rows[1].peer
    assert names[0].startswith(f"batch (predict --out: {default_workers()} workers, batch 4), 64 synthetic")
    assert "8 phone-like files (30-60 s 1080p30/60)" in names[2] and section.rows[3].peer
    assert all(r.unit == "videos/s" and r.runs == 2 for r in section.rows)
    assert section.rows[0].ratios[0].vs == "faster than the loop" and section.rows[0].ratios[0].value > 1
    verdicts = [t.check([section], NoiseRule(limit=100.0, shared_limit=1.0)) for t in section.targets]
    assert len(verdicts) == 2 and all(v["value"] is not None for v in verdicts), verdicts


def test_cpu_ticks_keep_the_time_of_children_that_have_exited() -> None:
    """A finished data-loader worker's CPU time stays this process tree's, not "other processes'"."""
    before = cpu_ticks()
    if before is None:
        pytest.skip("no /proc here")
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)  # run, exited and reaped
    after = cpu_ticks()
    assert after is not None
    assert after[1] - before[1] >= 0.4 * os.sysconf("SC_CLK_TCK")
