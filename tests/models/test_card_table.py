"""The shipped model-card table (what the app's Models tab shows) matches a fresh measurement."""

from __future__ import annotations

import pytest

from exercise_rec.models import card_table, list_models


@pytest.mark.heavy
def test_the_shipped_cards_match_the_models_as_they_are_now() -> None:
    shipped = card_table.shipped()
    assert sorted(shipped) == list_models(), "regenerate with: python -m exercise_rec.models.card_table"
    stale = [name for name in list_models() if card_table.measure(name) != shipped[name]]
    assert not stale, f"cards of {stale} changed; regenerate with: python -m exercise_rec.models.card_table"


def test_a_model_the_table_does_not_list_is_measured(monkeypatch) -> None:
    monkeypatch.setattr(card_table, "shipped", lambda: {})
    card = card_table.card("mobilenet_v2_3d")
    assert card["params"] > 0 and card["flops"] > 0 and card["cam_layers"]
