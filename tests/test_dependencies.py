"""The private hooks of other packages that this project builds on, imported as the code uses them.

Why: requirements.txt bounds these packages because the code below subclasses or overrides their
internals; when a new release moves one, this test says which package and what moved, instead of
a training run or a CAM failing somewhere deep.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest


def _has(owner: object, names: tuple[str, ...], package: str) -> None:
    missing = [n for n in names if not hasattr(owner, n)]
    where = f"{package} {version(package)}: {getattr(owner, '__name__', owner)}"
    assert not missing, f"{where} lost {missing}; see requirements.txt"


def test_lightning_csv_logger_internals_used_by_train_loggers() -> None:
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter
    from lightning.pytorch.loggers.logger import rank_zero_experiment  # noqa: F401 (the import is the check)

    _has(ExperimentWriter, ("_check_log_dir_exists", "_rewrite_with_new_header", "log_metrics", "save"), "lightning")
    writer_params = inspect.signature(ExperimentWriter.__init__).parameters
    assert "log_dir" in writer_params, f"lightning {version('lightning')}: ExperimentWriter(log_dir=...) changed"
    logger = CSVLogger("unused", name="logs", version="")
    _has(logger, ("_experiment", "_fs", "root_dir", "log_dir"), "lightning")


def test_grad_cam_internals_overridden_by_explain_cam() -> None:
    from pytorch_grad_cam.base_cam import BaseCAM

    _has(BaseCAM, ("compute_cam_per_layer", "aggregate_multi_layers", "get_cam_image", "forward"), "grad-cam")
    params = list(inspect.signature(BaseCAM.compute_cam_per_layer).parameters)
    assert params == ["self", "input_tensor", "targets", "eigen_smooth"], f"grad-cam {version('grad-cam')}: {params}"
    assert "activations_and_grads" in inspect.getsource(BaseCAM.__init__), f"grad-cam {version('grad-cam')}"


@pytest.mark.parametrize("hook", ["make_params", "transform"])
def test_torchvision_v2_transform_hooks(hook: str) -> None:
    from torchvision.transforms import v2

    assert hook in vars(v2.Transform), f"torchvision {version('torchvision')}: v2.Transform.{hook} is not public"


def test_lightning_internals_used_by_the_trainer_and_datamodule() -> None:
    from lightning.pytorch.callbacks import TQDMProgressBar
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

    sampler = UnrepeatedDistributedSampler(list(range(5)), num_replicas=2, rank=1, shuffle=False)
    assert list(sampler) == [1, 3], f"lightning {version('lightning')}: UnrepeatedDistributedSampler changed"
    bar = TQDMProgressBar()
    _has(bar, ("_train_progress_bar", "_val_progress_bar", "_test_progress_bar"), "lightning")


def test_one_opencv_the_headless_build() -> None:
    """The pose weights' package (mediapipe, installed --no-deps) must not bring a second cv2."""
    from importlib.metadata import PackageNotFoundError, distributions

    dists = {d.metadata["Name"].lower() for d in distributions()}
    others = sorted(dists & {"opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless"})
    assert not others, f"a second OpenCV is installed beside opencv-python-headless: {others}"
    import cv2

    try:
        headless = version("opencv-python-headless")
    except PackageNotFoundError:  # pragma: no cover - the message is the point
        pytest.fail("opencv-python-headless is not installed")
    assert cv2.__version__.split(".")[:2] == headless.split(".")[:2]


def test_pose_weights_package_has_the_bundled_models() -> None:
    from exercise_rec.pose.model_files import WEIGHTS_PACKAGE, WEIGHTS_VERSION, model_files

    assert version(WEIGHTS_PACKAGE) == WEIGHTS_VERSION, "requirements-weights.txt and model_files.py disagree"
    files = model_files()
    assert files.detector.stat().st_size > 1_000_000 and files.landmarker.stat().st_size > 1_000_000
