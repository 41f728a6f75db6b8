"""CSA feature-level adaptation, as the usefulness score trains it.

Per step (after ``warmup_steps`` of plain supervised training):
- supervised cross-entropy on labeled (synthetic, possibly stylized) images;
- an EMA teacher labels the unlabeled target images; its confident share weights the pseudo-labels (DACS);
- ClassMix: half of the classes of each synthetic image are pasted, with their exact labels, onto a target
  image; the student learns the mix against (synthetic label where pasted, teacher pseudo-label elsewhere);
- class prototypes: per class, the mean feature of its ``top_k`` most confident labeled pixels, each weighted by
  its class score (CSA weights them by the class activation map; in a segmenter the per-pixel class score is
  that map), EMA-updated;
- pixel-to-prototype contrastive loss (InfoNCE over prototypes, temperature 0.1) on labeled and confidently
  pseudo-labeled mixed pixels, pulling target features toward the synthetic classes' prototypes;
- consistency: when the labeled images are stylized and their originals are given, the prototype-similarity
  maps (softmax over prototypes of feature . prototype / temperature) of the original and the stylized image
  should agree, so appearance does not move a pixel between classes.
The student's weights are scored; the teacher only makes pseudo-labels.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Literal, Protocol

from synth.core.labels import IGNORE_ID
from synth.core.torch_runtime import resolve_device, torch_threads
from synth.mix.classmix import classmix
from synth.segment.arrays import Arrays, batch
from synth.segment.loop import fit
from synth.segment.nets import build_unet

if TYPE_CHECKING:
    from torch import nn

    from synth.adapt.config import AdaptSettings


class AdaptedTraining(Protocol):
    """What CSA reads of its caller's settings (the recipe's ``evaluate:`` section has them all)."""

    @property
    def steps(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def width(self) -> int: ...
    @property
    def device(self) -> Literal["auto", "cpu", "cuda"]: ...
    @property
    def adapt(self) -> AdaptSettings: ...


def update_prototypes(
    prototypes, ready, feats, probs, labels, top_k: int, momentum: float, weighting: str = "mean"
) -> None:
    """EMA of the mean (normalised) feature of each class's top-k most confident labeled pixels; with
    ``weighting="confidence"`` each of those features weighs by its class score."""
    import torch.nn.functional as F

    f = F.normalize(feats.detach(), dim=1).permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
    p = probs.detach().permute(0, 2, 3, 1).reshape(-1, probs.shape[1])
    lab = labels.reshape(-1)
    for c in range(prototypes.shape[0]):
        where = (lab == c).nonzero().squeeze(1)
        if len(where) == 0:
            continue
        top = where[p[where, c].topk(min(top_k, len(where))).indices]
        if weighting == "confidence":
            w = p[top, c]
            mean = F.normalize((f[top] * w[:, None]).sum(0) / w.sum().clamp_min(1e-12), dim=0)
        else:
            mean = F.normalize(f[top].mean(0), dim=0)
        prototypes[c] = mean if not ready[c] else F.normalize(momentum * prototypes[c] + (1 - momentum) * mean, dim=0)
        ready[c] = True


def prototype_contrastive(feats, labels, prototypes, ready, temperature: float, gen, max_pixels: int = 4096):
    """InfoNCE between pixel features and class prototypes: each pixel's own class is the positive."""
    import torch
    import torch.nn.functional as F

    f = F.normalize(feats, dim=1).permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
    lab = labels.reshape(-1)
    keep = (lab != IGNORE_ID) & ready[lab.clamp(max=len(ready) - 1)]
    idx = keep.nonzero().squeeze(1)
    if len(idx) == 0:
        return f.sum() * 0.0
    if len(idx) > max_pixels:
        idx = idx[torch.randperm(len(idx), generator=gen)[:max_pixels]]
    logits = f[idx] @ prototypes.T / temperature
    logits = logits.masked_fill(~ready[None, :], float("-inf"))
    return F.cross_entropy(logits, lab[idx])


def similarity_maps(feats, prototypes, ready, temperature: float):
    """Per pixel, the softmax over the ready prototypes of cosine similarity / temperature: B x K x H x W."""
    import torch.nn.functional as F

    logits = F.normalize(feats, dim=1).permute(0, 2, 3, 1) @ prototypes.T / temperature
    return logits.masked_fill(~ready, float("-inf")).softmax(-1).permute(0, 3, 1, 2)


