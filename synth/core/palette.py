"""Mask value -> colour, from the taxonomy: what previews, reports, exports and the mask PNGs' own palette show.

0 (background) is black, 255 (ignore) white, each class its recipe colour, unused values black. Masks are
stored as palette ("P" mode) PNGs with this palette: the pixel values stay the class ids that training code
reads, while every image viewer, the Hub's dataset viewer included, shows the colours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synth.core.labels import IGNORE_ID

if TYPE_CHECKING:
    from synth.core.dataset import Taxonomy

IGNORE_RGB = (255, 255, 255)


def palette_rgb(taxonomy: Taxonomy) -> np.ndarray:
    """A 256 x 3 uint8 lookup table indexed by mask value."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    for cls in taxonomy.classes:
        lut[cls.id] = cls.rgb
    lut[IGNORE_ID] = IGNORE_RGB
    return lut


def palette_bytes(taxonomy: Taxonomy) -> bytes:
    """The 768 bytes of a PNG PLTE chunk (PIL's ``putpalette``)."""
    return palette_rgb(taxonomy).tobytes()
