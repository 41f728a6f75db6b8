"""Per-sample statistics, computed once when a sample is made or decoded and stored beside it in its shard.

Validation, previews, the dataset card and PR reviews all read this table instead of re-reading pixels.
"""

from __future__ import annotations

import numpy as np

from synth.core.labels import IGNORE_ID

# scipy is imported where it is used: importing it costs ~0.7 s, paid by every stage that imports this module
# (the target stage, which always runs, only to find its shard up to date). ndimage's 4-connected structure:
_FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def perceptual_hash(image: np.ndarray) -> str:
    """64-bit DCT perceptual hash (pHash): near-duplicate images differ in only a few bits."""
    from PIL import Image
    from scipy import fft

    gray = np.asarray(Image.fromarray(image).convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = fft.dctn(gray, norm="ortho")[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def image_stats(image: np.ndarray) -> dict:
    return {"height": int(image.shape[0]), "width": int(image.shape[1]), "phash": perceptual_hash(image)}


def mask_stats(mask: np.ndarray, class_ids: list[int], confidence: np.ndarray | None = None) -> dict:
    from scipy import ndimage

    total = float(mask.size)
    counts = np.bincount(mask.ravel(), minlength=256)
    fractions, components, smallest = [], [], []
    for cid in class_ids:
        fractions.append(counts[cid] / total)
        if counts[cid] == 0:
            components.append(0)
            smallest.append(0)
            continue
        labels, n = ndimage.label(mask == cid, structure=_FOUR_CONNECTED)
        sizes = np.bincount(labels.ravel())[1:]
        components.append(int(n))
        smallest.append(int(sizes.min()))
    known = {0, IGNORE_ID, *class_ids}
    unknown = int(sum(int(c) for value, c in enumerate(counts) if c and value not in known))
    return {
        "mask_height": int(mask.shape[0]),
        "mask_width": int(mask.shape[1]),
        "background_fraction": float(counts[0] / total),
        "ignore_fraction": float(counts[IGNORE_ID] / total),
        "unknown_id_pixels": unknown,
        "empty": bool(sum(counts[cid] for cid in class_ids) == 0),
        "class_fraction": [float(f) for f in fractions],
        "class_components": components,
        "class_min_component": smallest,
        "mean_confidence": None if confidence is None else float(confidence.mean()),
    }
