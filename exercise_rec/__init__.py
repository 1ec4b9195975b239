"""exercise_rec: exercise recognition in video with 3D CNNs, explained with Grad-CAM / HiResCAM."""

__version__ = "0.1.0"
