"""Model zoo. Importing this package registers every family with the registry."""

# Family modules register their builders on import; keep them after the registry import.
from exercise_rec.models import (  # noqa: F401
    i3d,
    mobilenet_v2_3d,
    mobilenet_v4,
    resnet3d,
    torchvision_video,
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
    "LoadReport",
    "ModelCard",
    "ModelEntry",
    "WeightsError",
    "build_model",
    "get_entry",
    "list_models",
    "load_weights",
    "model_card",
    "register_model",
]
