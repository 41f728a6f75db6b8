"""HydraMix's learned mixer piece by piece: the Laplacian loss, one training step, the N-way segment mixes it trains
on, and, through the mix stage, that a learned composite's pixels come from the source its label names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from synth.mix.config import ClassMasksMask, FelzenszwalbMask, LearnedMixer
from synth.mix.learned import (
    MixerTrainer,
    label_agreement,
    laplacian_loss,
    segment_index_for,
    training_mixes,
)
from synth.mix.masks import assign_segments, felzenszwalb_segments


def test_laplacian_loss_sees_detail_and_colour_separately():
    real = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert float(laplacian_loss(real, real, 3)) == 0.0
    fake = real + 0.3
    assert float(laplacian_loss(fake, real, 1)) == pytest.approx(float(F.l1_loss(fake, real)))
    # A constant offset lives in the coarsest band only: it counts once, not once per level.
    assert float(laplacian_loss(fake, real, 3)) == pytest.approx(0.3, abs=1e-5)
    # A +-0.2 checkerboard averages away under 2x2 pooling: all of it is in the finest detail band.
    checker = 0.2 * (1 - 2 * ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2)).float()
    detail = real + checker
    assert float(laplacian_loss(detail, real, 3)) == pytest.approx(0.2, abs=1e-5)
    assert float(F.l1_loss(F.avg_pool2d(detail, 2), F.avg_pool2d(real, 2))) == pytest.approx(0.0, abs=1e-6)


def test_one_mixer_step_at_a_time_fits_a_fixed_batch():
    cfg = LearnedMixer(width=4, residual_blocks=0, downsamplings=2, lr=3e-3, device="cpu")
    trainer = MixerTrainer(cfg, seed=0)
    blocks = torch.rand(4, 3, 4, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    x = F.interpolate(blocks, scale_factor=4, mode="nearest")  # flat 4x4 patches: learnable in a few steps
    groups = torch.tensor([[0, 1, 2], [1, 2, 3], [2, 3, 0], [3, 0, 1]])
    owners = torch.randint(0, 3, (4, 4, 4), generator=torch.Generator().manual_seed(2))
    encoder_before = [p.detach().clone() for p in trainer.encoder.parameters()]
    disc_before = [p.detach().clone() for p in trainer.disc.parameters()]
    history = [trainer.step(x, groups, owners) for _ in range(80)]
    assert set(history[0]) == {"reconstruction", "laplacian", "adversarial", "discriminator"}
    first, last = (
        np.mean([h["reconstruction"] for h in history[:5]]),
        np.mean([h["reconstruction"] for h in history[-5:]]),
    )
    assert last < 0.6 * first, (first, last)
    assert np.mean([h["laplacian"] for h in history[-5:]]) < np.mean([h["laplacian"] for h in history[:5]])
    assert any(not torch.equal(a, b) for a, b in zip(encoder_before, trainer.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(disc_before, trainer.disc.parameters()))


def test_mix_features_take_every_cell_from_the_source_that_owns_it():
    trainer = MixerTrainer(LearnedMixer(width=4, residual_blocks=0, device="cpu"), seed=0)
    feats = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 2, 2, 2) * 10 + torch.arange(4.0).view(
        1, 1, 2, 2
    )
    groups = torch.tensor([[2, 0, 1], [1, 2, 0]])
    owners = torch.tensor([[[0, 1], [2, 0]], [[2, 2], [1, 0]]])
    mixed = trainer.mix_features(feats, groups, owners)
    for b in range(2):
        for i in range(2):
            for j in range(2):
                source = int(groups[b, owners[b, i, j]])
                assert torch.equal(mixed[b, :, i, j], feats[source, :, i, j])


def test_training_mixes_are_n_way_segment_mixes_like_the_mix_stage_draws():
    rng_images = np.random.default_rng(0)
    images = [np.kron(rng_images.integers(0, 256, (4, 4, 3)), np.ones((8, 8, 1))).astype(np.uint8) for _ in range(6)]
    cfg = FelzenszwalbMask(scale=10, min_size=4, sigma=0.0)
    index_for = segment_index_for(images, cfg)
    groups, owners = training_mixes(
        [5, 3, 1, 0], 3, 4, index_for, np.random.default_rng(1), torch.Generator().manual_seed(0)
    )
    assert groups.shape == (4, 3) and owners.shape == (4, 8, 8)
    for b, group in enumerate(groups.tolist()):
        assert group[0] == b and len(set(group)) == 3, "source 0 is the item itself, then N - 1 distinct others"
    assert all(set(o.unique().tolist()) == {0, 1, 2} for o in owners), "every source owns part of every mix"
    # The owners follow Felzenszwalb segments of source 0: a segment's cells all belong to one source.
    segments = felzenszwalb_segments(images[5], cfg)[2::4, 2::4]
    for seg in np.unique(segments):
        assert len(np.unique(owners[0].numpy()[segments == seg])) == 1
    masks = [np.kron(rng_images.integers(0, 3, (2, 2)), np.ones((16, 16))).astype(np.uint8) for _ in range(6)]
    by_class = segment_index_for(images, ClassMasksMask(fraction=1.0), masks)
    index = by_class([0, 1], np.random.default_rng(0))
    assert (index[masks[1] > 0] == 1).all() and (index[masks[1] == 0] == 0).all()


def test_label_agreement_is_one_for_exact_composites_and_low_for_images_that_ignore_the_labels():
    a, b = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 200, np.uint8)
    ma, mb = np.ones((8, 8), np.uint8), np.full((8, 8), 2, np.uint8)
    index = np.zeros((8, 8), np.int64)
    index[:, 4:] = 1
    composite = np.where(index[..., None] == 1, b, a)
    label = np.where(index == 1, mb, ma)
    assert label_agreement(composite, [a, b], [ma, mb], label) == 1.0
    assert label_agreement(a, [a, b], [ma, mb], label) == 0.5  # the image is source 0 everywhere
    assert label_agreement(composite, [a, b], [ma, mb], np.where(index == 1, ma, mb)) == 0.0
    assert np.isnan(label_agreement(a, [a, a], [ma, ma], ma))


def test_learned_mixer_images_come_from_the_source_their_labels_name(tmp_path):
    """Measured on the image: where the sources' labels differ, the composite pixel's nearest source (in colour)
    has the label the composite's mask gives there."""
    from synth.recipe import load_recipe
    from synth.stages.decode import decode
    from synth.stages.mix import mix
    from synth.stages.synthesize import synthesize
    from synth.store.labeled import load_self_labeled
    from tests.conftest import tiny_recipe

    mix_settings = {
        "count": 12,
        "sources": 2,
        "pairing": "cross-class",
        "seed": 3,
        "mask": {"type": "felzenszwalb", "scale": 30, "min_size": 10},
        "learned": {"width": 8, "residual_blocks": 0, "epochs": 20, "batch_size": 8, "lr": 0.002, "device": "cpu"},
    }
    data = tiny_recipe(seeds=[{"start": 0, "stop": 24}], mix=mix_settings)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(data))
    recipe = load_recipe("tiny", tmp_path)
    synthesize(recipe, tmp_path, show_progress=False)
    decode(recipe, tmp_path, show_progress=False)
    mix(recipe, tmp_path, show_progress=False)
    from synth.core.paths import DatasetPaths
    from synth.store.labeled import load_dataset_labeled

    paths = DatasetPaths(tmp_path, "tiny")
    sources = {s.seed: s for s in load_dataset_labeled(paths.samples, paths.masks, "tiny")}
    agree, swapped = [], []
    for row in load_self_labeled(paths.mixed, "mix"):
        members = [sources[s] for s in row.provenance["mix"]["sources"]]
        images, masks = [m.image for m in members], [m.mask for m in members]
        agree.append(label_agreement(row.image, images, masks, row.mask))
        recorded = row.provenance["mix"]["label_agreement"]
        assert recorded == (None if np.isnan(agree[-1]) else pytest.approx(agree[-1], abs=1e-4))
        other = np.where(row.mask == masks[0], masks[1], masks[0])  # the label of the source the mask did NOT pick
        swapped.append(label_agreement(row.image, images, masks, other))
    assert np.nanmean(agree) > 0.7, agree  # chance is 0.5 with two sources
    assert np.nanmean(agree) > np.nanmean(swapped) + 0.4, (agree, swapped)


