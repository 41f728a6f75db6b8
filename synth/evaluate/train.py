"""Supervised training and mIoU scoring of the segmentation network (the usefulness score's yardstick)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synth.core.labels import IGNORE_ID
from synth.core.torch_runtime import resolve_device, torch_threads
from synth.segment.arrays import Arrays, batch
from synth.segment.loop import fit
from synth.segment.nets import build_segmenter

if TYPE_CHECKING:
    from torch import nn

    from synth.evaluate.config import EvaluateSettings


def train_supervised(data: Arrays, num_classes: int, cfg: EvaluateSettings, seed: int) -> nn.Module:
    import torch
    import torch.nn.functional as F

    torch_threads()
    device = resolve_device(cfg.device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_segmenter(num_classes, cfg.architecture, cfg.width).to(device)
    model.train()

    def step_loss(_step: int) -> torch.Tensor:
        idx = torch.randint(len(data), (cfg.batch_size,), generator=gen).numpy()
        x, y = batch(data, idx, gen, device=device)
        logits, _ = model(x)
        return F.cross_entropy(logits, y, ignore_index=IGNORE_ID)

    fit(model.parameters(), cfg.steps, cfg.lr, step_loss)
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
    valid = truth != IGNORE_ID
    conf = np.bincount(truth[valid].astype(np.int64) * num_classes + pred[valid], minlength=num_classes**2)
    conf = conf.reshape(num_classes, num_classes)
    inter = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - inter
    return [None if union[c] == 0 else float(inter[c] / union[c]) for c in range(num_classes)]


def mean_iou(ious: list[float | None]) -> float:
    present = [v for v in ious if v is not None]
    return float(np.mean(present)) if present else 0.0
