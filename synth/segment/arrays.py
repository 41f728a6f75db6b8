"""Labeled image sets as arrays, and the training batches cut from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Arrays:
    """Images ``N x H x W x 3`` uint8 and masks ``N x H x W`` uint8 (None for unlabeled sets)."""

    images: np.ndarray
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)


def to_arrays(items, size: int, labeled: bool = True) -> Arrays:
    """Stack samples (anything with ``image`` and, when ``labeled``, ``mask``) at ``size`` x ``size``: images
    resized bilinearly, masks by nearest neighbour so no new class ids appear."""
    from PIL import Image

    images, masks = [], []
    for item in items:
        image = item.image
        if image.shape[0] != size or image.shape[1] != size:
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        images.append(image)
        if labeled:
            mask = item.mask
            if mask.shape[0] != size or mask.shape[1] != size:
                mask = np.asarray(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
            masks.append(mask)
    return Arrays(np.stack(images), np.stack(masks) if labeled else None)


def batch(data: Arrays, idx, gen, flip: bool = True, device=None):
    """A training batch as tensors: images in [-1, 1], masks as long; random horizontal flips."""
    import torch

    x = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    y = None if data.masks is None else torch.from_numpy(data.masks[idx].astype(np.int64))
    if flip:
        flips = torch.rand(len(idx), generator=gen) < 0.5
        x[flips] = x[flips].flip(-1)
        if y is not None:
            y[flips] = y[flips].flip(-1)
    if device is not None:
        x = x.to(device)
        y = None if y is None else y.to(device)
    return x, y
