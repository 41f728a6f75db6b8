"""Supervised training and mIoU scoring of the tiny segmentation network (the usefulness score's yardstick)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.core.torch_runtime import resolve_device, torch_threads

IGNORE = 255


@dataclass
class Arrays:
    """Images ``N x H x W x 3`` uint8 and masks ``N x H x W`` uint8 (None for unlabeled sets)."""

    images: np.ndarray
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)


def to_arrays(items, size: int, labeled: bool = True) -> Arrays:
    from PIL import Image

    images, masks = [], []
    for item in items:
        image = item.image
        if image.shape[0] != size or image.shape[1] != size:
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
        images.append(image)
        if labeled:
            mask = item.mask
            if mask.shape[0] != size or mask.shape[1] != size:
                mask = np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST))
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


def train_supervised(data: Arrays, num_classes: int, cfg, seed: int):
    import torch
    import torch.nn.functional as F

    from synth.evaluate.net import build_segmenter

    torch_threads()
    device = resolve_device(cfg.device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_segmenter(num_classes, cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    model.train()
    for _ in range(cfg.steps):
        idx = torch.randint(len(data), (cfg.batch_size,), generator=gen).numpy()
        x, y = batch(data, idx, gen, device=device)
        logits, _ = model(x)
        loss = F.cross_entropy(logits, y, ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def predict(model, images: np.ndarray) -> np.ndarray:
    import torch

    out = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(images), 32):
            x = torch.from_numpy(images[start : start + 32]).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            out.append(model(x.to(device))[0].argmax(1).cpu().numpy().astype(np.uint8))
    return np.concatenate(out)


def iou_per_class(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> list[float | None]:
    """IoU of every class over the whole set (one confusion matrix); None where a class is in neither."""
    valid = truth != IGNORE
    conf = np.bincount(truth[valid].astype(np.int64) * num_classes + pred[valid], minlength=num_classes**2)
    conf = conf.reshape(num_classes, num_classes)
    inter = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - inter
    return [None if union[c] == 0 else float(inter[c] / union[c]) for c in range(num_classes)]


def mean_iou(ious: list[float | None]) -> float:
    present = [v for v in ious if v is not None]
    return float(np.mean(present)) if present else 0.0