def prototype_consistency(feats_original, feats_stylized, prototypes, ready, temperature: float):
    """Mean squared difference between the original and the stylized image's prototype-similarity maps (CSA's
    consistency term): zero when stylization does not change which prototype a pixel resembles."""
    if not bool(ready.any()):
        return feats_original.sum() * 0.0
    a = similarity_maps(feats_original, prototypes, ready, temperature)
    b = similarity_maps(feats_stylized, prototypes, ready, temperature)
    return (a - b)[:, ready].pow(2).sum(1).mean()


def paired_batch(data: Arrays, original: Arrays | None, idx, gen, device):
    """A labeled batch and, when ``original`` is given, the same images before stylization with the same flips.
    Draws from ``gen`` exactly as ``batch`` does, so runs without originals are unchanged."""
    import torch

    x, y = batch(data, idx, gen, flip=False)
    flips = torch.rand(len(idx), generator=gen) < 0.5
    x[flips], y[flips] = x[flips].flip(-1), y[flips].flip(-1)
    xo = None
    if original is not None:
        xo, _ = batch(Arrays(original.images), idx, gen, flip=False)
        xo[flips] = xo[flips].flip(-1)
        xo = xo.to(device)
    return x.to(device), y.to(device), xo


def train_adapted(
    source: Arrays, target: Arrays, num_classes: int, cfg: AdaptedTraining, seed: int, original: Arrays | None = None
) -> nn.Module:
    """CSA on labeled ``source`` (stylized, if the recipe stylizes) and unlabeled ``target``; ``original``: the
    same labeled images before stylization, row for row (turns the consistency term on)."""
    import torch
    import torch.nn.functional as F

    if original is not None and len(original) != len(source):
        raise ValueError(
            f"original has {len(original)} images, the stylized source {len(source)}: they must pair row for row"
        )
    torch_threads()
    device = resolve_device(cfg.device)
    a = cfg.adapt
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    student = build_unet(num_classes, cfg.width).to(device)
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    prototypes = torch.zeros(num_classes, cfg.width, device=device)
    ready = torch.zeros(num_classes, dtype=torch.bool, device=device)
    student.train()
    teacher.train()  # BatchNorm in train mode: batch statistics of the target batch, as DACS does

    def step_loss(step: int) -> torch.Tensor:
        idx_s = torch.randint(len(source), (cfg.batch_size,), generator=gen).numpy()
        xs, ys, xo = paired_batch(source, original if a.consistency_weight > 0 else None, idx_s, gen, device)
        logits_s, feats_s = student(xs)
        loss = F.cross_entropy(logits_s, ys, ignore_index=IGNORE_ID)
        if step < a.warmup_steps:
            return loss
        idx_t = torch.randint(len(target), (cfg.batch_size,), generator=gen).numpy()
        xt, _ = batch(target, idx_t, gen, device=device)
        with torch.no_grad():
            probs_t = teacher(xt)[0].softmax(1)
            conf, pseudo = probs_t.max(1)
            weight = (conf > a.pseudo_threshold).float().mean(dim=(1, 2))
        xm, ym, wm, pasted = classmix(xs, ys, xt, pseudo, weight, gen)
        logits_m, feats_m = student(xm)
        per_pixel = F.cross_entropy(logits_m, ym, ignore_index=IGNORE_ID, reduction="none")
        loss = loss + (per_pixel * wm).mean()
        update_prototypes(
            prototypes, ready, feats_s, logits_s.softmax(1), ys, a.top_k, a.prototype_ema, a.prototype_weighting
        )
        if a.contrastive_weight > 0:
            confident = pasted | (conf > a.pseudo_threshold)
            ym_conf = torch.where(confident, ym, torch.full_like(ym, IGNORE_ID))
            feats = torch.cat([feats_s, feats_m])
            labels = torch.cat([ys, ym_conf])
            loss = loss + a.contrastive_weight * prototype_contrastive(
                feats, labels, prototypes, ready, a.temperature, gen
            )
        if xo is not None:
            feats_o = student(xo)[1]
            loss = loss + a.consistency_weight * prototype_consistency(
                feats_o, feats_s, prototypes, ready, a.temperature
            )
        return loss

    def follow_student(step: int) -> None:
        with torch.no_grad():  # EMA teacher; before adaptation starts it simply follows the student
            alpha = a.teacher_ema if step >= a.warmup_steps else 0.0
            for pt, ps in zip(teacher.parameters(), student.parameters()):
                pt.mul_(alpha).add_(ps.detach(), alpha=1 - alpha)
            for bt, bs in zip(teacher.buffers(), student.buffers()):
                bt.copy_(bs)

    fit(student.parameters(), cfg.steps, cfg.lr, step_loss, after_step=follow_student)
    return student.eval()
