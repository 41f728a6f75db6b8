"""Spatial consistency for per-pixel decoders: one class per connected foreground region.

Per-pixel decisions (attention argmax, an MLP ensemble's vote) scatter several classes over one item; a person
labels an item with one class. ``component_vote`` keeps where the decoder put foreground and gives every
connected foreground region (8-connectivity) the class most of its labelled pixels carry, so a mask never holds
more classes than it has regions, and a region's class is the one its pixels agree on.
"""

from __future__ import annotations

import numpy as np

from synth.core.labels import IGNORE_ID


def component_vote(mask: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Each connected region of labelled (not background, not ignore) pixels -> its majority class.

    Ignore pixels inside a region stay ignore. ``allowed`` (class ids): votes for other classes are not
    counted, e.g. the classes the sample's prompt names; a region with no allowed vote becomes ignore.
    Ties go to the lower class id.
    """
    from scipy.ndimage import label

    labelled = (mask != 0) & (mask != IGNORE_ID)
    regions, count = label(labelled, structure=np.ones((3, 3), bool))
    out = mask.copy()
    if not count:
        return out
    keep = np.isin(mask, allowed) if allowed is not None else np.ones(mask.shape, bool)
    votes = np.zeros((count + 1, 256), np.int64)
    np.add.at(votes, (regions[labelled & keep], mask[labelled & keep]), 1)
    winner = votes.argmax(axis=1).astype(np.uint8)
    winner[votes.max(axis=1) == 0] = IGNORE_ID
    out[labelled] = winner[regions[labelled]]
    return out
