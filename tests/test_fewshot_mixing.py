"""The few-shot bench's augmentations and mixes keep every label with its pixel."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from synth.core.labels import IGNORE_ID as IGNORE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def _labeled_batch(n: int = 4, size: int = 16):
    """Images whose colour encodes the label (value = 0.2 * label - 0.5), so a pixel's label is readable off it."""
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (n, size, size), generator=gen)
    x = (0.2 * y.float() - 0.5)[:, None].repeat(1, 3, 1, 1)
    return x, y


def _consistent(x, y) -> bool:
    known = y != IGNORE
    return bool(torch.allclose(x[:, 0][known], 0.2 * y[known].float() - 0.5, atol=1e-5)) and bool(
        (x[:, 0][~known] == -1).all()
    )


def test_cutmix_and_classmix_move_labels_with_pixels():
    x, y = _labeled_batch()
    from fewshot_training import classmix_batch, cutmix

    for op in (cutmix, classmix_batch):
        mx, my = op(x, y, torch.Generator().manual_seed(1))
        assert _consistent(mx, my) and not torch.equal(my, y)


def test_standard_augment_scales_and_crops_image_and_label_together():
    from fewshot_training import standard_augment

    x, y = _labeled_batch()
    # nearest-neighbour scaling on both keeps the colour code exact only at integer factors; use flat blocks
    y = y[:, :4, :4].repeat_interleave(4, 1).repeat_interleave(4, 2)
    x = (0.2 * y.float() - 0.5)[:, None].repeat(1, 3, 1, 1)
    ax, ay = standard_augment(x, y, torch.Generator().manual_seed(2), scale=(0.5, 0.5))
    assert (ay == IGNORE).any(), "zoomed out: padded with ignore"
    known = ay != IGNORE
    assert (ax[:, 0][~known] == -1).all()
    assert (torch.abs(ax[:, 0][known] - (0.2 * ay[known].float() - 0.5)) < 0.11).float().mean() > 0.9


def test_pixel_hydramix_pool_is_exact():
    from fewshot_training import hydramix_pool

    rng = np.random.default_rng(0)
    masks = rng.integers(0, 3, (5, 32, 32)).astype(np.uint8)
    images = np.repeat((masks * 100)[..., None], 3, axis=-1).astype(np.uint8)
    pool = hydramix_pool(images, masks, count=6, seed=0, sources=2)
    assert pool.images.shape == (6, 32, 32, 3)
    assert (pool.images[..., 0] == pool.masks * 100).all()


def test_whole_item_mix_pastes_items_whole_without_touching_the_first_images_items():
    from scipy import ndimage

    from synth.mix.compose import whole_item_mix

    first_image = np.zeros((32, 32, 3), np.uint8)
    first_mask = np.zeros((32, 32), np.uint8)
    first_image[2:10, 2:10], first_mask[2:10, 2:10] = 200, 1
    other_image = np.zeros((32, 32, 3), np.uint8)
    other_mask = np.zeros((32, 32), np.uint8)
    other_image[4:12, 4:12], other_mask[4:12, 4:12] = 90, 2  # overlaps the first item where it is: must move
    other_image[20:30, 20:26], other_mask[20:30, 20:26] = 50, 3  # free where it is: stays
    image, label, owner = whole_item_mix([first_image, other_image], [first_mask, other_mask], np.random.default_rng(0))
    assert set(np.unique(owner[label == 1])) == {0} and set(np.unique(owner[(label == 2) | (label == 3)])) == {1}
    assert np.array_equal(label[2:10, 2:10], first_mask[2:10, 2:10])  # the first image's item is untouched
    assert np.array_equal(label[20:30, 20:26], other_mask[20:30, 20:26])
    assert (label == 2).sum() == 64  # moved, whole
    ys, xs = np.nonzero(label == 2)
    assert ys.max() - ys.min() == 7 and xs.max() - xs.min() == 7
    for value, colour in ((1, 200), (2, 90), (3, 50)):
        assert (image[label == value] == colour).all()  # every pasted pixel brings its own label
    assert ndimage.label(label == 1)[1] == 1 and ndimage.label(label == 2)[1] == 1  # nothing cut
    assert not (ndimage.binary_dilation(label == 1) & (label == 2)).any()  # no item touches another
