"""Which samples a composite mixes, and the exact pixel-level composite of images and masks."""

from __future__ import annotations

import numpy as np

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


def choose_sources(dominant: np.ndarray, settings: MixSettings, rng: np.random.Generator) -> list[int]:
    """Positions of the N samples one composite mixes, drawn from its own stream.

    same-class: N distinct samples sharing the first one's dominant class; cross-class: N samples whose
    dominant classes all differ.
    """
    n = settings.sources
    by_class: dict[int, np.ndarray] = {int(c): np.flatnonzero(dominant == c) for c in np.unique(dominant) if c != 0}
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
