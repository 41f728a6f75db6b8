"""HydraMix mixing: composites are made of their sources' pixels and labels, deterministically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from synth.core.paths import DatasetPaths
from synth.mix.compose import dominant_classes
from synth.recipe import load_recipe
from synth.stages.decode import decode
from synth.stages.mix import mix
from synth.stages.synthesize import synthesize
from synth.store.labeled import load_dataset_labeled, load_self_labeled
from tests.conftest import tiny_recipe


def make_dataset(tmp_path: Path, **mix_settings):
    data = tiny_recipe(
        seeds=[{"start": 0, "stop": 30}], mix={"count": 12, "samples_per_shard": 5, "seed": 7, **mix_settings}
    )
    (tmp_path / "recipes").mkdir(exist_ok=True)
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(data))
    recipe = load_recipe("tiny", tmp_path)
    synthesize(recipe, tmp_path, show_progress=False)
    decode(recipe, tmp_path, show_progress=False)
    return recipe


def sources_by_seed(tmp_path: Path, recipe):
    paths = DatasetPaths(tmp_path, recipe.name)
    return {s.seed: s for s in load_dataset_labeled(paths.samples, paths.masks, recipe.name)}


def owner_map(row, sources) -> np.ndarray:
    """For every pixel, the sources whose pixel AND label both equal the composite's (bit k = source k)."""
    match = np.zeros(row.mask.shape, dtype=np.int64)
    for k, seed in enumerate(row.provenance["mix"]["sources"]):
        src = sources[seed]
        same = (src.image == row.image).all(axis=-1) & (src.mask == row.mask)
        match |= same.astype(np.int64) << k
    return match


@pytest.mark.parametrize(
    "settings",
    [
        {"mask": {"type": "felzenszwalb", "scale": 50, "min_size": 20}},
        {"mask": {"type": "class-masks", "fraction": 0.5}},
        {"sources": 2, "pairing": "cross-class", "mask": {"type": "felzenszwalb", "scale": 30, "min_size": 10}},
    ],
)
def test_every_composite_pixel_and_label_come_from_one_of_its_sources(tmp_path, settings):
    recipe = make_dataset(tmp_path, **settings)
    report = mix(recipe, tmp_path, show_progress=False)
    assert report.samples == 12 and len(report.written) == 3
    sources = sources_by_seed(tmp_path, recipe)
    rows = load_self_labeled(DatasetPaths(tmp_path, "tiny").mixed, "mix")
    assert [r.seed for r in rows] == list(range(12))
    mixed_any = False
    for row in rows:
        info = row.provenance["mix"]
        assert info["mixing_seed"] == 7 and len(info["sources"]) == recipe.mix.sources
        match = owner_map(row, sources)
        assert (match > 0).all(), "a composite pixel matches no source in both colour and label"
        only_from = [int((match == (1 << k)).sum()) for k in range(len(info["sources"]))]
        mixed_any |= sum(n > 0 for n in only_from) >= 2
    assert mixed_any, "no composite takes distinguishable pixels from two sources"


def test_whole_items_composites_paste_whole_items_of_later_sources_on_the_first_ones_background(tmp_path):
    from scipy import ndimage

    recipe = make_dataset(tmp_path, pairing="cross-class", mask={"type": "whole-items", "tries": 8})
    mix(recipe, tmp_path, show_progress=False)
    sources = sources_by_seed(tmp_path, recipe)
    rows = load_self_labeled(DatasetPaths(tmp_path, "tiny").mixed, "mix")
    assert [r.seed for r in rows] == list(range(12))
    pasted_items = 0
    for row in rows:
        first, later = (sources[s] for s in row.provenance["mix"]["sources"])
        changed = (row.image != first.image).any(axis=-1) | (row.mask != first.mask)
        assert not (changed & (first.mask != 0)).any()  # the first source's items are untouched
        assert (row.mask[changed] != 0).all()  # only items were pasted, never background
        items, _ = ndimage.label((later.mask != 0) & (later.mask != 255))
        shapes = {}
        for item in range(1, items.max() + 1):
            ys, xs = np.nonzero(items == item)
            shapes[(tuple(ys - ys.min()), tuple(xs - xs.min()))] = (later.image[ys, xs], later.mask[ys, xs])
        owner = _owner(row, first).astype(bool)
        regions, count = ndimage.label(owner)
        for region in range(1, count + 1):
            ys, xs = np.nonzero(regions == region)
            key = (tuple(ys - ys.min()), tuple(xs - xs.min()))
            assert key in shapes, "a pasted region is not a whole item of the later source"
            image, mask = shapes[key]
            assert np.array_equal(row.image[ys, xs], image) and np.array_equal(row.mask[ys, xs], mask)
            pasted_items += 1
        shares = row.provenance["mix"]["source_shares"]
        assert abs(sum(shares) - 1) < 1e-5 and shares[1] == pytest.approx(owner.mean(), abs=1e-5)
    assert pasted_items > 0


