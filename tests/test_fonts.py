"""Class names in any script are drawn with real glyphs where a covering font is installed, with one note if not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from synth.core import fonts

NAMES = "Küchentisch Fuß Ωμέγα Жук 茶碗"


def _drawn(text: str, font) -> np.ndarray:
    image = Image.new("L", (400, 24))
    ImageDraw.Draw(image).text((2, 2), text, fill=255, font=font)
    return np.asarray(image)


def test_label_font_covers_latin_greek_cyrillic_and_cjk():
    if not any("CJK" in path for path in fonts.candidates()):
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    font = fonts.label_font(14)
    assert fonts.missing_glyphs(font, NAMES) == []
    boxes = fonts.NOTDEF_PROBE * 2
    assert not np.array_equal(_drawn("茶碗", font), _drawn(boxes, font))  # glyphs, not two missing-glyph boxes


def test_without_a_cjk_font_it_falls_back_and_says_so_once(monkeypatch, capsys):
    dejavu = [p for p in fonts.KNOWN_FILES if "DejaVu" in p and __import__("os").path.isfile(p)]
    if not dejavu:
        pytest.skip("DejaVu Sans not installed")
    monkeypatch.setattr(fonts, "candidates", lambda: dejavu[:1])
    monkeypatch.setattr(fonts, "_noted", set())
    fonts.label_font.cache_clear()
    try:
        font = fonts.label_font(13)
        fonts.label_font(13)
        fonts.label_font(15)
    finally:
        fonts.label_font.cache_clear()
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("synth: note:")]
    assert notes == [
        (
            f"synth: note: no installed font covers CJK (install fonts-noto-cjk); using {dejavu[0]}, "
            "class names in CJK show as boxes"
        )
    ]
    assert fonts.missing_glyphs(font, NAMES) == ["茶", "碗"]  # Latin, Greek and Cyrillic still drawn


def test_preview_legend_draws_unicode_names(project):
    """The legend of a real preview sheet: the CJK name differs from the same name drawn as missing glyphs."""
    from conftest import tiny_recipe

    from synth.recipe import load_recipe
    from synth.report.contact_sheet import contact_sheet

    if not any("CJK" in path for path in fonts.candidates()):
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    sheets = []
    for name in ("茶碗", fonts.NOTDEF_PROBE * 2):
        recipe = tiny_recipe()
        recipe["taxonomy"]["classes"][2]["name"] = name
        project.write_recipe(recipe)
        if not sheets:
            project.synth("synthesize", "tiny", "--quiet")
            project.synth("decode", "tiny", "--quiet")
        sheets.append(np.asarray(contact_sheet(load_recipe("tiny", project.root), project.root, 2)))
    assert sheets[0].shape == sheets[1].shape
    assert not np.array_equal(sheets[0], sheets[1])
