"""``python -m exercise_rec.bench``: measure, then print one table (stdout) and optionally JSON.

    python -m exercise_rec.bench                 # full run (see below)
    python -m exercise_rec.bench --quick         # every section, smaller inputs (CI; see below)
    python -m exercise_rec.bench --sections decode batch   # the phone-like files and batch prediction
    python -m exercise_rec.bench --sections decode cam --repeats 10 --json out.json
    python -m exercise_rec.bench --gpu           # adds CUDA training throughput when a GPU is there

Run time on the 2-core machine: sections 1-5 took 5.5 minutes idle; the phone-like files (decode)
and the batch section add much more: decode and batch alone took 22.6 minutes on the busy machine
(benchmarks/RESULTS.md), mostly decoding every frame of the 8 phone-like 1080p files (the naive
peer) and the batch section's runs over them. The first run also makes the files (~680 MB, minutes).
--quick took about 1.5 minutes idle before the batch section; its 2 phone-like files of 3 s (decode)
and the batch section with 8 synthetic videos add about 50 s, plus ~10 s to make the files in a new
data dir (measured at a 1-min load of ~1.6; the whole --quick run: 157 s in its test).

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from exercise_rec.bench.config import (
    DEFAULT_DATA_DIR,
    DEFAULT_SECTIONS,
    QUICK,
    SECTIONS,
    BenchConfig,
    quick_help,
)
from exercise_rec.bench.timing import NOISE_LIMIT, SHARED_LIMIT
from exercise_rec.cli_common import OneLineParser, cli

log = logging.getLogger("exercise_rec.bench")


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m exercise_rec.bench",
                      description="Measure and print the benchmark table (progress on stderr).")
    p.add_argument("--quick", action="store_true", help=quick_help())
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(DEFAULT_SECTIONS),
                   help=f"sections to run (default: {' '.join(DEFAULT_SECTIONS)})")
    p.add_argument("--gpu", action="store_true", help="also the gpu section (skipped without CUDA)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--threads", type=int, help="torch/OpenCV threads (default: the cores this process may use)")
    p.add_argument("--repeats", type=int,
                   help=f"timed runs per row (default {BenchConfig.repeats}, --quick {QUICK['repeats']})")
    p.add_argument("--noise-limit", type=float, metavar="X",
                   help=f"a row whose p90/median exceeds X is marked noisy and gets no ratio (default {NOISE_LIMIT:g})")
    p.add_argument("--shared-limit", type=float, metavar="S",
                   help=f"a row during which other processes used more than this share of the CPUs is marked "
                        f"shared and gets no ratio (default {SHARED_LIMIT:g})")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help=f"where generated videos are cached between runs (default {DEFAULT_DATA_DIR})")
    return p


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.bench import report

    sections = tuple(dict.fromkeys([*args.sections, *(["gpu"] if args.gpu else [])]))
    cfg = BenchConfig.preset(args.quick, sections=sections, repeats=args.repeats, threads=args.threads,
                             data_dir=args.data_dir, noise_limit=args.noise_limit,
                             shared_limit=args.shared_limit)
    machine = report.machine_info(cfg.threads)  # load before the run; each section's start and the end's below
    if busy := report.busy_note(machine["load_1min"], machine["cores"]):
        log.warning("%s", busy)
        machine["busy"] = busy
    started = time.perf_counter()
    results, loads = [], []
    for name in SECTIONS:
        if name in cfg.sections:
            loads.append(f"{name} {os.getloadavg()[0]:.2f}")
            results.append(importlib.import_module(f"exercise_rec.bench.{name}").run(cfg))
        else:
            results.append(report.Section(name, skipped="not selected (--sections, --gpu)"))
    settings = {**cfg.settings(), "wall s": round(time.perf_counter() - started)}
    machine["load_1min"] = f"{machine['load_1min']} -> {', '.join(loads)} -> end {os.getloadavg()[0]:.2f}"
    targets = [t.check(results, cfg.rule) for section in results for t in section.targets]
    print(report.render(machine, settings, results, targets, cfg.rule))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(machine, settings, results, targets, cfg.rule), indent=2))
    return 0


# progress with timestamps; the exporters' chatter stays below WARNING
main = cli(build_parser, _run, log_format="[%(relativeCreated)6.0f ms] %(message)s")


if __name__ == "__main__":
    sys.exit(main())
