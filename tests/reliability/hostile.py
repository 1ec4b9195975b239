"""Files crafted the way an attacker would, and the sensors that tell whether the server took the bait.

Referencing files (HLS and DASH playlists, ffconcat lists, SDP) name other inputs: a local file the
server should never read, or a URL on loopback. Each is written under several names, since the
check must go by content, never by the name. The local target is a :class:`Canary` (a named pipe
that notices being opened for reading), the URL an :class:`HttpRecorder` (a loopback server that
records every request), so "nothing was read, nothing was asked" is observed, not assumed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import imageio_ffmpeg

NAMES = ("x.m3u8", "x.mp4", "x.avi", "x")  # every crafted file under each of these names


class Canary:
    """A named pipe that records whether anything opened it for reading.

    A reader blocks until a writer opens the other end, so a poller trying a non-blocking open for
    writing succeeds exactly when some reader is waiting (ENXIO otherwise), then closes, and the
    reader sees an empty file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.005)
                continue
            self.opened = True
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class HttpRecorder:
    """A loopback HTTP server recording the path of every request it gets (answering 404)."""

    def __init__(self) -> None:
        requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requests.append(self.path)
                self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.requests = requests
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def sensors(root: Path) -> Iterator[tuple[Canary, HttpRecorder]]:
    canary, recorder = Canary(root / "secret_upload.mp4"), HttpRecorder()
    try:
        yield canary, recorder
    finally:
        canary.close()
        recorder.close()


def _hls(target: str) -> str:
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\n{target}\n#EXT-X-ENDLIST\n"


def referencing_files(root: Path, canary: Canary, recorder: HttpRecorder) -> dict[str, tuple[Path, str]]:
    """``"kind/name" -> (file, words its refusal must contain)``; every kind under every :data:`NAMES`."""
    kinds = {
        "hls_local": (_hls(str(canary.path)), "playlist"),
        "hls_http": (_hls(f"{recorder.url}/segment.ts"), "playlist"),
        "hls_master": (f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n{recorder.url}/variant.m3u8\n", "playlist"),
        "dash": (
            '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">'
            f"<BaseURL>{recorder.url}/</BaseURL><Period><AdaptationSet mimeType=\"video/mp4\">"
            '<Representation id="1" bandwidth="1"><BaseURL>v.mp4</BaseURL></Representation>'
            "</AdaptationSet></Period></MPD>\n",
            "DASH manifest",
        ),
        "ffconcat": (f"ffconcat version 1.0\nfile '{canary.path}'\nfile '{recorder.url}/b.mp4'\n", "ffconcat list"),
        "sdp": (
            "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=stream\nc=IN IP4 127.0.0.1\nt=0 0\n"
            "m=video 5004 RTP/AVP 96\na=rtpmap:96 H264/90000\n",
            "SDP",
        ),
    }
    files = {}
    for kind, (text, words) in kinds.items():
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for name in NAMES:
            (folder / name).write_text(text)
            files[f"{kind}/{name}"] = (folder / name, words)
    return files


def self_referencing_playlist(path: Path) -> Path:
    """A 150-byte HLS playlist whose one variant is itself (it kept FFmpeg opening it for minutes)."""
    path.write_text(f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{path.absolute()}\n")
    return path


def lavfi_video(path: Path, source: str, *args: str) -> Path:
    """A video from one of ffmpeg's generated sources (``testsrc2=s=WxH:...``), encoded as ``args`` say."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    subprocess.run([*cmd, *args, str(path)], check=True, timeout=120)
    return path


X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of a 1.4 GB pytest reports 1.4 GB.
PEAK_SCRIPT = """
import re, runpy, sys
sys.argv = ["predict", *sys.argv[1:]]
try:
    runpy.run_module("exercise_rec.predict", run_name="__main__")
except SystemExit as exit:
    code = exit.code
with open("/proc/self/status") as status:
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read())[1])
print(f"peak_mb={peak_kb / 1024:.0f}", file=sys.stderr)
sys.exit(code)
"""


def predict_peak(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m exercise_rec.predict ARGS`` in a fresh process: its result and its peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, *args], capture_output=True, text=True, timeout=300, check=False
    )
    lines = done.stderr.splitlines()
    assert lines and lines[-1].startswith("peak_mb="), done.stderr
    return done, float(lines[-1].removeprefix("peak_mb="))
