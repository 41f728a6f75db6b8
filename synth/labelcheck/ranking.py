"""cleanlab's label-quality ranking with out-of-sample probabilities from K-fold cross-fitting on the dataset.

cleanlab needs predicted probabilities from a model that never saw the mask it scores: each of ``folds`` tiny
UNets (synth.segment.nets) is trained on the other folds and predicts its own fold. The per-image score is
``cleanlab.segmentation.rank.get_label_quality_scores`` (softmin of per-pixel self-confidence): low where the mask
disagrees with what a segmenter learned from the rest of the dataset. Its CPU cost is in docs/validation.md.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from synth.core.labels import IGNORE_ID
from synth.labelcheck.config import RankingSettings


def resized(images: list[np.ndarray], masks: list[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images as RGB and masks at ``size`` x ``size``, resized the way every segmenter's training set is."""
    from synth.segment.arrays import to_arrays

    def rgb(image: np.ndarray) -> np.ndarray:
        image = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
        return image[..., :3]

    data = to_arrays([SimpleNamespace(image=rgb(i), mask=m) for i, m in zip(images, masks)], size)
    assert data.masks is not None  # to_arrays reads the masks unless told labeled=False
    return data.images, data.masks


def out_of_sample_probabilities(images: np.ndarray, masks: np.ndarray, num_classes: int, cfg: RankingSettings):
    """``N x C x H x W`` float32 softmax probabilities, each sample's from the fold model that did not train on it."""
    import torch
    import torch.nn.functional as F

    from synth.core.torch_runtime import torch_threads
    from synth.segment.arrays import Arrays, batch
    from synth.segment.loop import fit
    from synth.segment.nets import build_unet

    torch_threads()
    fold_of = np.random.default_rng(cfg.seed).permutation(len(images)) % cfg.folds
    probs = np.zeros((len(images), num_classes, *masks.shape[1:]), np.float32)
    for fold in range(cfg.folds):
        train = np.flatnonzero(fold_of != fold)
        held = np.flatnonzero(fold_of == fold)
        if not len(held):
            continue
        data = Arrays(images[train], masks[train])
        torch.manual_seed(cfg.seed + fold)
        gen = torch.Generator().manual_seed(cfg.seed + fold)
        model = build_unet(num_classes, cfg.width)
        model.train()

        def step_loss(_step: int, model=model, data=data, gen=gen) -> torch.Tensor:
            idx = torch.randint(len(data), (min(cfg.batch_size, len(data)),), generator=gen).numpy()
            x, y = batch(data, idx, gen)
            return F.cross_entropy(model(x)[0], y, ignore_index=IGNORE_ID)

        fit(model.parameters(), cfg.steps, cfg.lr, step_loss)
        model.eval()
        with torch.no_grad():
            for start in range(0, len(held), 64):
                rows = held[start : start + 64]
                x, _ = batch(Arrays(images[rows]), np.arange(len(rows)), None, flip=False)
                probs[rows] = F.softmax(model(x)[0], dim=1).numpy()
    return probs


def label_quality(
    images: list[np.ndarray], masks: list[np.ndarray], class_ids: list[int], cfg: RankingSettings
) -> np.ndarray:
    """Per-sample cleanlab label quality in [0, 1] (lower = more likely a wrong mask)."""
    from cleanlab.segmentation.rank import get_label_quality_scores

    xs, ys = resized(images, masks, cfg.image_size)
    # cleanlab wants labels 0..C-1: class ids map to their index + 1 (0 stays background); ids outside the
    # taxonomy (the unknown-id check's job) and ignore pixels take the model's own guess, so they count for nothing
    lookup = np.full(256, IGNORE_ID, np.uint8)
    lookup[0] = 0
    for index, cid in enumerate(class_ids):
        lookup[cid] = index + 1
    labels = lookup[ys]
    probs = out_of_sample_probabilities(xs, labels, len(class_ids) + 1, cfg)
    unknown = labels == IGNORE_ID
    labels = np.where(unknown, probs.argmax(1), labels).astype(np.int64)
    scores, _ = get_label_quality_scores(labels, probs, method="softmin", verbose=False)
    return np.asarray(scores, dtype=np.float64)
