"""ClassMix (Olsson et al. 2021): paste half of one image's classes, with their labels, onto another image.

CSA's adaptation mixes synthetic images into target images this way (``synth.adapt.csa``); the few-shot
benchmark uses it as a baseline augmentation (``bench/fewshot_training.py``).
"""

from __future__ import annotations

from synth.core.labels import IGNORE_ID


def classmix(xs, ys, xt, pseudo, weight, gen):
    """Paste a random half of each source image's classes onto its target partner."""
    import torch

    masks = []
    for b in range(len(xs)):
        classes = [int(c) for c in torch.unique(ys[b]) if int(c) != IGNORE_ID]
        chosen = (
            [classes[i] for i in torch.randperm(len(classes), generator=gen)[: max(1, (len(classes) + 1) // 2)]]
            if classes
            else []
        )
        masks.append(torch.isin(ys[b], torch.tensor(chosen, dtype=ys.dtype, device=ys.device)))
    m = torch.stack(masks)
    x = torch.where(m[:, None], xs, xt)
    y = torch.where(m, ys, pseudo)
    w = torch.where(m, torch.ones((), device=m.device), weight[:, None, None].expand(m.shape))
    return x, y, w, m
