"""Does a mask agree with its image? Two per-sample scores that need no ground truth, only the image.

Every other per-sample statistic (``synth.stats``) looks at the mask alone, so a mask flooded over the background,
shifted off its object or belonging to another image passes them all. These two compare it with the pixels:

- ``boundary_fscore`` and ``boundary_precision``: the boundary F-score (as in DAVIS / BSDS) between the mask's
  class boundaries and the image's edges (Canny), each matched within ``TOLERANCE`` pixels, and its precision
  (the share of boundary pixels on an edge) above chance (``above_chance``). A class boundary a person would draw lies on an edge of the image;
  a shifted, swapped or flooded mask puts its boundaries where the image has none.
- ``labels_off_content``: the share of labelled pixels (classes, not background or ignore) that lie on no image
  content, i.e. farther than ``TOLERANCE`` px from any pixel that differs from the background colour (the image
  border's median) by more than ``CONTENT_LEVEL`` grey levels. Meaningful where the background is plain (product
  photos); whether it is checked is the recipe's ``validation.plain_background``.

Both are computed where the other mask statistics are (decode) and stored in the masks table; ``synth
check-labels`` computes them the same way for any dataset. Validation thresholds: docs/validation.md.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from synth.core.labels import IGNORE_ID

TOLERANCE = 2  # pixels (at WORK_SIDE or less) a boundary may be off an image edge and still match it
WORK_SIDE = 128  # larger images are scored at this side (mask by nearest): a 256 px sample costs ~10 ms, not 45
CONTENT_LEVEL = 24  # grey levels from the background colour above which a pixel is content (as the annotator's)
CANNY_SIGMA = 1.0
CANNY_LOW, CANNY_HIGH = 10.0, 25.0  # gradient thresholds in grey levels (0-255): weak texture is not an edge


def grey(image: np.ndarray) -> np.ndarray:
    """``H x W (x C)`` uint8 -> ``H x W`` float grey levels 0-255."""
    image = np.asarray(image)
    return image.astype(np.float64).mean(axis=2) if image.ndim == 3 else image.astype(np.float64)


def image_edges(image: np.ndarray) -> np.ndarray:
    """Canny edges with absolute thresholds, so an empty or flat image has none (a relative one would find noise)."""
    from skimage.feature import canny

    return canny(grey(image), sigma=CANNY_SIGMA, low_threshold=CANNY_LOW, high_threshold=CANNY_HIGH)


def mask_boundaries(mask: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label (ignore counts as a label); the image frame is not a boundary."""
    mask = np.asarray(mask)
    edge = np.zeros(mask.shape, bool)
    vertical = mask[1:, :] != mask[:-1, :]
    horizontal = mask[:, 1:] != mask[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge


def _disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (y * y + x * x) <= radius * radius


def _near(points: np.ndarray, tolerance: int) -> np.ndarray:
    """Pixels within ``tolerance`` px (Euclidean) of a point: a dilation by a disk, cheaper than a distance map."""
    if not points.any() or tolerance <= 0:
        return points
    return ndimage.binary_dilation(points, structure=_disk(tolerance))


def boundary_match(image: np.ndarray, mask: np.ndarray, tolerance: int = TOLERANCE) -> tuple[float, float, float]:
    """``(precision, recall, chance)`` of mask boundaries against image edges, matched within ``tolerance`` px:
    the share of boundary pixels near an edge, of edge pixels near a boundary, and of all pixels near an edge (the
    precision a boundary drawn anywhere would get). A mask with no boundary scores 1 on an image without edges,
    else 0; a boundary on an image without edges scores 0."""
    boundary, edges = mask_boundaries(mask), image_edges(image)
    if not boundary.any():
        return (1.0, 1.0, 0.0) if not edges.any() else (0.0, 0.0, 0.0)
    if not edges.any():
        return 0.0, 0.0, 0.0
    near_edges = _near(edges, tolerance)
    precision = float((boundary & near_edges).sum() / boundary.sum())
    recall = float((edges & _near(boundary, tolerance)).sum() / edges.sum())
    return precision, recall, float(near_edges.mean())


def above_chance(precision: float, chance: float) -> float:
    """Precision rescaled so that 0 is what a boundary drawn at random gets on this image and 1 is every boundary
    pixel on an edge (Cohen's kappa form), floored at 0: on a textured image most pixels are near some edge, and a
    raw precision would credit a shifted mask for landing on texture."""
    return 0.0 if chance >= 1 else max(0.0, (precision - chance) / (1 - chance))


def f_score(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def content_region(image: np.ndarray, level: float = CONTENT_LEVEL) -> np.ndarray:
    """Pixels that differ from the background colour (the median of the image's outer frame) by more than
    ``level`` grey levels, holes filled (a garment's dark folds are still the garment)."""
    g = grey(image)
    frame = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    return ndimage.binary_fill_holes(np.abs(g - np.median(frame)) > level)


def labels_off_content(image: np.ndarray, mask: np.ndarray, tolerance: int = TOLERANCE) -> float:
    """Share of labelled pixels farther than ``tolerance`` px from image content (0 for a mask with no label)."""
    mask = np.asarray(mask)
    labelled = (mask != 0) & (mask != IGNORE_ID)
    if not labelled.any():
        return 0.0
    content = _near(content_region(image), tolerance)
    return float((labelled & ~content).sum() / labelled.sum())


def working_size(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask at most ``WORK_SIDE`` px on their longer side (the tolerance is in these pixels)."""
    from PIL import Image

    height, width = mask.shape[:2]
    if max(height, width) <= WORK_SIDE or image.shape[:2] != mask.shape[:2]:
        return image, mask
    scale = WORK_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize(size, Image.Resampling.BOX))
    return small, np.asarray(Image.fromarray(np.asarray(mask, np.uint8)).resize(size, Image.Resampling.NEAREST))


def agreement_stats(image: np.ndarray, mask: np.ndarray) -> dict:
    """The masks table's columns for one sample (``synth.stats.mask_stats`` holds the mask-only ones).

    Precision (above chance) is kept beside the F-score: textured images have edges no class boundary follows
    (lowering recall on exact masks), while a boundary off every edge is wrong whatever the texture
    (docs/validation.md)."""
    image, mask = working_size(np.asarray(image), np.asarray(mask))
    precision, recall, chance = boundary_match(image, mask)
    return {
        "boundary_fscore": f_score(precision, recall),
        "boundary_precision": above_chance(precision, chance),
        "labels_off_content": labels_off_content(image, mask),
    }