def test_assign_segments_gives_every_source_a_segment():
    segments = np.repeat(np.arange(5), 4).reshape(4, 5)
    for seed in range(20):
        owner = assign_segments(segments, 4, np.random.default_rng(seed))
        assert set(np.unique(owner)) == {0, 1, 2, 3}
        assert all(len(np.unique(owner[segments == s])) == 1 for s in range(5))


@pytest.mark.parametrize("pairing", ["same-class", "cross-class"])
def test_grouped_sources_come_from_one_group_and_never_from_an_excluded_sample(pairing):
    from synth.mix.compose import choose_sources
    from synth.mix.config import MixSettings

    rng = np.random.default_rng(0)
    dominant = rng.integers(1, 4, 60)
    groups = np.array(["train"] * 40 + ["test"] * 12 + [None] * 8, dtype=object)
    settings = MixSettings(count=1, sources=2, pairing=pairing)
    drawn = [choose_sources(dominant, settings, np.random.default_rng([7, i]), groups) for i in range(300)]
    assert all(len({groups[j] for j in picked}) == 1 for picked in drawn)
    assert not any(groups[j] is None for picked in drawn for j in picked)
    seen = {groups[picked[0]] for picked in drawn}
    assert seen == {"train", "test"}  # both groups are drawn, the larger more often
    assert sum(groups[p[0]] == "train" for p in drawn) > sum(groups[p[0]] == "test" for p in drawn)
    same = [choose_sources(dominant, settings, np.random.default_rng([7, i]), groups) for i in range(300)]
    assert same == drawn


def test_grouped_sources_fail_with_one_line_when_no_group_can_make_a_composite():
    from synth.errors import UserError
    from synth.mix.compose import choose_sources
    from synth.mix.config import MixSettings

    dominant = np.array([1, 2, 3, 1, 2, 3])
    groups = np.array(["train", "test", "validation", None, None, None], dtype=object)
    with pytest.raises(UserError, match="no split holds 2 samples"):
        choose_sources(dominant, MixSettings(count=1, sources=2), np.random.default_rng(0), groups)
