"""A STAND-IN synthetic source domain for Fashion-MNIST scenes, until a trained text-to-image model's dataset
exists: real train-split compositions re-rendered in another appearance, with their exact masks.

Real compositions are grey garments on black. The stand-in look: a coloured, low-frequency textured backdrop
(dark, not black), every garment tinted with its own random colour and a tone curve, then a slight blur and
sensor noise. Geometry (and so every mask pixel) is unchanged. It is a controlled appearance shift, not a learned
generator's output: numbers measured with it say how much of *this* gap a method closes, nothing more.
"""

from __future__ import annotations

import numpy as np


def standin_look(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` uint8 H x W x 3 (grey garments on black), ``mask`` class ids (0 background) -> uint8 H x W x 3."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    h, w = mask.shape
    coarse = rng.uniform(25, 95, size=(4, 4, 3)).astype(np.float32)
    backdrop = np.stack(
        [np.asarray(Image.fromarray(coarse[..., c]).resize((w, h), Image.Resampling.BILINEAR)) for c in range(3)], -1
    )
    grey = image[..., 0].astype(np.float64) / 255.0
    out = backdrop.astype(np.float64)
    for class_id in np.unique(mask):
        if class_id == 0:
            continue
        where = mask == class_id
        tint = rng.uniform(70, 255, size=3)
        gamma = rng.uniform(0.6, 0.9)
        out[where] = (grey[where] ** gamma)[:, None] * tint[None, :] * 1.1 + 15
    out = gaussian_filter(out, sigma=(0.7, 0.7, 0)) + rng.normal(0, 6.0, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
