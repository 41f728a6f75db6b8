"""The attention decoder's modes on constructed evidence, and the evidence the diffusion generator stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synth.decode.attention import AttentionDecoderConfig, decode_evidence, decode_scores
from synth.decode.components import component_matching, component_vote

SIDE = 8  # stored class maps are 8x8 here, decoded to 32x32


def settings(**changes) -> AttentionDecoderConfig:
    return AttentionDecoderConfig(type="attention", **changes)


def stored(raw: np.ndarray) -> dict:
    """What the synthesize stage stores of raw refined maps (K, r, r): normalised maps and each raw [min, max]."""
    low, high = raw.min(axis=(1, 2)), raw.max(axis=(1, 2))
    scores = ((raw - low[:, None, None]) / np.maximum(high - low, 1e-12)[:, None, None]).astype(np.float16)
    return {"scores": scores, "score_range": np.stack([low, high], axis=1).astype(np.float32)}


def blob(centre: tuple[int, int], height: float, base: float = 0.3) -> np.ndarray:
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    return base + height * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / 2.0)


def flat(rng: np.random.Generator, spread: float = 1e-4) -> np.ndarray:
    return 0.3 + rng.uniform(-spread, spread, size=(SIDE, SIDE))  # "weak everywhere": 0.30 +- 0.0001


def test_per_class_mode_floods_a_flat_map_as_dataset_diffusion_does():
    """The published behaviour, kept as the default mode: every prompted map gets a region near 1."""
    arrays = stored(flat(np.random.default_rng(0))[None]) | {"class_ids": np.array([4])}
    mask, _ = decode_evidence(arrays, None, 32, settings())
    expected, _ = decode_scores(arrays["scores"], arrays["class_ids"], 32, 0.6, 0.5)
    assert np.array_equal(mask, expected)
    assert (mask == 4).mean() > 0.05  # noise at 0.30 +- 0.0001 still labels a garment


def test_background_aware_mode_labels_nothing_on_a_flat_map():
    raw = flat(np.random.default_rng(0))[None]
    arrays = stored(raw) | {"class_ids": np.array([4])}
    mask, confidence = decode_evidence(arrays, None, 32, settings(normalise="contrast", min_contrast=1e-3))
    assert (mask == 0).all() and (confidence == 1.0).all()
    sharp = stored(blob((4, 4), 0.5)[None]) | {"class_ids": np.array([4])}  # a drawn item still labels
    mask, _ = decode_evidence(sharp, None, 32, settings(normalise="contrast", min_contrast=1e-3))
    assert mask[16, 16] == 4 and mask[0, 0] == 0


def test_contrast_mode_leaves_a_weak_class_out_where_per_class_labels_it():
    raw = np.stack([blob((2, 2), 0.5), flat(np.random.default_rng(1))])  # class 3 drawn, class 7 weak everywhere
    arrays = stored(raw) | {"class_ids": np.array([3, 7])}
    per_class, _ = decode_evidence(arrays, None, 32, settings())
    contrast, _ = decode_evidence(arrays, None, 32, settings(normalise="contrast"))
    assert (per_class == 7).mean() > 0.05
    assert not (contrast == 7).any() and contrast[8, 8] == 3


def test_an_empty_black_image_gets_a_background_mask():
    arrays = stored(blob((4, 4), 0.5)[None]) | {"class_ids": np.array([2])}
    black = np.zeros((32, 32, 3), np.uint8)
    black[0, :5] = 200  # five bright specks are no item
    mask, _ = decode_evidence(arrays, black, 32, settings(black_level=24))
    assert (mask == 0).all()
    drawn = black.copy()
    drawn[10:22, 10:22] = 180
    mask, _ = decode_evidence(arrays, drawn, 32, settings(black_level=24))
    assert (mask == 2).any()


def test_clip_to_image_makes_black_pixels_background_and_unclaimed_bright_pixels_ignore():
    arrays = stored(blob((2, 2), 0.5)[None]) | {"class_ids": np.array([5])}  # attention: top-left
    image = np.zeros((32, 32, 3), np.uint8)
    image[7:13, 7:13] = 150  # an item at the top left, where the class map peaks
    image[9, 9] = 0  # with a dark pixel inside it, which is the item's
    image[20:30, 20:30] = 150  # and one no class map claims
    mask, _ = decode_evidence(arrays, image, 32, settings(black_level=24, clip_to_image=True))
    outside = np.ones((32, 32), bool)
    outside[7:13, 7:13] = outside[20:30, 20:30] = False
    assert (mask[outside] == 0).all()
    assert (mask[7:13, 7:13] == 5).all()
    assert (mask[20:30, 20:30] == 255).all()


def test_component_vote_gives_one_class_per_component():
    mask = np.zeros((12, 12), np.uint8)
    mask[1:6, 1:6] = 3
    mask[1:3, 1:6] = 8  # 10 pixels of 8 inside a 25-pixel region: 3 wins
    mask[8:11, 7:11] = 9
    mask[8, 7] = 1
    mask[4, 4] = 255  # ignore stays ignore
    voted = component_vote(mask)
    assert np.array_equal(np.unique(voted[1:6, 1:6]), [3, 255]) and voted[4, 4] == 255
    assert (voted[8:11, 7:11] == 9).all() and (voted == 0).sum() == (mask == 0).sum()
    from scipy.ndimage import label

    regions, count = label((voted != 0) & (voted != 255), structure=np.ones((3, 3), bool))
    assert all(len(np.unique(voted[regions == r])) == 1 for r in range(1, count + 1))
    only = component_vote(mask, allowed=np.array([8, 9]))  # votes for classes the prompt does not name drop out
    assert (only[1:6, 1:6][mask[1:6, 1:6] != 255] == 8).all()


def test_matched_vote_gives_each_asked_class_its_own_item():
    """Two items, two asked classes, one class flooding both: the majority vote labels both items with it, the
    matched vote gives the second item the class that scores higher there than on the first."""
    mask = np.zeros((16, 16), np.uint8)
    mask[1:7, 1:7] = 3  # item A, 36 px
    mask[9:14, 9:14] = 3  # item B, 25 px: the per-pixel argmax said 3 here too
    mask[3, 3] = 255  # ignore stays ignore
    scores = np.zeros((2, 16, 16), np.float32)  # rows: class 3, class 8
    scores[0, 1:7, 1:7], scores[1, 1:7, 1:7] = 0.9, 0.5
    scores[0, 9:14, 9:14], scores[1, 9:14, 9:14] = 0.8, 0.7
    majority = component_vote(mask, np.array([3, 8]))
    assert set(np.unique(majority)) == {0, 3, 255}  # one class for both items
    matched = component_matching(mask, scores, np.array([3, 8]))
    assert (matched[9:14, 9:14] == 8).all()
    assert set(np.unique(matched[1:7, 1:7])) == {3, 255} and matched[3, 3] == 255
    assert (matched == 0).sum() == (mask == 0).sum()  # background is left alone

    # A third, smaller region beyond the two asked classes (a fragment) takes its best class, shared or not.
    mask[15, 0:2] = 3
    scores[:, 15, 0:2] = [[0.2], [0.6]]
    fragment = component_matching(mask, scores, np.array([3, 8]))
    assert (fragment[15, 0:2] == 8).all() and (fragment[9:14, 9:14] == 8).all()
    assert (component_matching(np.zeros((4, 4), np.uint8), scores[:, :4, :4], np.array([3, 8])) == 0).all()


def test_matched_vote_through_the_decoder_labels_each_prompted_item():
    """Through ``decode_evidence``: two items; class 4's map is highest on both, class 9's peaks on the black
    background (which the image clips) and is second on the second item."""
    raw = np.stack([blob((2, 2), 1.0) + blob((5, 5), 0.9), blob((7, 0), 1.0) + blob((5, 5), 0.6)])
    image = np.zeros((32, 32, 3), np.uint8)
    image[4:13, 4:13] = 200
    image[17:26, 17:26] = 200
    arrays = stored(raw) | {"class_ids": np.array([4, 9])}
    common = {"black_level": 24, "clip_to_image": True, "label_threshold": 0.4, "background_threshold": 0.3}
    component, _ = decode_evidence(arrays, image, 32, settings(vote="component", **common))
    matched, _ = decode_evidence(arrays, image, 32, settings(vote="matched", **common))
    assert component[8, 8] == component[21, 21] == 4
    assert matched[8, 8] == 4 and matched[21, 21] == 9
    assert np.array_equal(matched == 0, component == 0)


def test_clip_to_image_needs_a_black_level():
    from synth.recipe import load_recipe

    recipe = load_recipe("fashion", Path(__file__).resolve().parents[1])
    problems = settings(clip_to_image=True).problems(recipe.context())
    assert ("decode.clip_to_image", "needs decode.black_level (the grey level of the background)") in problems
    assert settings(clip_to_image=True, black_level=24).problems(recipe.context()) == []


def test_modes_that_read_the_raw_range_refuse_samples_without_it():
    arrays = {"scores": np.zeros((1, SIDE, SIDE), np.float16), "class_ids": np.array([1])}
    with pytest.raises(ValueError, match="score_range"):
        decode_evidence(arrays, None, 32, settings(normalise="contrast"))


def test_the_generator_stores_each_maps_raw_range_and_the_samples_key_covers_it(tmp_path, monkeypatch):
    import yaml

    from synth.generate.diffusion import DiffusionConfig
    from synth.generate.prompts import plan_sample
    from synth.recipe import load_recipe
    from synth.stages.synthesize import shard_plans
    from tests.tinymodels import diffusion_recipe, save_tiny_sd

    (tmp_path / "recipes").mkdir()
    raw = diffusion_recipe(save_tiny_sd(tmp_path / "model"))
    (tmp_path / "recipes" / "tinysd.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    recipe = load_recipe("tinysd", tmp_path)
    generator = recipe.generator.build(recipe.context())
    for sample in generator.generate([plan_sample(recipe.context(), seed) for seed in (0, 1)]):
        arrays = sample.arrays
        k = len(arrays["class_ids"])
        assert arrays["scores"].shape[0] == k and arrays["score_range"].shape == (k, 2)
        assert (
            arrays["score_range"].dtype == np.float32
            and (arrays["score_range"][:, 1] > arrays["score_range"][:, 0]).all()
        )
        assert arrays["background"].shape == arrays["scores"].shape[1:] and arrays["background_range"].shape == (2,)
        assert arrays["scores"].max() == pytest.approx(1.0) and arrays["scores"].min() == 0.0
    keys = [plan.key for plan in shard_plans(recipe)]
    monkeypatch.setattr(DiffusionConfig, "evidence_format", lambda self: 1)
    assert all(a != b for a, b in zip(keys, [plan.key for plan in shard_plans(recipe)]))  # what is stored changed
