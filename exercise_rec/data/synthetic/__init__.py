"""Synthetic exercise videos with ground-truth person masks and 2D joints (no dataset can be downloaded here).

Modules: ``figure`` (body and kinematics), ``motions`` (one program per class), ``render``
(drawing, room, camera, degradation) and ``generate`` (whole videos, dataset layouts, workers).
"""

from exercise_rec.data.synthetic.figure import JOINT_NAMES
from exercise_rec.data.synthetic.generate import (
    SynthConfig,
    SynthError,
    SynthVideo,
    generate_dataset,
    generate_long,
    prepare_output_dir,
    render_clip,
    render_recording,
    video_rng,
)
from exercise_rec.data.synthetic.motions import BACKGROUND_CLASS, CLASS_NAMES

__all__ = [
    "BACKGROUND_CLASS",
    "CLASS_NAMES",
    "JOINT_NAMES",
    "SynthConfig",
    "SynthError",
    "SynthVideo",
    "generate_dataset",
    "generate_long",
    "prepare_output_dir",
    "render_clip",
    "render_recording",
    "video_rng",
]
