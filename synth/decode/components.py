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


def component_matching(mask: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """Each connected labelled region -> a class, prompted items matched one to one where they can be.

    A prompt that names k classes asks for k items. Where attention floods, one class's map wins the per-pixel
    argmax over two items and the second asked class labels nothing. Here each region's score for class c is
    the mean of c's map (``scores``: (K, H, W), row i for ``class_ids[i]``) over the region's pixels, and the
    largest regions, as many as there are classes, get distinct classes by the assignment with the highest total
    score (Hungarian); smaller regions beyond that (fragments) take their best-scoring class. Ignore pixels
    inside a region stay ignore; background stays background.
    """
    from scipy.ndimage import label
    from scipy.optimize import linear_sum_assignment

    labelled = (mask != 0) & (mask != IGNORE_ID)
    regions, count = label(labelled, structure=np.ones((3, 3), bool))
    out = mask.copy()
    if not count or not len(class_ids):
        return out
    index = np.arange(1, count + 1)
    sizes = np.bincount(regions.ravel(), minlength=count + 1)[1:]
    flat = regions.ravel()
    region_scores = (
        np.stack(
            [np.bincount(flat, weights=s.ravel().astype(np.float64), minlength=count + 1)[1:] for s in scores], axis=1
        )
        / np.maximum(sizes, 1)[:, None]
    )  # (regions, K): mean score of each class over each region
    winner = region_scores.argmax(axis=1)
    largest = np.argsort(-sizes, kind="stable")[: len(class_ids)]
    rows, cols = linear_sum_assignment(region_scores[largest], maximize=True)
    winner[largest[rows]] = cols
    chosen = np.zeros(count + 1, np.uint8)
    chosen[index] = np.asarray(class_ids, np.uint8)[winner]
    out[labelled] = chosen[regions[labelled]]
    return out
