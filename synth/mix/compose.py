"""Which samples a composite mixes, and the exact pixel-level composite of images and masks."""

from __future__ import annotations

import numpy as np

from synth.core.labels import IGNORE_ID
from synth.errors import UserError
from synth.mix.config import MixSettings

MIX_STREAM = 0x4D495845  # "MIXE"


def mixing_rng(settings: MixSettings, index: int) -> np.random.Generator:
    """Composite ``index``'s own random stream: it depends on the mixing seed and the index only."""
    return np.random.default_rng([MIX_STREAM, settings.seed, index])


def dominant_classes(class_fractions: list[list[float]], class_ids: list[int]) -> np.ndarray:
    """The class with most pixels in each sample (0 when a sample shows none)."""
    fractions = np.asarray(class_fractions, dtype=np.float64).reshape(len(class_fractions), len(class_ids))
    out = np.asarray(class_ids)[fractions.argmax(axis=1)]
    out[fractions.max(axis=1) <= 0] = 0
    return out


def choose_sources(
    dominant: np.ndarray, settings: MixSettings, rng: np.random.Generator, groups: np.ndarray | None = None
) -> list[int]:
    """Positions of the N samples one composite mixes, drawn from its own stream.

    same-class: N distinct samples sharing the first one's dominant class; cross-class: N samples whose
    dominant classes all differ. With ``groups`` (one label per sample, None = never drawn), all N come from one
    group, drawn with odds proportional to its size among the groups that can make such a composite: the mix
    stage groups by split, so a composite never joins pixels of two splits.
    """
    if groups is None:
        return _choose(dominant, settings, rng, np.arange(len(dominant)))
    labels = sorted({g for g in groups if g is not None})
    members = {g: np.flatnonzero(np.array([x == g for x in groups])) for g in labels}
    able = [g for g in labels if _can_compose(dominant[members[g]], settings)]
    if not able:
        raise UserError(
            f"mix.sources: no split holds {settings.sources} samples that can make a {settings.pairing} composite; "
            "lower mix.sources or use more seeds"
        )
    weights = np.array([len(members[g]) for g in able], dtype=np.float64)
    group = able[int(rng.choice(len(able), p=weights / weights.sum()))]
    return _choose(dominant, settings, rng, members[group])


def _can_compose(dominant: np.ndarray, settings: MixSettings) -> bool:
    counts = np.unique(dominant[dominant != 0], return_counts=True)[1]
    if settings.pairing == "same-class":
        return bool((counts >= settings.sources).any())
    return len(counts) >= settings.sources


def _choose(dominant: np.ndarray, settings: MixSettings, rng: np.random.Generator, among: np.ndarray) -> list[int]:
    n = settings.sources
    pool_dominant = dominant[among]
    by_class: dict[int, np.ndarray] = {int(c): among[pool_dominant == c] for c in np.unique(pool_dominant) if c != 0}
    if settings.pairing == "same-class":
        pools = [idx for idx in by_class.values() if len(idx) >= n]
        if not pools:
            raise UserError(
                f"mix.pairing: no class is the dominant class of {n} samples; lower mix.sources or use cross-class"
            )
        weights = np.array([len(p) for p in pools], dtype=np.float64)
        pool = pools[int(rng.choice(len(pools), p=weights / weights.sum()))]
        return [int(i) for i in rng.choice(pool, size=n, replace=False)]
    classes = sorted(by_class)
    if len(classes) < n:
        raise UserError(f"mix.sources: cross-class needs {n} different dominant classes, the data has {len(classes)}")
    picked = rng.choice(classes, size=n, replace=False)
    return [int(rng.choice(by_class[int(c)])) for c in picked]


def compose(images: list[np.ndarray], masks: list[np.ndarray], index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every composite pixel (and its label) is the pixel (and label) of the source ``index`` names there."""
    stack_i = np.stack(images)
    stack_m = np.stack(masks)
    rows, cols = np.indices(index.shape)
    return stack_i[index, rows, cols], stack_m[index, rows, cols]


def whole_item_mix(
    images: list[np.ndarray], masks: list[np.ndarray], rng: np.random.Generator, tries: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, label, owner: which source each pixel came from). The first source with every item (connected
    labeled region) of the later sources pasted whole where it touches no item already there: at its own place,
    else at one of ``tries`` random shifts, else left out.

    Not HydraMix (whose regions are segments that cut objects): a mix that never cuts or occludes an item, for
    data where an item's class is its whole silhouette (the ``whole-items`` mix mask).
    """
    from scipy import ndimage

    image, label = images[0].copy(), masks[0].copy()
    owner = np.zeros(label.shape, np.int64)
    occupied = ndimage.binary_dilation((label != 0) & (label != IGNORE_ID))
    h, w = label.shape

    def place(k: int, src_image, src_mask, ys, xs, dy: int, dx: int) -> bool:
        if occupied[ys + dy, xs + dx].any():
            return False
        image[ys + dy, xs + dx] = src_image[ys, xs]
        label[ys + dy, xs + dx] = src_mask[ys, xs]
        owner[ys + dy, xs + dx] = k
        placed = np.zeros_like(occupied)
        placed[ys + dy, xs + dx] = True
        occupied[:] |= ndimage.binary_dilation(placed)
        return True

    for k, (src_image, src_mask) in enumerate(zip(images[1:], masks[1:]), start=1):
        items, count = ndimage.label((src_mask != 0) & (src_mask != IGNORE_ID))
        where = [np.nonzero(items == item) for item in range(1, count + 1)]
        # Every item that fits at its own place goes there first; only the others move.
        moved = [(ys, xs) for ys, xs in where if not place(k, src_image, src_mask, ys, xs, 0, 0)]
        for ys, xs in moved:
            for _ in range(tries):
                dy = int(rng.integers(-ys.min(), h - ys.max()))
                dx = int(rng.integers(-xs.min(), w - xs.max()))
                if place(k, src_image, src_mask, ys, xs, dy, dx):
                    break
    return image, label, owner
