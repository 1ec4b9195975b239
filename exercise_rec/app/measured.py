"""What the project measured about each shipped checkpoint's CAMs, for the Grad-CAM tab's defaults and notes.

Why in the app: the tab used to open on Grad-CAM at the last layer, the choice the faithfulness
measurement finds weakest; it now opens on the method and layer that localise best for the chosen
checkpoint and shows the measured figure beside every choice, so a class sees how far to trust a map.
The figures are the README's faithfulness table (``python -m exercise_rec.faithfulness`` on 51
synthetic videos, seed 4242, with the framing crop predictions use; re-measured 2026-11-29 for the
round-5 standard and round-4 high_temporal files): energy inside the person mask as a multiple of
chance, and the pointing-game hit rate. They hold for the shipped files of these names; any other
checkpoint says "not measured".
"""

from __future__ import annotations

# checkpoint file -> (layer, method) -> (energy ratio to chance, pointing hit rate)
FAITHFULNESS: dict[str, dict[tuple[str, str], tuple[float, float]]] = {
    "mobilenet_v2_3d_standard.pt": {
        ("features.1", "gradcam"): (1.56, 0.846),
        ("features.1", "hirescam"): (1.67, 0.875),
        ("features.3", "gradcam"): (1.92, 0.870),
        ("features.3", "hirescam"): (2.03, 0.873),
        ("features.6", "gradcam"): (1.75, 0.641),
        ("features.6", "hirescam"): (1.83, 0.810),
        ("features.10", "gradcam"): (1.71, 0.605),
        ("features.10", "hirescam"): (1.72, 0.735),
        ("features.13", "gradcam"): (1.51, 0.477),
        ("features.13", "hirescam"): (1.45, 0.562),
        ("features.16", "gradcam"): (1.44, 0.550),
        ("features.16", "hirescam"): (1.57, 0.675),
        ("features.17", "gradcam"): (1.46, 0.740),
        ("features.17", "hirescam"): (1.51, 0.730),
        ("features.18", "gradcam"): (1.52, 0.730),
        ("features.18", "hirescam"): (1.52, 0.730),
    },
    "mobilenet_v2_3d_high_temporal.pt": {
        ("features.1", "gradcam"): (1.56, 0.836),
        ("features.1", "hirescam"): (1.85, 0.903),
        ("features.3", "gradcam"): (1.77, 0.887),
        ("features.3", "hirescam"): (2.06, 0.888),
        ("features.6", "gradcam"): (1.52, 0.625),
        ("features.6", "hirescam"): (1.83, 0.858),
        ("features.10", "gradcam"): (1.87, 0.664),
        ("features.10", "hirescam"): (1.76, 0.718),
        ("features.13", "gradcam"): (1.65, 0.623),
        ("features.13", "hirescam"): (1.63, 0.616),
        ("features.16", "gradcam"): (1.43, 0.618),
        ("features.16", "hirescam"): (1.55, 0.689),
        ("features.17", "gradcam"): (1.42, 0.754),
        ("features.17", "hirescam"): (1.47, 0.716),
        ("features.18", "gradcam"): (1.48, 0.716),
        ("features.18", "hirescam"): (1.48, 0.716),
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
