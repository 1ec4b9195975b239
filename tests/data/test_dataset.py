"""ExerciseVideoDataset / ExerciseVideoDataModule on tiny folders made here (both layouts)."""

from __future__ import annotations

import csv
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from exercise_rec.data import (
    DatasetError,
    ExerciseVideoDataModule,
    ExerciseVideoDataset,
    LongLayoutConfig,
    build_transforms,
    write_video,
)
from exercise_rec.data.datamodule import default_num_workers

from .conftest import coded_frames, frame_ids

CLASSES = ("squat", "lunge", "plank")  # deliberately unsorted
PER_CLASS = 5
FRAMES = 12


def _make_folder(root: Path, classes: tuple[str, ...] = CLASSES, per_class: int = PER_CLASS) -> Path:
    """Video ``<class>/<class>_<k>.mp4`` shows frame numbers 100*class_index + 10*k + (0..FRAMES-1)."""
    for c, name in enumerate(classes):
        for k in range(per_class):
            first = 100 * c + 10 * k
            write_video(root / name / f"{name}_{k}.mp4", coded_frames(FRAMES, 24, 40, first=first), 10, preset="ultrafast")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_folder(tmp_path_factory.mktemp("folder"))


@pytest.fixture
def folder_copy(folder: Path, tmp_path: Path) -> Path:
    """A private copy a test may damage."""
    return Path(shutil.copytree(folder, tmp_path / "ds"))


def _files(ds: ExerciseVideoDataset) -> set[str]:
    return {str(item.path.relative_to(ds.root)) for item in ds.items}


# ---------------------------------------------------------------- folder layout and splits


def test_folder_layout_classes_sorted_and_items_decode(folder: Path) -> None:
    ds = ExerciseVideoDataset(folder, split=None, clip_len=4)
    assert ds.class_names == ("lunge", "plank", "squat")
    assert len(ds) == len(CLASSES) * PER_CLASS and not ds.is_long_layout
    for index in range(len(ds)):
        clip, label = ds[index]
        assert clip.dtype == torch.uint8 and clip.shape == (4, 24, 40, 3)
        item = ds.items[index]
        assert item.path.parent.name == ds.class_names[label]
        c, k = CLASSES.index(item.path.parent.name), int(item.path.stem.split("_")[1])
        assert frame_ids(clip) == [100 * c + 10 * k + f for f in (1, 4, 7, 10)]  # uniform over 12 frames


def test_stratified_split_is_a_deterministic_partition(folder: Path) -> None:
    parts = {s: _files(ExerciseVideoDataset(folder, s, seed=7)) for s in ("train", "val", "test")}
    assert set.union(*parts.values()) == _files(ExerciseVideoDataset(folder, None))
    assert sum(map(len, parts.values())) == len(CLASSES) * PER_CLASS  # disjoint
    for name in CLASSES:  # 5 per class -> 3 train, 1 val, 1 test in every class
        assert [sum(f.startswith(name + "/") for f in parts[s]) for s in ("train", "val", "test")] == [3, 1, 1]
    assert parts["val"] == _files(ExerciseVideoDataset(folder, "val", seed=7))
    assert len({frozenset(_files(ExerciseVideoDataset(folder, "val", seed=s))) for s in range(6)}) > 1


def test_split_of_a_class_does_not_depend_on_other_classes(folder: Path, tmp_path: Path) -> None:
    bigger = Path(shutil.copytree(folder, tmp_path / "more"))
    _make_folder(bigger, classes=("burpee",), per_class=3)
    for split in ("train", "val", "test"):
        before = _files(ExerciseVideoDataset(folder, split, seed=1))
        after = {f for f in _files(ExerciseVideoDataset(bigger, split, seed=1)) if not f.startswith("burpee/")}
        assert before == after