def _owner(row, first) -> np.ndarray:
    """1 where the composite's label came from a pasted item: pixels that differ from the first source, grown to
    the whole item (an item pixel may equal the first source's background by chance)."""
    from scipy import ndimage

    changed = (row.image != first.image).any(axis=-1) | (row.mask != first.mask)
    items, _ = ndimage.label((row.mask != 0) & (row.mask != 255) & (first.mask == 0))
    hit = np.unique(items[changed & (items > 0)])
    return np.isin(items, hit[hit > 0]).astype(np.int64)


def test_whole_items_cannot_be_learned(tmp_path):
    from synth.errors import UserError

    with pytest.raises(UserError, match=r"mix\.learned: the learned mixer mixes by regions that stay in place"):
        make_dataset(tmp_path, mask={"type": "whole-items"}, learned={"width": 4})


@pytest.mark.parametrize("pairing", ["same-class", "cross-class"])
def test_pairing_rules(tmp_path, pairing):
    recipe = make_dataset(tmp_path, sources=2, pairing=pairing, mask={"type": "class-masks"})
    mix(recipe, tmp_path, show_progress=False)
    sources = sources_by_seed(tmp_path, recipe)
    dominant = dict(zip(sources, dominant_classes([s.class_fraction for s in sources.values()], recipe.taxonomy.ids)))
    for row in load_self_labeled(DatasetPaths(tmp_path, "tiny").mixed, "mix"):
        seeds = row.provenance["mix"]["sources"]
        assert len(set(seeds)) == len(seeds)
        assert len({dominant[s] for s in seeds}) == (1 if pairing == "same-class" else len(seeds))


def test_mix_is_deterministic_and_resumable(tmp_path):
    recipe = make_dataset(tmp_path)
    mix(recipe, tmp_path, show_progress=False)
    folder = DatasetPaths(tmp_path, "tiny").mixed
    first = {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.parquet"))}
    victim = sorted(folder.glob("shard-*.parquet"))[1]
    victim.unlink()
    report = mix(recipe, tmp_path, show_progress=False)
    assert report.written == [victim.name] and len(report.skipped) == 2
    assert {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.parquet"))} == first


def test_learned_mixer_labels_follow_the_feature_resolution_mixing_mask(tmp_path):
    recipe = make_dataset(
        tmp_path,
        count=4,
        mask={"type": "felzenszwalb", "scale": 30, "min_size": 10},
        learned={"width": 4, "downsamplings": 2, "residual_blocks": 0, "epochs": 1, "batch_size": 8, "train_limit": 16},
    )
    mix(recipe, tmp_path, show_progress=False)
    folder = DatasetPaths(tmp_path, "tiny").mixed
    assert len(list(folder.glob("mixer-*/model.safetensors"))) == 1
    sources = sources_by_seed(tmp_path, recipe)
    stride = 4
    for row in load_self_labeled(folder, "mix"):
        assert row.provenance["mix"]["learned"].startswith("mixer-")
        masks = [sources[s].mask for s in row.provenance["mix"]["sources"]]
        for y in range(0, 64, stride):
            for x in range(0, 64, stride):
                cell = row.mask[y : y + stride, x : x + stride]
                assert any((m[y : y + stride, x : x + stride] == cell).all() for m in masks), (y, x)
        assert row.image.shape == (64, 64, 3)
    # Training is seeded: a rerun from nothing trains the same weights and draws the same composites.
    import shutil

    first = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    shutil.rmtree(folder)
    mix(recipe, tmp_path, show_progress=False)
    assert {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} == first


def test_whole_items_through_the_cli(project):
    data = tiny_recipe(seeds=[{"start": 0, "stop": 30}])
    data["mix"] = {"count": 6, "samples_per_shard": 3, "pairing": "cross-class", "mask": {"type": "whole-items"}}
    project.write_recipe(data)
    for stage in ("synthesize", "decode", "mix"):
        project.synth(stage, "tiny", "--quiet")
    assert len(list((project.root / "data/tiny/mixed").glob("shard-*.parquet"))) == 2
    data["mix"]["learned"] = {"width": 4}
    project.write_recipe(data)
    bad = project.synth("mix", "tiny", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "recipes/tiny.yaml: mix.learned: the learned mixer mixes by regions that stay in place" in bad.stderr
