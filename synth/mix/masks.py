"""Mixing masks: an index map ``H x W`` (uint8) saying which source each composite pixel comes from.

Regions, not pixels, are assigned to sources, so composites keep coherent parts of each source (HydraMix's
segmentation-based mixing) instead of salt-and-pepper noise.
"""

from __future__ import annotations

import numpy as np

from synth.mix.config import ClassMasksMask, FelzenszwalbMask


def felzenszwalb_index(
    image: np.ndarray, n_sources: int, cfg: FelzenszwalbMask, rng: np.random.Generator
) -> np.ndarray:
    """Segment ``image`` and give every segment to a uniformly drawn source, each source at least one segment
    when there are enough segments (a composite made of one source is no mix)."""
    return assign_segments(felzenszwalb_segments(image, cfg), n_sources, rng)


def felzenszwalb_segments(image: np.ndarray, cfg: FelzenszwalbMask) -> np.ndarray:
    """skimage's Felzenszwalb segment ids of ``image`` (the expensive, rng-free half of a mixing mask)."""
    from skimage.segmentation import felzenszwalb

    return felzenszwalb(image, scale=cfg.scale, sigma=cfg.sigma, min_size=cfg.min_size)


def assign_segments(segments: np.ndarray, n_sources: int, rng: np.random.Generator) -> np.ndarray:
    """Give every segment to a uniformly drawn source, each source at least one segment when there are enough."""
    count = int(segments.max()) + 1
    owner = rng.integers(0, n_sources, size=count)
    if count >= n_sources:
        owner[rng.permutation(count)[:n_sources]] = np.arange(n_sources)
    return owner[segments].astype(np.uint8)


def class_masks_index(masks: list[np.ndarray], cfg: ClassMasksMask, rng: np.random.Generator) -> np.ndarray:
    """Start from source 0; each later source pastes a random ``fraction`` of the classes it shows (at least
    one), pixels of those classes only, in source order."""
    index = np.zeros(masks[0].shape, dtype=np.uint8)
    for k, mask in enumerate(masks[1:], start=1):
        present = [int(c) for c in np.unique(mask) if c not in (0, 255)]
        if not present:
            continue
        take = max(1, int(round(cfg.fraction * len(present))))
        chosen = rng.choice(present, size=take, replace=False)
        index[np.isin(mask, chosen)] = k
    return index


def coarsen(index: np.ndarray, stride: int) -> np.ndarray:
    """The index map a learned mixer can honour: one owner per ``stride x stride`` feature cell (the owner at
    the cell centre), expanded back to pixels. Labels then follow this map exactly."""
    cells = index[stride // 2 :: stride, stride // 2 :: stride]
    return np.repeat(np.repeat(cells, stride, axis=0), stride, axis=1)[: index.shape[0], : index.shape[1]]
