"""One generated sample, as generators make it and the samples shards store it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Sample:
    """One generated sample, before decoding.

    ``mask`` is set by generators that know the exact labels (``scenes``); learned generators leave it ``None``
    and put the raw label evidence a decoder needs (attention score maps, pixel features) in ``arrays``.
    """

    seed: int
    image: np.ndarray  # H x W x 3, uint8
    prompt: str
    mask: np.ndarray | None = None  # H x W, uint8: 0 background, 1..K classes, 255 ignore
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
