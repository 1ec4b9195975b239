"""Every command's bad-argument paths as a user meets them: a real process, exit code 2, one line.

Each case is a fresh ``python -m ...`` (or ``python app.py``): stderr must be exactly one line
starting ``error:`` that names what was wrong, with no traceback, before any long work starts.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SQUAT = str(ROOT / "samples" / "squat.mp4")

# (command after `python`, words the one error line must contain)
CASES: list[tuple[list[str], str]] = [
    (["-m", "exercise_rec.predict", "missing.mp4"], "missing.mp4: file not found"),
    (["-m", "exercise_rec.predict", SQUAT, "--checkpoint", "missing.pt"], "missing.pt"),
    (["-m", "exercise_rec.predict", SQUAT, "--top-k", "0"], "top_k"),
    (["-m", "exercise_rec.predict", "playlist.m3u8"], "a playlist"),
    (["-m", "exercise_rec.cam", SQUAT, "--out", "out_dir/"], "is a folder"),
    (["-m", "exercise_rec.cam", SQUAT, "--layer", "nope", "--out", "cam.mp4"], "'nope'"),
    (["-m", "exercise_rec.export", "--out", "out_dir/"], "is a folder"),
    (["-m", "exercise_rec.export", "--out", "model.txt"], "must end in .onnx"),
    (["-m", "exercise_rec.export", "--checkpoint", "missing.pt", "--out", "m.onnx"], "missing.pt"),
    (["-m", "exercise_rec.evaluate", "--checkpoint", "missing.pt", "--data", "."], "missing.pt"),
    (["-m", "exercise_rec.evaluate", "--checkpoint", "c.pt", "--data", "no_such_dir"], "no_such_dir: dataset directory"),
    (["-m", "exercise_rec.faithfulness", "--data", ".", "--checkpoint", "c.pt", "--per-class", "0"], "positive"),
    (["-m", "exercise_rec.bench", "--sections", "bogus"], "bogus"),
    (["-m", "exercise_rec.synth", "--out", "s", "--per-class", "0"], "positive"),
    (["-m", "exercise_rec.train", "--data", "no_such_dir", "--epochs", "1"], "no_such_dir"),
    ([str(ROOT / "app.py"), "--checkpoint", "missing.pt"], "missing.pt"),
    ([str(ROOT / "app.py"), "--max-pixels", "wide"], "WIDTHxHEIGHT"),
    ([str(ROOT / "app.py"), "--port", "{busy_port}"], "is busy (Address already in use); choose another with --port"),
    (["-m", "exercise_rec.cam", SQUAT, "--json", "--plot", "x.jpgg"], "must end in .png or .svg or .pdf"),
]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.heavy
def test_every_command_refuses_bad_arguments_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "out_dir").mkdir()
    (tmp_path / "playlist.m3u8").write_text(f"#EXTM3U\n#EXTINF:3,\n{SQUAT}\n")
    with socket.socket() as busy, ThreadPoolExecutor(2) as pool:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        commands = [[port if arg == "{busy_port}" else arg for arg in args] for args, _ in CASES]
        results = list(pool.map(lambda args: _run(args, tmp_path), commands))
    failures = []
    for (args, words), done in zip(CASES, results):
        lines = done.stderr.splitlines()
        ok = done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
        if not ok or "Traceback" in done.stderr:
            failures.append(f"{' '.join(args[:3])}: exit {done.returncode}, stderr {done.stderr[-600:]!r}")
    assert not failures, "\n".join(failures)
