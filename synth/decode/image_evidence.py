"""The image's own evidence of where items are not, for decoders of photos on a known plain background.

Fashion-MNIST product photos show garments on black. A decoder whose evidence is coarse (8x8 attention) or
learned from few masks (DatasetGAN) spills labels onto that background; the image says where nothing is drawn.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from synth.core.config import Strict
from synth.core.labels import IGNORE_ID

MIN_ITEM_PIXELS = 12  # fewer bright pixels than this are specks, not an item (as the scripted annotator counts)


def apply_image(mask: np.ndarray, confidence: np.ndarray, image: np.ndarray, black_level: int, clip: bool):
    """The image's evidence of where items are not: a blank image -> background; with ``clip``, black pixels
    outside every item -> background and item pixels (bright, or dark but enclosed) the decoder left unlabelled
    -> ignore."""
    from scipy.ndimage import binary_fill_holes

    grey = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
    # Dark pixels enclosed by an item are the item (a shadow, a dark print), as Fashion-MNIST's masks count them.
    bright = binary_fill_holes(grey > black_level)
    if bright.sum() < MIN_ITEM_PIXELS:
        return np.zeros_like(mask), np.ones_like(confidence)
    if not clip:
        return mask, confidence
    mask = np.where(bright, np.where(mask == 0, IGNORE_ID, mask), 0).astype(np.uint8)
    confidence = np.where(bright, np.where(mask == IGNORE_ID, 0.5, confidence), 1.0).astype(np.float32)
    return mask, confidence


class ImageEvidenceSettings(Strict):
    """The decoder settings that read the image (a decoder's config derives from this and ``DecoderConfig``)."""

    black_level: int | None = Field(
        default=None,
        ge=0,
        le=254,
        description="Grey level at or below which a pixel shows no item: an image with fewer than 12 pixels above "
        "it gets a background mask. None: the image is not read.",
    )
    clip_to_image: bool = Field(
        default=False, description="Pixels at or below black_level are background; bright unclaimed ones ignore."
    )

    def image_problems(self) -> list[tuple[str, str]]:
        if self.clip_to_image and self.black_level is None:
            return [("decode.clip_to_image", "needs decode.black_level (the grey level of the background)")]
        return []

    def read_image(self, mask: np.ndarray, confidence: np.ndarray, image: np.ndarray):
        """``apply_image`` with these settings; the mask and confidence unchanged when ``black_level`` is None."""
        if self.black_level is None:
            return mask, confidence
        return apply_image(mask, confidence, image, self.black_level, self.clip_to_image)