def test_split_files_are_used_and_missing_entries_skipped(
    folder_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (folder_copy / "train.txt").write_text("# comment\nsquat/squat_0.mp4\n\nlunge/lunge_1.mp4\nplank/gone.mp4\n")
    (folder_copy / "val.txt").write_text("plank/plank_2.mp4\n")
    with caplog.at_level(logging.WARNING):
        train = ExerciseVideoDataset(folder_copy, "train", clip_len=2)
    assert _files(train) == {"squat/squat_0.mp4", "lunge/lunge_1.mp4", "plank/gone.mp4"}
    assert "gone.mp4" in caplog.text
    assert list(train.skipped) == [str(folder_copy / "plank" / "gone.mp4")]
    labels = {train.class_names[label] for _, label in (train[i] for i in range(len(train)))}
    assert labels == {"squat", "lunge"}  # the missing file is never returned
    assert _files(ExerciseVideoDataset(folder_copy, "val")) == {"plank/plank_2.mp4"}
    with pytest.raises(DatasetError, match="no test.txt") as info:
        ExerciseVideoDataset(folder_copy, "test")
    assert str(folder_copy) in str(info.value)


def test_transform_is_applied(folder: Path) -> None:
    ds = ExerciseVideoDataset(folder, "val", clip_len=4, transform=build_transforms(False, (16, 16)))
    clip, _ = ds[0]
    assert clip.dtype == torch.float32 and clip.shape == (3, 4, 16, 16)


def test_random_sampling_follows_torch_seed(folder: Path) -> None:
    ds = ExerciseVideoDataset(folder, "train", clip_len=3)
    assert ds.sampling == "random"
    torch.manual_seed(5)
    a = frame_ids(ds[0][0])
    torch.manual_seed(5)
    assert frame_ids(ds[0][0]) == a
    assert len({tuple(frame_ids(ds[0][0])) for _ in range(8)}) > 1


# ---------------------------------------------------------------- unreadable files and errors


def test_corrupt_file_is_reported_once_and_skipped(folder_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = folder_copy / "plank" / "plank_9.mp4"
    bad.write_bytes(bytes(range(256)) * 10)  # binary, no container signature
    ds = ExerciseVideoDataset(folder_copy, None, clip_len=2)
    k = next(i for i, item in enumerate(ds.items) if item.path == bad)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            clip, label = ds[k]
            assert clip.shape[0] == 2
            assert ds.items[(k + 1) % len(ds)].label == label  # the next item stands in
    skipped = f"{bad}: skipped, not a video (no recognised container format)"
    assert [r.getMessage() for r in caplog.records].count(skipped) == 1
    assert ds.skipped == {str(bad): "not a video (no recognised container format)"}


def test_skips_in_dataloader_workers_reach_the_main_process(folder_copy: Path) -> None:
    bad = folder_copy / "lunge" / "lunge_0.mp4"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    ds = ExerciseVideoDataset(folder_copy, None, clip_len=2)
    labels = [int(y) for _, ys in DataLoader(ds, batch_size=4, num_workers=2) for y in ys]
    assert len(labels) == len(ds)
    assert list(ds.skipped) == [str(bad)]
    assert "truncated" in ds.skipped[str(bad)] or "no video stream" in ds.skipped[str(bad)]


def test_every_file_unreadable_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "squat").mkdir()
    (tmp_path / "squat" / "a.mp4").write_text("x")
    ds = ExerciseVideoDataset(tmp_path, None)
    with pytest.raises(DatasetError, match="unreadable") as info:
        ds[0]
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    ("layout", "match"),
    [
        ("missing", "not found"),
        ("no_classes", "no class folders"),
        ("empty_class", "without videos: plank"),
        ("empty_split", "split 'test' has no clips"),
    ],
)
def test_empty_dataset_errors_name_the_root(layout: str, match: str, tmp_path: Path) -> None:
    root = tmp_path / "data"
    if layout != "missing":
        root.mkdir()
    if layout in ("empty_class", "empty_split"):
        write_video(root / "squat" / "a.mp4", coded_frames(2, 16, 16), 5)
        write_video(root / "squat" / "b.mp4", coded_frames(2, 16, 16), 5)
    if layout == "empty_class":
        (root / "plank").mkdir()
        (root / "plank" / "notes.txt").write_text("no videos here")
    with pytest.raises(DatasetError, match=match) as info:
        ExerciseVideoDataset(root, "test")  # 2 videos: 1 train, 1 val, 0 test
    assert isinstance(info.value, ValueError) and str(root) in str(info.value)


# ---------------------------------------------------------------- long recordings


