"""A pose model through the trainer and Predictor: heatmap volumes of the estimator's cached tracks,
the same splits, metrics, checkpoint and calibration as a video model, then predictions, a timeline,
evaluation and the fast path from its best.pt; and what is refused.

Tiny: mobilenet_v2_3d_pose at width 0.25 on 4-frame 32x32 volumes of the trainer tests' synthetic set
(tests/train/common.py); the estimator runs once per video (the cache is warmed before fitting).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from exercise_rec.checkpoint import load_checkpoint, read_meta
from exercise_rec.data.framing import FramingConfig
from exercise_rec.errors import ConfigError
from exercise_rec.evaluate import evaluate
from exercise_rec.inference import Predictor
from exercise_rec.models import ModelInputError
from exercise_rec.pose import PoseTrack
from exercise_rec.pose.cache import TRACK_EVERY, dataset_videos, warm_cache
from exercise_rec.pose.heatmaps import HeatmapConfig, track_volume
from exercise_rec.train.config import TrainConfig, check_trainable
from exercise_rec.train.run import TrainResult, build_datamodule, train
from tests.train.common import CLASSES, CLIP_LEN, SIZE, SORTED_CLASSES, train_config

MODEL = "mobilenet_v2_3d_pose"
KWARGS = {"width_mult": 0.25}


@pytest.fixture(scope="module")
def trained(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainResult]:
    out = tmp_path_factory.mktemp("pose_run") / "exp"
    return out, train(train_config(dataset, out, MODEL, model_kwargs=KWARGS))


@pytest.fixture(scope="module")
def predictor(trained: tuple[Path, TrainResult]) -> Predictor:
    return Predictor.from_checkpoint(trained[1].checkpoint, device="cpu")


def test_a_pose_run_writes_a_checkpoint_that_says_how_to_build_its_input(trained, dataset: Path) -> None:
    out, result = trained
    assert result.checkpoint == out / "best.pt" and result.skipped_files == []
    assert set(result.metrics["test"]) >= {"top1", "macro_f1", "per_class_acc"}
    assert warm_cache(dataset_videos(dataset), progress=False).cached == 12  # warmed before fitting
    model, meta = load_checkpoint(out / "best.pt")
    assert meta.model_name == MODEL and meta.model_kwargs == KWARGS and meta.class_names == SORTED_CLASSES
    # The model name says "pose input"; clip_len is the volume's frames, input_size its heatmaps.
    assert meta.clip_len == CLIP_LEN and meta.input_size == (SIZE, SIZE)
    assert meta.mean == (0.0, 0.0, 0.0) and meta.std == (1.0, 1.0, 1.0)  # volumes are not normalised
    assert meta.framing == {"margin": FramingConfig().margin}  # the crop the volume covers
    with torch.no_grad():
        assert model(torch.rand(2, 17, CLIP_LEN, SIZE, SIZE)).shape == (2, len(CLASSES))
    assert json.loads((out / "config.json").read_text())["clip_len"] == CLIP_LEN


def test_the_data_module_feeds_volumes_for_a_pose_model(dataset: Path, tmp_path: Path) -> None:
    datamodule = build_datamodule(train_config(dataset, tmp_path, MODEL, model_kwargs=KWARGS))
    assert datamodule.heatmaps == HeatmapConfig(frames=CLIP_LEN, size=SIZE) and datamodule.framing is None
    volumes, labels, sources = next(iter(datamodule.val_dataloader()))
    assert volumes.dtype == torch.float32 and volumes.shape[1:] == (17, CLIP_LEN, SIZE, SIZE)
    assert len(labels) == len(sources) == len(volumes)


def test_predictor_predicts_with_a_pose_checkpoint(predictor: Predictor, dataset: Path) -> None:
    assert predictor.is_pose and predictor.heatmaps == HeatmapConfig(frames=CLIP_LEN, size=SIZE)
    video = next((dataset / "squat").glob("*.mp4"))
    result = predictor.predict(video, top_k=2)
    assert result.clip.shape[0] == CLIP_LEN and min(result.clip.shape[1:3]) == 72  # decoded up to 360 px
    assert isinstance(result.pose, PoseTrack) and len(result.pose.keypoints) == CLIP_LEN
    assert result.probs.sum() == pytest.approx(1.0, abs=1e-5) and result.label in CLASSES
    assert result.verdict in ("exercise", "no_exercise", "no_person", "uncertain") and result.reason
    # The input is the track's volume rendered as the dataset's eval split renders it.
    volume = track_volume(result.pose, predictor.heatmaps, framing=predictor.framing)
    np.testing.assert_array_equal(predictor.inputs([result.clip], tracks=[result.pose])[0].numpy(), volume)
    logits = predictor.logits([result.clip], tracks=[result.pose])
    torch.testing.assert_close(predictor.logits([result.clip]), logits)  # tracks found when not given
    np.testing.assert_allclose(result.probs, predictor.probabilities([result.clip])[0].numpy(), rtol=1e-5)


def test_a_pose_timeline_reads_each_windows_part_of_the_video_track(predictor: Predictor, dataset: Path) -> None:
    video = next((dataset / "squat").glob("*.mp4"))
    timeline = predictor.predict_windows(video, stride_s=0.25, window_s=0.5)
    assert timeline.probs.shape == (len(timeline.starts_s), len(CLASSES)) and len(timeline.starts_s) >= 2
    np.testing.assert_allclose(timeline.probs.sum(axis=1), 1.0, rtol=1e-5)
    assert len(timeline.verdicts) == len(timeline.starts_s)
    track = predictor.pose.video(video, every=TRACK_EVERY, progress=False)  # cached: the training track
    first = (track.frame_indices >= 0) & (track.frame_indices < round(timeline.ends_s[0] * track.fps))
    window = PoseTrack(track.keypoints[first], track.presence[first], track.frame_size, track.frame_indices[first])
    with torch.no_grad():
        logits = predictor.model(predictor.volumes([window]))
    expected = (logits / predictor.rule.temperature).softmax(dim=1)[0]
    np.testing.assert_allclose(timeline.probs[0], expected.numpy(), rtol=1e-5, atol=1e-6)


def test_evaluate_and_calibration_work_unchanged(predictor: Predictor, trained, dataset: Path) -> None:
    result = evaluate(predictor, dataset, "test")
    assert result.num_videos == len(CLASSES) and 0.0 <= result.metrics["top1"] <= 1.0
    calibration = read_meta(trained[1].checkpoint).calibration  # the trainer calibrated through Predictor
    assert not calibration or calibration["temperature"] > 0


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_the_fast_path_runs_a_pose_checkpoint(backend: str, predictor: Predictor, trained, dataset: Path) -> None:
    """Exported at [1, 17, T, S, S] and checked against the eager model at build time, then on a real volume."""
    fast = Predictor.from_checkpoint(trained[1].checkpoint, backend=backend)
    assert fast._fast is not None and fast._fast.max_rel_error <= 1e-4
    clip = predictor.decode(next((dataset / "jumping_jack").glob("*.mp4")))
    track = predictor.track(clip)
    torch.testing.assert_close(fast.logits([clip], tracks=[track]), predictor.logits([clip], tracks=[track]),
                               rtol=1e-4, atol=1e-5)  # fmt: skip


def test_a_pose_checkpoint_refuses_clips_and_running_without_the_estimator(trained) -> None:
    best = trained[1].checkpoint
    with pytest.raises(ConfigError, match="cannot run without the person check"):
        Predictor.from_checkpoint(best, person_check=False)
    predictor = Predictor.from_checkpoint(best)
    clip = torch.zeros(CLIP_LEN, 72, 96, 3, dtype=torch.uint8)
    for feed in (predictor.transform, predictor.transform.with_params):  # what CAMs of frames would call
        with pytest.raises(ModelInputError, match="takes pose heatmap volumes.*not clips"):
            feed(clip)


def test_the_trainer_accepts_pose_models_and_refuses_what_they_cannot_have(dataset: Path) -> None:
    config = TrainConfig(data=dataset, model=MODEL)
    check_trainable(config)
    assert config.resolved_clip_len() == 32 and config.resolved_size() == 56  # HeatmapConfig's defaults
    assert config.heatmaps() == HeatmapConfig()
    video = TrainConfig(data=dataset)
    assert video.resolved_clip_len() == 16 and video.resolved_size() == 128 and video.heatmaps() is None
    limbs = TrainConfig(data=dataset, model="posec3d_slowonly", model_kwargs={"in_channels": 34})
    check_trainable(limbs)
    assert limbs.heatmaps() == HeatmapConfig(with_limbs=True)
    with pytest.raises(ConfigError, match="always centred on the person"):
        check_trainable(TrainConfig(data=dataset, model=MODEL, framing="centre"))
    with pytest.raises(ConfigError, match="17 .* or 34"):
        check_trainable(TrainConfig(data=dataset, model=MODEL, model_kwargs={"in_channels": 20}))
    with pytest.raises(ConfigError, match="takes image input.*pose models: mobilenet_v2_3d_pose, posec3d_slowonly"):
        check_trainable(TrainConfig(data=dataset, model="mobilenet_v4_nano"))


def test_the_export_cli_writes_a_pose_checkpoint_at_its_volume_shape(trained, tmp_path: Path, capsys) -> None:
    from exercise_rec.export import main as export_main
    from exercise_rec.fastpath import read_onnx_metadata

    out = tmp_path / "pose.onnx"
    assert export_main(["--checkpoint", str(trained[1].checkpoint), "--out", str(out)]) == 0
    assert "max relative error" in capsys.readouterr().out
    import onnx

    dims = [d.dim_value for d in onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [17, CLIP_LEN, SIZE, SIZE]  # heatmap channels, not RGB
    assert read_onnx_metadata(out)["model_name"] == read_meta(trained[1].checkpoint).model_name
