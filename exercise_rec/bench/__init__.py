"""``python -m exercise_rec.bench``: the performance issue's benchmark table, one section per module.

Sections: ``inference`` (model zoo and fast path against r3d_18), ``decode`` (``read_clip`` against
decoding every frame, with peak RSS), ``loader`` (augmented clips/s against the training step),
``cam`` (explanations against forward+backward), ``e2e`` (``Predictor.predict``, eager against the
fast path), ``gpu`` (CUDA training precision set-ups; ``--gpu``). ``timing`` holds the one timing
rule, ``report`` the rows, ratios, targets and the table, ``media`` the cached input files.
"""
