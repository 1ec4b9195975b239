"""Synthetic exercise videos with ground-truth person masks and 2D joints (no dataset can be downloaded here).

Modules: ``figure`` (body and kinematics); ``motions`` (the classes) with their programs in
``upright`` and ``floor`` and timing helpers in ``rhythm``; ``render`` (drawing, room, camera,
degradation); ``scene`` (whole videos in memory) and ``generate`` (files, splits, workers).
"""

from exercise_rec.data.synthetic.figure import JOINT_NAMES
from exercise_rec.data.synthetic.generate import (
    generate_dataset,
    generate_long,
    prepare_output_dir,
)
from exercise_rec.data.synthetic.motions import BACKGROUND_CLASS, CLASS_NAMES
from exercise_rec.data.synthetic.scene import (
    APPEARANCE_DOMAINS,
    LAYOUT_PRESETS,
    AppearanceDomain,
    Layout,
    SynthConfig,
    SynthError,
    SynthVideo,
    render_clip,
    render_recording,
    video_rng,
)

__all__ = [
    "APPEARANCE_DOMAINS",
    "BACKGROUND_CLASS",
    "CLASS_NAMES",
    "JOINT_NAMES",
    "LAYOUT_PRESETS",
    "AppearanceDomain",
    "Layout",
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
