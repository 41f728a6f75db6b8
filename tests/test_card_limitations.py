"""The card's Known limitations name every class a user would call rare: under the validation threshold on class
presence and near it (fashion's pullover in 2.2% of the shipped samples passes a 2% threshold)."""

from __future__ import annotations

from synth.card.card import limitations_section
from synth.recipe.load import parse_recipe
from tests.conftest import tiny_recipe


def _classes_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("- Rare classes")]
    assert len(lines) <= 1
    return lines[0] if lines else ""


def test_classes_under_and_near_the_presence_threshold_are_named_with_their_share():
    data = tiny_recipe()
    data["validation"] = {"min_class_presence": 0.02}
    recipe = parse_recipe(data, "recipes/tiny.yaml")
    presence = {"pullover": 0.022, "bag": 0.015, "shirt": 0.05, "coat": 0.039, "tshirt": 0.07, "dress": 0.0}
    validation = {"classes": {name: {"presence": p} for name, p in presence.items()}}
    text = limitations_section(recipe, validation, {})
    line = _classes_line(text)
    assert "bag 1.5% (under it), pullover 2.2%, coat 3.9%." in line  # rarest first, under the threshold marked
    assert "4.0% of the samples" in line and "threshold of 2.0%" in line
    assert "shirt" not in line.replace("tshirt", "")  # 5% and 7%: common enough, not named
    assert "- Never in a mask: dress." in text

    common = {"classes": {name: {"presence": 0.3} for name in presence}}
    assert _classes_line(limitations_section(recipe, common, {})) == ""
