"""Deterministic train/validation/test assignment from the seed alone.

A seed's split never depends on which other seeds exist, so extending a seed range never moves a sample from
train to test (which would leak it into evaluation).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.recipe.schema import Splits

SPLIT_NAMES = ("train", "validation", "test")


def split_of(seed: int, splits: Splits) -> str:
    u = int.from_bytes(hashlib.sha256(f"split:{seed}".encode()).digest()[:8], "big") / 2.0**64
    if u < splits.train:
        return "train"
    if u < splits.train + splits.validation:
        return "validation"
    return "test"
