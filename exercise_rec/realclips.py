"""Real video clips, assembled at run time from registry packages and cached; never committed.

Why: the synthetic videos cannot show whether a verdict survives real footage, and real clips
cannot live in git (size, licences). The few real clips we need ship inside packages the machine
can reach anyway: Debian's ``opencv-doc`` (OpenCV's sample videos) and the ``pose2sim`` wheel on
PyPI (its demo's four camera views of one person). :func:`fetch` downloads the package once,
keeps only the clips, deletes the archive and returns the cached file; later calls touch no
network. When a clip cannot be had, :class:`RealClipUnavailable` says which clip, which package,
the exact command that failed and the end of its stderr, so a skipped test says why.

    python -m exercise_rec.realclips --out /tmp/clips vtest pose2sim_cam01
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import logging
import shlex
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from exercise_rec.cli_common import OneLineParser, cli
from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.io import atomic_path, cache_root

__all__ = ["REAL_CLIPS", "ClipSource", "RealClipUnavailable", "default_cache_dir", "fetch", "fetch_all"]

log = logging.getLogger("exercise_rec.realclips")

TIMEOUT_S = 300
# Verified versions: the wheel is pinned (its paths moved between releases); Debian's archive keeps
# one opencv-doc per release, so the deb is not pinned and the SHA-256 below catches a changed file.
POSE2SIM_SPEC = "pose2sim==0.10.49"
OPENCV_DOC_SPEC = "opencv-doc"
OPENCV_DOC_VERIFIED = "4.6.0+dfsg-12"  # Debian 12 (bookworm)
_OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
_POSE2SIM_VIDEOS = "Pose2Sim/Demo_SinglePerson/videos"


class RealClipUnavailable(ExerciseRecError):
    """A real clip could not be assembled: names the clip, the package, the failed command and its stderr tail."""


@dataclass(frozen=True)
class ClipSource:
    """Where one real clip comes from: a file (``member``) inside a Debian package or a PyPI wheel."""

    kind: Literal["deb", "wheel"]
    package: str  # what apt-get download / pip download is given
    member: str  # path inside the package's file tree (deb) or zip (wheel); a ``.gz`` beside it is also accepted
    description: str
    sha256: str | None = None  # of the clip as verified; a different file is refused, not silently used

    @property
    def suffix(self) -> str:
        return Path(self.member).suffix


def _pose2sim(cam: int, sha256: str, size: str) -> ClipSource:
    return ClipSource("wheel", POSE2SIM_SPEC, f"{_POSE2SIM_VIDEOS}/cam{cam:02d}.mp4",
                      f"Pose2Sim single-person demo, camera {cam}: one person walking, portrait {size}, 60 fps, 100 frames",
                      sha256)  # fmt: skip


REAL_CLIPS: dict[str, ClipSource] = {
    "vtest": ClipSource("deb", OPENCV_DOC_SPEC, f"{_OPENCV_DATA}/vtest.avi",
                        "OpenCV sample: distant pedestrians on a square, fixed camera, 768x576, 10 fps, 795 frames",
                        "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"),
    "megamind": ClipSource("deb", OPENCV_DOC_SPEC, f"{_OPENCV_DATA}/Megamind.avi",
                           "OpenCV sample: Megamind trailer excerpt (animation), 720x528, 23.976 fps, 270 frames",
                           "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5"),
    "pose2sim_cam01": _pose2sim(1, "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a", "1080x1920"),
    "pose2sim_cam02": _pose2sim(2, "94ff87cf978b8406e8aa36ab3c5362e72848994e87652f0dc7a33c315e8e0442", "1080x1920"),
    "pose2sim_cam03": _pose2sim(3, "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca", "1088x1920"),
    "pose2sim_cam04": _pose2sim(4, "b5c0e7863fd70d008e7178d3c556b045b0ea5f78fcd61ca548a0b2e807e641f7", "1088x1920"),
}  # fmt: skip


def default_cache_dir() -> Path:
    """``$EXERCISE_REC_CACHE/realclips``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``exercise_rec/realclips``
    (the project's cache; deleting it only costs a download)."""
    return cache_root() / "realclips"


def fetch(name: str, cache_dir: Path | None = None) -> Path:
    """The cached file of clip ``name``, downloading its package first if needed.

    Why one download serves several clips: the package's other registered clips are extracted at the
    same time (they are small; the archive is not), then the archive is deleted. Each clip is written
    atomically, and a lock per package keeps two processes from downloading it twice.
    """
    source = _source(name)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / f"{name}{source.suffix}"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with _package_lock(folder, source):
        if target.is_file():  # another process fetched it while we waited
            return target
        wanted = {n: s for n, s in REAL_CLIPS.items() if (s.kind, s.package) == (source.kind, source.package)}
        wanted = {n: s for n, s in wanted.items() if n == name or not (folder / f"{n}{s.suffix}").is_file()}
        with tempfile.TemporaryDirectory(prefix=".download-", dir=folder) as tmp:
            archive = _download(name, source, Path(tmp))
            try:
                _extract(archive, wanted, folder)
            except RealClipUnavailable as err:
                raise RealClipUnavailable(f"{_what(name, source)}: {err}") from None
    return target


def fetch_all(names: Iterable[str] | None = None, cache_dir: Path | None = None) -> dict[str, Path]:
    """``{name: cached file}`` for ``names`` (default: every clip of :data:`REAL_CLIPS`)."""
    return {name: fetch(name, cache_dir) for name in (list(REAL_CLIPS) if names is None else names)}


# ----------------------------------------------------------------------- internals


def _source(name: str) -> ClipSource:
    try:
        return REAL_CLIPS[name]
    except KeyError:
        raise ConfigError(f"unknown real clip {name!r}; known: {', '.join(REAL_CLIPS)}") from None


@contextlib.contextmanager
def _package_lock(folder: Path, source: ClipSource) -> Iterator[None]:
    lock = folder / f".{source.kind}-{source.package.replace('=', '_').replace('/', '_')}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _what(name: str, source: ClipSource) -> str:
    return f"real clip {name!r} ({'Debian package' if source.kind == 'deb' else 'PyPI wheel'} {source.package})"


def _tail(text: str | bytes | None, lines: int = 3) -> str:
    """The last non-empty lines of a command's output, on one line (error messages are one line)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    kept = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def _run(name: str, source: ClipSource, command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command``; a missing program, a timeout or a failure becomes :class:`RealClipUnavailable`."""
    shown = shlex.join(command)
    what = _what(name, source)
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        raise RealClipUnavailable(f"{what}: `{shown}` failed: {command[0]} is not installed") from None
    except subprocess.TimeoutExpired as err:
        raise RealClipUnavailable(f"{what}: `{shown}` timed out after {TIMEOUT_S} s: {_tail(err.stderr)} "
                                  "(no network?)") from None  # fmt: skip
    if done.returncode != 0:
        raise RealClipUnavailable(f"{what}: `{shown}` failed (exit {done.returncode}): {_tail(done.stderr)} "
                                  "(no network?)")  # fmt: skip
    return done


def _download(name: str, source: ClipSource, dest: Path) -> Path:
    """Download ``source``'s package into ``dest``; the archive's path."""
    if source.kind == "deb":
        command = ["apt-get", "download", source.package]
        try:
            _run(name, source, command, dest)
        except RealClipUnavailable as err:
            if "Unable to locate package" not in str(err):
                raise
            log.info("apt-get download: package lists missing or stale; running apt-get update once")
            _run(name, source, ["apt-get", "update"], dest)
            _run(name, source, command, dest)
        pattern = "*.deb"
    else:
        _run(name, source, [sys.executable, "-m", "pip", "download", source.package, "--no-deps", "--only-binary=:all:",
                            "--disable-pip-version-check", "--retries", "1", "--timeout", "30", "-d", str(dest)],
             dest)  # fmt: skip
        pattern = "*.whl"
    found = sorted(dest.glob(pattern))
    if not found:
        raise RealClipUnavailable(f"{_what(name, source)}: the download left no {pattern} in {dest}")
    size = found[0].stat().st_size
    log.info("downloaded %s (%.1f MB); extracting %s", found[0].name, size / 1e6, name)
    return found[0]


def _extract(archive: Path, wanted: dict[str, ClipSource], folder: Path) -> None:
    """Copy each wanted clip out of ``archive`` into ``folder`` (atomically, checked against its SHA-256)."""
    members = {s.member: n for n, s in wanted.items()} | {f"{s.member}.gz": n for n, s in wanted.items()}
    done: set[str] = set()

    def save(member: str, stream: IO[bytes]) -> None:
        name = members[member]
        source = wanted[name]
        if member.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
        target = folder / f"{name}{source.suffix}"
        with atomic_path(target) as tmp:
            digest = hashlib.sha256()
            with open(tmp, "wb") as out:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if source.sha256 and digest.hexdigest() != source.sha256:
                raise RealClipUnavailable(f"{member} in {archive.name} is not the verified file for {name!r} "
                                          f"(sha256 {digest.hexdigest()}, expected {source.sha256})")  # fmt: skip
        done.add(name)

    if archive.suffix == ".whl":
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    if member in members and members[member] not in done:
                        with zf.open(member) as stream:
                            save(member, stream)
        except zipfile.BadZipFile as err:
            raise RealClipUnavailable(f"{archive.name} is not a readable wheel: {err}") from None
    else:
        _extract_deb(archive, members, done, save)
    missing = sorted(set(wanted) - done)
    if missing:
        raise RealClipUnavailable(f"{archive.name} has no {', '.join(wanted[n].member for n in missing)} "
                                  f"(clips {', '.join(missing)}): the package's layout changed")  # fmt: skip


def _extract_deb(archive: Path, members: dict[str, str], done: set[str], save: Callable[[str, IO[bytes]], None]) -> None:
    """Stream the package's file tree from ``dpkg-deb --fsys-tarfile`` (any compression) and save the wanted
    members; the 270 MB tree is never written out, and reading stops once every wanted clip is saved."""
    command = ["dpkg-deb", "--fsys-tarfile", str(archive)]
    shown = shlex.join(command)
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise RealClipUnavailable(f"`{shown}` failed: dpkg-deb is not installed") from None
    assert proc.stdout is not None and proc.stderr is not None
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(TIMEOUT_S, stop)
    watchdog.start()
    try:
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for info in tar:
                    member = info.name.removeprefix("./")
                    if member in members and members[member] not in done and info.isfile():
                        stream = tar.extractfile(info)
                        assert stream is not None
                        save(member, stream)
                        if done >= set(members.values()):
                            return  # the rest of the tree is not needed
        except tarfile.TarError as err:
            problem = f"gave no readable file tree ({err})"
        else:
            problem = ""
        proc.stdout.close()
        returncode = proc.wait()
        if timed_out.is_set():
            raise RealClipUnavailable(f"`{shown}` timed out after {TIMEOUT_S} s")
        if problem or returncode != 0:
            raise RealClipUnavailable(f"`{shown}` {problem or 'failed'} (exit {returncode}): {_tail(proc.stderr.read())}")
    finally:
        watchdog.cancel()
        proc.kill()  # a no-op once dpkg-deb has exited; stops it early when we return mid-stream
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# ----------------------------------------------------------------------- command line


def _clip_name(text: str) -> str:
    if text not in REAL_CLIPS:
        raise argparse.ArgumentTypeError(f"unknown clip {text!r}; known: {', '.join(REAL_CLIPS)}")
    return text


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m exercise_rec.realclips",
                      description="Download (once) and cache real video clips from Debian's opencv-doc and the "
                      "pose2sim wheel; print each clip's path. Clips: " + ", ".join(REAL_CLIPS) + ".")  # fmt: skip
    p.add_argument("names", nargs="*", type=_clip_name, metavar="NAME",
                   help=f"clips to fetch (default: all): {', '.join(REAL_CLIPS)}")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help=f"cache folder (default {default_cache_dir()})")
    return p


def _run_cli(args: argparse.Namespace) -> int:
    for path in fetch_all(args.names or None, args.out).values():
        print(path)
    return 0


main = cli(build_parser, _run_cli)


if __name__ == "__main__":
    raise SystemExit(main())
