"""The font every drawn class name uses (preview sheet, legend, report images).

PIL's built-in bitmap font has Latin-1 only: ``Küchentisch`` renders, ``Ωμέγα``, ``Жук`` and ``茶碗`` become boxes.
We take the first installed font that has glyphs for Latin, Greek, Cyrillic and CJK (Noto Sans CJK, Debian's
fonts-noto-cjk), else the one covering most of them (DejaVu Sans: no CJK), else PIL's default, and say once on
stderr which scripts will show as boxes. ``SYNTH_FONT`` (a .ttf/.otf/.ttc path) overrides the search.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

SCRIPTS = {"Latin": "Aßé", "Greek": "Ωλ", "Cyrillic": "Жя", "CJK": "茶碗"}
NOTDEF_PROBE = "\U0010fffd"  # a private-use code point no font maps: renders as the font's missing-glyph box
FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "DejaVu Sans")
KNOWN_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
_noted: set[str] = set()


def missing_glyphs(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> list[str]:
    """Characters of ``text`` the font draws as its missing-glyph box (whitespace excluded)."""
    box = bytes(font.getmask(NOTDEF_PROBE))
    return [c for c in dict.fromkeys(text) if not c.isspace() and bytes(font.getmask(c)) == box]


def _fontconfig(family: str) -> str | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", family], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if found and Path(found).is_file() else None


def candidates() -> list[str]:
    """Font files to try, best first, without duplicates."""
    found = [os.environ["SYNTH_FONT"]] if os.environ.get("SYNTH_FONT") else []
    found += [f for f in (_fontconfig(family) for family in FAMILIES) if f]
    found += [f for f in KNOWN_FILES if Path(f).is_file()]
    return list(dict.fromkeys(found))


def uncovered_scripts(font) -> list[str]:
    return [script for script, sample in SCRIPTS.items() if missing_glyphs(font, sample)]


def note_once(message: str) -> None:
    if message not in _noted:
        _noted.add(message)
        print(f"synth: note: {message}", file=sys.stderr)


@lru_cache(maxsize=8)
def label_font(size: int = 12) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font with the widest script coverage at ``size`` px; a note on stderr (once) if some script is missing."""
    best, best_missing, best_path = None, list(SCRIPTS), None
    for path in candidates():
        try:
            font = ImageFont.truetype(path, size)
        except OSError:
            continue
        missing = uncovered_scripts(font)
        if len(missing) < len(best_missing):
            best, best_missing, best_path = font, missing, path
        if not missing:
            return font
    if best is None:
        note_once(
            "no TrueType font found (install fonts-noto-cjk or fonts-dejavu); class names outside ASCII "
            "may show as boxes"
        )
        return ImageFont.load_default(size)
    note_once(
        f"no installed font covers {', '.join(best_missing)} (install fonts-noto-cjk); using {best_path}, "
        f"class names in {', '.join(best_missing)} show as boxes"
    )
    return best


# For HTML: the browser falls back glyph by glyph along this list, using the same installed fonts.
CSS_FONT_STACK = ", ".join(f'"{f}"' for f in FAMILIES) + ", sans-serif"
