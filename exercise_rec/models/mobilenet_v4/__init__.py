"""MobileNet-v4: the seed document's 2D image family and its video form (TSM temporal shift).

Importing this package registers ``mobilenet_v4_{nano,small,medium,large,hybrid_large,custom}``
(2D) and ``mobilenet_v4_{nano,small,medium,large,hybrid_large}_video`` with the model registry.
"""

from exercise_rec.models.mobilenet_v4.attention import MobileMQA, MultiQueryAttention2d
from exercise_rec.models.mobilenet_v4.blocks import (
    SE,
    UIB,
    ConvNormAct,
    ExtraDW,
    FusedIB,
    Residual,
    Stem,
)
from exercise_rec.models.mobilenet_v4.config import VARIANTS, MobileNetV4Config
from exercise_rec.models.mobilenet_v4.model import (
    CAM_LAYERS,
    STAGE_NAMES,
    ClassifierHead,
    MobileNetV4,
    SampleSafeBatchNorm1d,
    mobilenet_v4_custom,
    mobilenet_v4_hybrid_large,
    mobilenet_v4_large,
    mobilenet_v4_medium,
    mobilenet_v4_nano,
    mobilenet_v4_small,
)
from exercise_rec.models.mobilenet_v4.video import (
    VIDEO_CAM_LAYERS,
    MobileNetV4Video,
    MobileNetV4VideoConfig,
    ToVideo,
    mobilenet_v4_hybrid_large_video,
    mobilenet_v4_large_video,
    mobilenet_v4_medium_video,
    mobilenet_v4_nano_video,
    mobilenet_v4_small_video,
    temporal_shift,
)

__all__ = [
    "CAM_LAYERS",
    "SE",
    "STAGE_NAMES",
    "UIB",
    "VARIANTS",
    "VIDEO_CAM_LAYERS",
    "ClassifierHead",
    "ConvNormAct",
    "ExtraDW",
    "FusedIB",
    "MobileMQA",
    "MobileNetV4",
    "MobileNetV4Config",
    "MobileNetV4Video",
    "MobileNetV4VideoConfig",
    "MultiQueryAttention2d",
    "Residual",
    "SampleSafeBatchNorm1d",
    "Stem",
    "ToVideo",
    "mobilenet_v4_custom",
    "mobilenet_v4_hybrid_large",
    "mobilenet_v4_hybrid_large_video",
    "mobilenet_v4_large",
    "mobilenet_v4_large_video",
    "mobilenet_v4_medium",
    "mobilenet_v4_medium_video",
    "mobilenet_v4_nano",
    "mobilenet_v4_nano_video",
    "mobilenet_v4_small",
    "mobilenet_v4_small_video",
    "temporal_shift",
]
