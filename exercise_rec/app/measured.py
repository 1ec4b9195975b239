"""What the project measured about each shipped checkpoint's CAMs, for the Grad-CAM tab's defaults and notes.

Why in the app: the tab used to open on Grad-CAM at the last layer, the choice the faithfulness
measurement finds weakest; it now opens on the method and layer that localise best for the chosen
checkpoint and shows the measured figure beside every choice, so a class sees how far to trust a map.
The figures are the README's faithfulness table (``python -m exercise_rec.faithfulness`` on 51
synthetic videos, seed 4242): energy inside the person mask as a multiple of chance, and the
pointing-game hit rate. They hold for the shipped files of these names; any other checkpoint says
"not measured".
"""

from __future__ import annotations

# checkpoint file -> (layer, method) -> (energy ratio to chance, pointing hit rate)
FAITHFULNESS: dict[str, dict[tuple[str, str], tuple[float, float]]] = {
    "mobilenet_v2_3d_standard.pt": {
        ("features.1", "gradcam"): (1.87, 0.749),
        ("features.1", "hirescam"): (1.85, 0.821),
        ("features.3", "gradcam"): (1.98, 0.808),
        ("features.3", "hirescam"): (2.45, 0.873),
        ("features.6", "gradcam"): (1.95, 0.555),
        ("features.6", "hirescam"): (2.36, 0.811),
        ("features.10", "gradcam"): (2.39, 0.708),
        ("features.10", "hirescam"): (2.3, 0.734),
        ("features.13", "gradcam"): (1.68, 0.498),
        ("features.13", "hirescam"): (1.88, 0.597),
        ("features.16", "gradcam"): (1.82, 0.504),
        ("features.16", "hirescam"): (2.04, 0.586),
        ("features.17", "gradcam"): (1.83, 0.675),
        ("features.17", "hirescam"): (1.91, 0.632),
        ("features.18", "gradcam"): (1.92, 0.648),
        ("features.18", "hirescam"): (1.92, 0.648),
    },
    "mobilenet_v2_3d_high_temporal.pt": {
        ("features.1", "gradcam"): (1.78, 0.798),
        ("features.1", "hirescam"): (2.22, 0.874),
        ("features.3", "gradcam"): (2.16, 0.852),
        ("features.3", "hirescam"): (2.57, 0.870),
        ("features.6", "gradcam"): (2.39, 0.710),
        ("features.6", "hirescam"): (2.44, 0.830),
        ("features.10", "gradcam"): (2.38, 0.701),
        ("features.10", "hirescam"): (2.33, 0.727),
        ("features.13", "gradcam"): (1.95, 0.642),
        ("features.13", "hirescam"): (2.06, 0.661),
        ("features.16", "gradcam"): (1.7, 0.400),
        ("features.16", "hirescam"): (1.9, 0.549),
        ("features.17", "gradcam"): (1.73, 0.609),
        ("features.17", "hirescam"): (1.8, 0.570),
        ("features.18", "gradcam"): (1.82, 0.569),
        ("features.18", "hirescam"): (1.82, 0.569),
    },
}
POINTING_BAR = 0.8  # a layer whose maximum lands on the person less often than this is not a default


def best_choice(checkpoint: str) -> tuple[str, str] | None:
    """(layer, method) with the highest energy ratio among those pointing at the person at least
    ``POINTING_BAR`` of the time; None when the checkpoint was not measured."""
    rows = FAITHFULNESS.get(checkpoint, {})
    passing = [(ratio, key) for key, (ratio, pointing) in rows.items() if pointing >= POINTING_BAR]
    return max(passing)[1] if passing else None


def measured_note(checkpoint: str, layer: str | None, method: str) -> str:
    """One line: the README's figure for this checkpoint, layer and method, or why there is none."""
    if method == "eigencam":
        return "EigenCAM is class-agnostic: the faithfulness table scores class maps only."
    figure = FAITHFULNESS.get(checkpoint, {}).get((layer or "", method))
    if figure is None:
        measured = "" if checkpoint in FAITHFULNESS else " for this checkpoint"
        return f"Not measured{measured} (the README's faithfulness table covers Grad-CAM and HiResCAM of the shipped files)."
    ratio, pointing = figure
    verdict = "localises well" if ratio >= 2 and pointing >= POINTING_BAR else "localises less well"
    return (
        f"Measured ({checkpoint}, `{layer}`, {method}): **{ratio:.2f}x** chance energy on the person, "
        f"**{pointing:.0%}** of maxima on the person (51 synthetic videos) — {verdict} (2x / 80%)."
    )
