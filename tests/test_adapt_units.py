"""CSA's pieces on hand-made tensors: ClassMix, the prototype EMA, the contrastive and consistency losses, and a
domain distance that stylization can move either way."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth.adapt.csa import (
    paired_batch,
    prototype_consistency,
    prototype_contrastive,
    similarity_maps,
    update_prototypes,
)
from synth.core.labels import IGNORE_ID as IGNORE
from synth.mix.classmix import classmix
from synth.segment.arrays import Arrays, batch


def test_classmix_pastes_whole_classes_with_their_labels_and_weights():
    gen = torch.Generator().manual_seed(0)
    ys = torch.tensor([[[0, 1, 1, 2], [0, 3, 3, 2], [IGNORE, 3, 1, 2]]])  # 1 x 3 x 4, classes 0..3 + ignore
    xs = torch.arange(12, dtype=torch.float32).view(1, 1, 3, 4).repeat(1, 3, 1, 1)
    xt = torch.full_like(xs, -1.0)
    pseudo = torch.full_like(ys, 7)
    weight = torch.tensor([0.25])
    x, y, w, m = classmix(xs, ys, xt, pseudo, weight, gen)
    pasted = sorted(int(c) for c in torch.unique(ys[m]))
    assert len(pasted) == 2, "half of the 4 classes (ignore is not a class) are pasted"
    assert IGNORE not in pasted
    assert torch.equal(m, torch.isin(ys, torch.tensor(pasted))), "whole classes move, every pixel of them"
    assert torch.equal(x[:, :, m[0]], xs[:, :, m[0]]) and (x[:, :, ~m[0]] == -1).all()
    assert torch.equal(y[m], ys[m]) and (y[~m] == 7).all()
    assert (w[m] == 1).all() and torch.allclose(w[~m], torch.tensor(0.25))


def test_prototypes_start_at_the_top_k_mean_and_then_move_by_the_ema_rule():
    # 1 x 2 channels x 1 x 4 pixels, all labeled class 1; the least confident pixel points the other way.
    feats = torch.tensor([[[[1.0, 1.0, 0.0, -1.0]], [[0.0, 1.0, 1.0, 0.0]]]])
    probs = torch.tensor([[[[0.1, 0.1, 0.1, 0.9]], [[0.9, 0.8, 0.7, 0.1]]]])  # class-1 scores 0.9, 0.8, 0.7, 0.1
    labels = torch.ones(1, 1, 4, dtype=torch.long)
    protos, ready = torch.zeros(2, 2), torch.zeros(2, dtype=torch.bool)
    update_prototypes(protos, ready, feats, probs, labels, top_k=3, momentum=0.9)
    f = F.normalize(feats[0, :, 0].T, dim=1)  # pixels x channels, normalised
    first = F.normalize(f[:3].mean(0), dim=0)  # the three most confident pixels, not the 0.1 one
    assert ready.tolist() == [False, True] and torch.allclose(protos[1], first) and (protos[0] == 0).all()
    new_feats = torch.tensor([[[[0.0, 0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0, 1.0]]]])
    update_prototypes(protos, ready, new_feats, probs, labels, top_k=3, momentum=0.9)
    expected = F.normalize(0.9 * first + 0.1 * torch.tensor([0.0, 1.0]), dim=0)
    assert torch.allclose(protos[1], expected, atol=1e-6)


def test_confidence_weighted_prototypes_lean_toward_the_most_confident_pixels():
    feats = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # pixel 0 -> (1, 0), pixel 1 -> (0, 1)
    probs = torch.tensor([[[[0.1, 0.6]], [[0.9, 0.4]]]])  # class-1 scores 0.9 and 0.4
    labels = torch.ones(1, 1, 2, dtype=torch.long)
    plain, weighted = torch.zeros(2, 2), torch.zeros(2, 2)
    update_prototypes(plain, torch.zeros(2, dtype=torch.bool), feats, probs, labels, 32, 0.9, "mean")
    update_prototypes(weighted, torch.zeros(2, dtype=torch.bool), feats, probs, labels, 32, 0.9, "confidence")
    assert torch.allclose(plain[1], F.normalize(torch.tensor([0.5, 0.5]), dim=0))
    assert torch.allclose(weighted[1], F.normalize(torch.tensor([0.9, 0.4]), dim=0))


def test_contrastive_loss_is_low_when_pixels_sit_on_their_own_prototype():
    gen = torch.Generator().manual_seed(0)
    protos = torch.eye(3)
    ready = torch.tensor([True, True, True])
    labels = torch.tensor([[[0, 1, 2, IGNORE]]])
    on_own = torch.eye(3)[[0, 1, 2, 0]].T.reshape(1, 3, 1, 4)  # pixel i's feature is prototype i
    on_other = torch.eye(3)[[1, 2, 0, 0]].T.reshape(1, 3, 1, 4)
    low = prototype_contrastive(on_own, labels, protos, ready, 0.1, gen)
    high = prototype_contrastive(on_other, labels, protos, ready, 0.1, gen)
    assert float(low) < 1e-3 and float(high) > 5.0
    # Value by hand: cross-entropy of logits (1, 0, 0) / 0.1 with the right class, ignore pixel left out.
    assert float(low) == pytest.approx(float(F.cross_entropy(torch.tensor([[10.0, 0.0, 0.0]]), torch.tensor([0]))))
    # Classes without a prototype yet are neither positives nor negatives: the class-2 pixel is left out, and the
    # others are scored against prototypes 0 and 1 only (pixel 0 sits on prototype 1, pixel 1 on prototype 2).
    part = prototype_contrastive(on_other, labels, protos, torch.tensor([True, True, False]), 0.1, gen)
    by_hand = F.cross_entropy(torch.tensor([[0.0, 10.0], [0.0, 0.0]]), torch.tensor([0, 1]))
    assert float(part) == pytest.approx(float(by_hand), rel=1e-5)


def test_consistency_is_zero_for_same_maps_and_grows_when_stylization_changes_the_nearest_prototype():
    protos = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=1)
    ready = torch.tensor([True, True])
    original = torch.tensor([[[[1.0, 0.9]], [[0.0, 0.1]]]])  # both pixels near prototype 0
    assert float(prototype_consistency(original, original * 3.0, protos, ready, 0.1)) == pytest.approx(0.0, abs=1e-7)
    swapped = original.flip(1)  # both pixels near prototype 1
    far = float(prototype_consistency(original, swapped, protos, ready, 0.1))
    near = float(prototype_consistency(original, original + 0.1 * swapped, protos, ready, 0.1))
    assert far > 1.0 > near > 0.0
    maps = similarity_maps(original, protos, ready, 0.1)
    assert torch.allclose(maps.sum(1), torch.ones(1, 1, 2)) and maps.shape == (1, 2, 1, 2)
    # A gradient step on the stylized features lowers it (it is differentiable and points the right way).
    styl = (swapped + 0.2).requires_grad_(True)
    before = prototype_consistency(original, styl, protos, ready, 0.1)
    before.backward()
    after = prototype_consistency(original, styl.detach() - 0.5 * styl.grad, protos, ready, 0.1)
    assert float(after) < float(before)


def test_paired_batch_flips_original_and_stylized_together_and_draws_like_batch():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    styled = Arrays(255 - images, rng.integers(0, 3, (6, 4, 4), dtype=np.uint8))
    idx = np.array([0, 1, 2, 3, 4, 5])
    xs, ys, xo = paired_batch(styled, Arrays(images), idx, torch.Generator().manual_seed(3), torch.device("cpu"))
    assert torch.allclose(xs, -xo, atol=1e-5), "stylized = inverted original, pixel for pixel after the same flips"
    ref_x, ref_y = batch(styled, idx, torch.Generator().manual_seed(3))
    assert torch.equal(xs, ref_x) and torch.equal(ys, ref_y)


def test_conv_domain_distance_can_rise_as_well_as_fall_under_stylization():
    from synth.adapt.domain import conv_domain_distance, domain_distance
    from synth.adapt.stylize import lab_stats, reinhard

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]

    def blobs(n, colour, sharp):
        out = []
        for _ in range(n):
            cy, cx, r = rng.integers(8, 24), rng.integers(8, 24), rng.integers(4, 9)
            inside = ((yy - cy) ** 2 + (xx - cx) ** 2 < r**2)[..., None]
            img = np.where(inside, colour, 255 - np.asarray(colour)).astype(np.float64)
            if not sharp:
                img = img + rng.normal(0, 60, img.shape)  # the same colours, very different texture
            out.append(np.clip(img, 0, 255).astype(np.uint8))
        return out

    source = blobs(40, (200, 60, 40), sharp=True)
    target = blobs(40, (60, 90, 200), sharp=True)
    styled = [reinhard(s, *lab_stats(target), 1.0) for s in source]
    assert conv_domain_distance(styled, target) < 0.5 * conv_domain_distance(source, target)  # it falls ...
    noisy_target = blobs(40, (200, 60, 40), sharp=False)
    to_noisy = [reinhard(s, *lab_stats(noisy_target), 1.0) for s in source]
    # ... and rises: matching the noisy target's LAB statistics flattens the sharp source's contrast, which takes
    # it further from the noisy target in conv features while the LAB-statistics distance falls.
    assert domain_distance(to_noisy, noisy_target) < domain_distance(source, noisy_target)
    assert conv_domain_distance(to_noisy, noisy_target) > conv_domain_distance(source, noisy_target)


def _tiny_sets(n: int = 6):
    rng = np.random.default_rng(4)
    masks = rng.integers(0, 3, (n, 16, 16), dtype=np.uint8)
    original = Arrays((masks[..., None] * 80 + rng.integers(0, 30, (n, 16, 16, 3))).astype(np.uint8), masks)
    styled = Arrays((255 - original.images).astype(np.uint8), masks)
    target = Arrays(rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))
    return original, styled, target


def _weights(model) -> list:
    return [p.detach().clone() for p in model.parameters()]


def test_train_adapted_uses_the_originals_only_through_the_consistency_term():
    from synth.adapt.csa import train_adapted
    from synth.evaluate.config import EvaluateSettings

    original, styled, target = _tiny_sets()
    cfg = EvaluateSettings(
        image_size=16,
        steps=4,
        batch_size=2,
        width=4,
        device="cpu",
        adapt={"teacher_ema": 0.9, "top_k": 4, "warmup_steps": 1, "consistency_weight": 0.0},
    )
    without = _weights(train_adapted(styled, target, 3, cfg, seed=0))
    ignored = _weights(train_adapted(styled, target, 3, cfg, seed=0, original=original))
    assert all(torch.equal(a, b) for a, b in zip(without, ignored)), "weight 0: the same draws, the same weights"
    on = cfg.model_copy(update={"adapt": cfg.adapt.model_copy(update={"consistency_weight": 1.0})})
    used = _weights(train_adapted(styled, target, 3, on, seed=0, original=original))
    assert any(not torch.equal(a, b) for a, b in zip(without, used)), "weight 1: the term changes training"
    with pytest.raises(ValueError, match="pair row for row"):
        train_adapted(styled, target, 3, on, seed=0, original=Arrays(original.images[:3], original.masks[:3]))
