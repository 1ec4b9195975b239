"""Model zoo. Importing this package registers every family with the registry.

Every model is a :class:`Classifier` (``forward_features``, ``forward_head``, ``reset_classifier``,
``cam_layers``) and refuses an input of another kind than its registration's ``input_kind`` with a
:class:`ModelInputError`; bad options raise :class:`exercise_rec.errors.ConfigError`.
"""

# Family modules register their builders on import; keep them after the registry import.
from exercise_rec.models import (  # noqa: F401
    i3d,
    mobilenet_v2_3d,
    mobilenet_v4,
    pose_c3d,
    resnet3d,
    torchvision_video,
)
from exercise_rec.models.interface import (
    INPUT_KINDS,
    Classifier,
    InputKind,
    ModelInputError,
    check_clip,
)
from exercise_rec.models.registry import (
    ModelCard,
    ModelEntry,
    build_model,
    get_entry,
    list_models,
    model_card,
    register_model,
)
from exercise_rec.models.weights import LoadReport, WeightsError, load_weights

__all__ = [
    "INPUT_KINDS",
    "Classifier",
    "InputKind",
    "LoadReport",
    "ModelCard",
    "ModelEntry",
    "ModelInputError",
    "WeightsError",
    "build_model",
    "check_clip",
    "get_entry",
    "list_models",
    "load_weights",
    "model_card",
    "register_model",
]