def _make_long(root: Path, runs: list[tuple[str, int]], name: str = "rec_0", first: int = 0) -> list[str]:
    per_frame = [label for label, length in runs for _ in range(length)]
    write_video(root / "videos" / f"{name}.mp4", coded_frames(len(per_frame), 24, 40, first=first), 10, preset="ultrafast")
    (root / "labels").mkdir(exist_ok=True)
    with open(root / "labels" / f"{name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "label"])
        writer.writerows(enumerate(per_frame))
    return per_frame


def test_long_layout_clips_stay_inside_one_label(tmp_path: Path) -> None:
    truth = {
        "rec_0": _make_long(tmp_path, [("no_exercise", 20), ("squat", 30), ("no_exercise", 3), ("lunge", 25)]),
        "rec_1": _make_long(tmp_path, [("lunge", 12), ("no_exercise", 18)], "rec_1", first=500),
    }
    (tmp_path / "split.csv").write_text("id,split\nrec_0,train\nrec_1,val\n")
    config = LongLayoutConfig(window=16, stride=8, min_frames=5)
    train = ExerciseVideoDataset(tmp_path, "train", clip_len=4, long_layout=config)
    assert train.is_long_layout and train.class_names == ("lunge", "no_exercise", "squat")
    assert {item.path.stem for item in train.items} == {"rec_0"}
    windows = [(train.class_names[item.label], item.start, item.stop) for item in train.items]
    assert ("no_exercise", 50, 53) not in windows  # a 3-frame run is shorter than min_frames
    assert ("squat", 20, 36) in windows and ("squat", 34, 50) in windows  # last window flush with the run end
    for index in range(len(train)):
        clip, label = train[index]
        ids = frame_ids(clip)
        item = train.items[index]
        assert all(item.start <= i < item.stop for i in ids)
        assert {truth["rec_0"][i] for i in ids} == {train.class_names[label]}
    val = ExerciseVideoDataset(tmp_path, "val", clip_len=4, long_layout=config)
    assert {train.class_names[y] for y in val.labels} == {"lunge", "no_exercise"}
    for index in range(len(val)):
        clip, label = val[index]
        assert {truth["rec_1"][i - 500] for i in frame_ids(clip)} == {val.class_names[label]}


def test_long_layout_headerless_columns_and_derived_split(tmp_path: Path) -> None:
    for k in range(4):
        _make_long(tmp_path, [("squat", 10), ("no_exercise", 10)], f"rec_{k}")
        rows = (tmp_path / "labels" / f"rec_{k}.csv").read_text().splitlines()[1:]
        (tmp_path / "labels" / f"rec_{k}.csv").write_text("\n".join(f"x,{r.split(',')[1]},{r.split(',')[0]}" for r in rows))
    config = LongLayoutConfig(frame_column=2, label_column=1, header=False, window=10, stride=10)
    parts = {
        s: {i.path.stem for i in ExerciseVideoDataset(tmp_path, s, long_layout=config, seed=3).items}
        for s in ("train", "val", "test")
    }
    assert sorted(map(len, parts.values())) == [1, 1, 2]
    assert set.union(*parts.values()) == {f"rec_{k}" for k in range(4)}
    ds = ExerciseVideoDataset(tmp_path, None, clip_len=2, long_layout=config)
    assert sorted((i.path.stem, i.start, i.stop, ds.class_names[i.label]) for i in ds.items)[:2] == [
        ("rec_0", 0, 10, "squat"),
        ("rec_0", 10, 20, "no_exercise"),
    ]


# ---------------------------------------------------------------- DataModule


def test_datamodule_loaders_and_defaults(folder: Path) -> None:
    dm = ExerciseVideoDataModule(folder, clip_len=4, size=16, batch_size=2, num_workers=0)
    dm.setup("fit")
    assert dm.class_names == ("lunge", "plank", "squat")
    raw, _ = dm.train_dataset[0]
    assert raw.dtype == torch.uint8 and min(raw.shape[1:3]) == 16  # decoded at the short side of size
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (2, 3, 4, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    loader = dm.val_dataloader()
    assert not loader.persistent_workers and loader.pin_memory == torch.cuda.is_available()
    assert sum(len(b[1]) for b in loader) == len(dm.val_dataset) == 3
    assert dm.skipped_files == {}


def test_datamodule_worker_defaults_and_debug() -> None:
    assert default_num_workers(debug=True) == 0
    assert default_num_workers() == max(0, len(__import__("os").sched_getaffinity(0)) - 1)
    dm = ExerciseVideoDataModule("unused", debug=True)
    assert dm.num_workers == 0


def test_datamodule_persistent_workers_when_any(folder: Path) -> None:
    dm = ExerciseVideoDataModule(folder, clip_len=2, size=8, batch_size=4, num_workers=1)
    loader = dm.val_dataloader()
    assert loader.num_workers == 1 and loader.persistent_workers


def test_decoding_prediction_and_app_do_not_import_lightning() -> None:
    """Lightning costs ~1.2 s and ~100 MB to import; only training (the DataModule) may load it."""
    code = (
        "import sys, exercise_rec.data, exercise_rec.inference, exercise_rec.explain, exercise_rec.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')))\n"
        "from exercise_rec.data import ExerciseVideoDataModule\n"
        "print('lightning.pytorch' in sys.modules, ExerciseVideoDataModule.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    before, after = result.stdout.splitlines()[-2:]
    assert before == "[]", f"imported without training: {before}"
    assert after == "True exercise_rec.data.datamodule"


def test_unknown_attribute_of_data_package_is_an_attribute_error() -> None:
    import exercise_rec.data

    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        exercise_rec.data.NoSuchThing  # noqa: B018
