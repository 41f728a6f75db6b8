"""HydraMix in its own setting (the training side of ``bench/fewshot_mixing.py``): a segmenter trained on a few labeled real images, with and without mixes.

The comparison HydraMix's paper makes, for segmentation: the same network, steps and seed, trained on
- ``standard``: the k images with standard augmentation (horizontal flip, random scale 0.75-1.25, crop/pad);
- ``batchmix``: plus CutMix or ClassMix between the images of each batch (one of the two per step);
- a pool of segment mixes (``hydramix_pool``): N of the k images mixed by Felzenszwalb segments of the first,
  in pixel space, or drawn by a learned feature-space mixer (``synth.mix.learned``); half of every batch comes
  from the pool, augmented the same way.
Labels of mixes follow the mixing mask and the sources' masks exactly (for the learned mixer, the mask at
feature resolution), as in the mix stage. Sources are drawn uniformly from the k images: with k = 10 canvases
of 1-3 items there are too few images per class for HydraMix's same-class pairing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from synth.core.labels import IGNORE_ID
from synth.core.torch_runtime import resolve_device, torch_threads
from synth.mix.compose import compose, whole_item_mix
from synth.mix.config import FelzenszwalbMask
from synth.mix.masks import coarsen, felzenszwalb_index
from synth.segment.arrays import Arrays, batch
from synth.segment.loop import fit
from synth.segment.nets import build_unet

BatchMix = Literal["cutmix", "classmix", "either"]


def standard_augment(x, y, gen, scale: tuple[float, float] = (0.75, 1.25)):
    """Random scale, then a random crop (zoomed in) or pad (zoomed out: black image, ignore label) back to the
    input size; horizontal flips come from ``batch``."""
    import torch
    import torch.nn.functional as F

    size = x.shape[-1]
    out_x, out_y = torch.full_like(x, -1.0), torch.full_like(y, IGNORE_ID)
    for b in range(len(x)):
        s = scale[0] + (scale[1] - scale[0]) * float(torch.rand((), generator=gen))
        side = max(4, round(size * s))
        xi = F.interpolate(x[b : b + 1], size=(side, side), mode="bilinear", align_corners=False)[0]
        yi = F.interpolate(y[b : b + 1, None].float(), size=(side, side), mode="nearest")[0, 0].long()
        off = int(torch.randint(0, abs(side - size) + 1, (1,), generator=gen))
        off2 = int(torch.randint(0, abs(side - size) + 1, (1,), generator=gen))
        if side >= size:
            out_x[b], out_y[b] = xi[:, off : off + size, off2 : off2 + size], yi[off : off + size, off2 : off2 + size]
        else:
            out_x[b, :, off : off + side, off2 : off2 + side], out_y[b, off : off + side, off2 : off2 + side] = xi, yi
    return out_x, out_y


def cutmix(x, y, gen):
    """Each image gets a random rectangle (a Beta(1, 1) share of the area) of another batch image, labels too."""
    import torch

    size = x.shape[-1]
    partner = torch.randperm(len(x), generator=gen)
    x, y = x.clone(), y.clone()
    for b in range(len(x)):
        side = round(size * float(torch.rand((), generator=gen)) ** 0.5)
        if side == 0:
            continue
        top, left = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=gen))
        x[b, :, top : top + side, left : left + side] = x[partner[b], :, top : top + side, left : left + side]
        y[b, top : top + side, left : left + side] = y[partner[b], top : top + side, left : left + side]
    return x, y


def classmix_batch(x, y, gen):
    """ClassMix within a batch: half of another image's classes are pasted, with their labels."""
    import torch

    from synth.mix.classmix import classmix

    partner = torch.randperm(len(x), generator=gen)
    mixed_x, mixed_y, _, _ = classmix(x[partner], y[partner], x, y, torch.ones(len(x)), gen)
    return mixed_x, mixed_y


def hydramix_pool(
    images: np.ndarray,
    masks: np.ndarray,
    count: int,
    seed: int,
    sources: int = 2,
    mask: FelzenszwalbMask | None = None,
    mixer=None,
) -> Arrays:
    """``count`` segment mixes of ``sources`` of the given images: in pixel space, or, with a trained ``mixer``
    (``LearnedMixerModel``), drawn by its decoder from mixed encoder features (labels at feature resolution)."""
    mask = mask or FelzenszwalbMask()
    rng = np.random.default_rng([0x48594452, seed])  # "HYDR"
    n = min(sources, len(images))
    planned = []
    for _ in range(count):
        picks = rng.choice(len(images), size=n, replace=False)
        imgs, msks = [images[j] for j in picks], [masks[j] for j in picks]
        index = felzenszwalb_index(imgs[0], n, mask, rng)
        if mixer is not None:
            index = coarsen(index, mixer.stride)
        planned.append((imgs, msks, index))
    out_images, out_masks = [], []
    for imgs, msks, index in planned:
        image, label = compose(imgs, msks, index)
        out_images.append(image)
        out_masks.append(label)
    if mixer is not None:
        s = mixer.stride
        out_images = mixer.mix([p[0] for p in planned], [p[2][s // 2 :: s, s // 2 :: s] for p in planned])
    return Arrays(np.stack(out_images), np.stack(out_masks))


def whole_item_pool(images: np.ndarray, masks: np.ndarray, count: int, seed: int, sources: int = 2) -> Arrays:
    """``count`` whole-item mixes of ``sources`` of the given images (``whole_item_mix``)."""
    rng = np.random.default_rng([0x4954454D, seed])  # "ITEM"
    n = min(sources, len(images))
    out_images, out_masks = [], []
    for _ in range(count):
        picks = rng.choice(len(images), size=n, replace=False)
        image, label, _ = whole_item_mix([images[j] for j in picks], [masks[j] for j in picks], rng)
        out_images.append(image)
        out_masks.append(label)
    return Arrays(np.stack(out_images), np.stack(out_masks))


def train_fewshot(
    real: Arrays,
    num_classes: int,
    seed: int,
    steps: int = 300,
    batch_size: int = 8,
    lr: float = 2e-3,
    width: int = 16,
    batch_mix: BatchMix | None = None,
    pool: Arrays | None = None,
    device: str = "auto",
):
    """The tiny UNet of the usefulness score, trained on ``real`` with standard augmentation, optionally CutMix /
    ClassMix per batch and half of each batch drawn from a ``pool`` of mixes."""
    import torch
    import torch.nn.functional as F

    torch_threads()
    dev = resolve_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_unet(num_classes, width).to(dev)
    model.train()

    def step_loss(_step: int) -> torch.Tensor:
        n_pool = batch_size // 2 if pool is not None else 0
        x, y = batch(real, torch.randint(len(real), (batch_size - n_pool,), generator=gen).numpy(), gen)
        if n_pool:
            xp, yp = batch(pool, torch.randint(len(pool), (n_pool,), generator=gen).numpy(), gen)
            x, y = torch.cat([x, xp]), torch.cat([y, yp])
        x, y = standard_augment(x, y, gen)
        if batch_mix is not None:
            use = (
                batch_mix
                if batch_mix != "either"
                else ("cutmix" if float(torch.rand((), generator=gen)) < 0.5 else "classmix")
            )
            x, y = cutmix(x, y, gen) if use == "cutmix" else classmix_batch(x, y, gen)
        logits, _ = model(x.to(dev))
        return F.cross_entropy(logits, y.to(dev), ignore_index=IGNORE_ID)

    fit(model.parameters(), steps, lr, step_loss)
    return model.eval()
