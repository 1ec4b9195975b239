"""exercise_rec: exercise recognition in video with 3D CNNs, explained with Grad-CAM / HiResCAM."""

from exercise_rec.errors import ExerciseRecError

__version__ = "0.1.0"
__all__ = ["ExerciseRecError", "__version__"]
