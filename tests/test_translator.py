"""The CUT translator (stylize method ``cut``): PatchNCE rewards keeping content in place, a short training run
moves images toward the target look while keeping their edges, and the stylize stage trains it once, keys its
shards with it, resumes without retraining and keeps every mask byte for byte."""

from __future__ import annotations

import json

import numpy as np
import torch

from synth.adapt.config import CutTranslator
from synth.adapt.translate import Translator, build_translator, edge_agreement, patch_nce, train_translator
from synth.core.paths import DatasetPaths
from synth.store.labeled import load_self_labeled
from synth.store.shards import list_shards, read_shard
from tests.test_adaptation import adapt_recipe, build

TINY_CUT = {"width": 4, "residual_blocks": 1, "steps": 6, "batch_size": 2, "patches": 16, "train_images": 12}


def test_patch_nce_is_lower_when_each_patch_stays_where_it_was():
    torch.manual_seed(0)
    _, _, heads = build_translator(CutTranslator(width=4))
    feats = [torch.randn(2, c, 8, 8) for c in (3, 4, 8, 16, 16)]
    moved = [f.roll(shifts=3, dims=-1) for f in feats]  # every patch now sits 3 columns away
    with torch.no_grad():
        same = patch_nce(feats, feats, heads, 32, 0.07, torch.Generator().manual_seed(0))
        shifted = patch_nce(moved, feats, heads, 32, 0.07, torch.Generator().manual_seed(0))
    assert float(same) < float(shifted) - 0.5, (float(same), float(shifted))


def shapes(rng, n: int, fg, bg) -> list[np.ndarray]:
    """Rectangles of one colour on a background of another, at random places."""
    out = []
    for _ in range(n):
        img = np.empty((32, 32, 3), np.uint8)
        img[:] = bg
        y, x = rng.integers(2, 16, 2)
        h, w = rng.integers(8, 15, 2)
        img[y : y + h, x : x + w] = fg
        out.append(img)
    return out


def test_training_moves_images_toward_the_target_look_and_keeps_their_edges(tmp_path):
    rng = np.random.default_rng(0)
    source = shapes(rng, 24, fg=(230, 230, 230), bg=(20, 20, 20))  # grey on black
    target = shapes(rng, 24, fg=(240, 200, 40), bg=(30, 40, 140))  # yellow on blue
    cfg = CutTranslator(width=8, residual_blocks=1, steps=150, batch_size=4, patches=64, device="cpu")
    model, history = train_translator(source, target, cfg)
    assert set(history) == {"d", "gan", "nce", "nce_identity"} and len(history["nce"]) == 150
    assert np.mean(history["nce"][-20:]) < np.mean(history["nce"][:20])
    out = model.translate(source)
    target_bg = np.array([30, 40, 140.0])
    before = np.mean([np.abs(img[0, 0] - target_bg).sum() for img in source])  # a corner is always background
    after = np.mean([np.abs(img[0, 0].astype(float) - target_bg).sum() for img in out])
    assert after < 0.5 * before, (before, after)
    assert edge_agreement(source, out) > 0.5
    model.save(tmp_path / "cut", history)
    again = Translator.load(tmp_path / "cut").translate(source[:3])
    assert all(np.array_equal(a, b) for a, b in zip(again, out[:3]))


def test_edge_agreement_is_one_for_the_same_layout_and_low_for_another():
    rng = np.random.default_rng(1)
    images = shapes(rng, 6, fg=(200, 200, 200), bg=(0, 0, 0))
    recoloured = [255 - img for img in images]
    assert edge_agreement(images, recoloured) > 0.99
    assert edge_agreement(images, images[1:] + images[:1]) < 0.5


def test_stylize_stage_with_cut_trains_once_resumes_and_keeps_masks(tmp_path):
    data = adapt_recipe(stylize={"method": "cut", "cut": TINY_CUT})
    recipe = build(tmp_path, data)
    from synth.stages.stylize import stylize

    logged: list[str] = []
    stylize(recipe, tmp_path, show_progress=False, log=logged.append)
    paths = DatasetPaths(tmp_path, "tiny")
    folders = list(paths.stylized.glob("translator-*"))
    assert len(folders) == 1 and (folders[0] / "model.safetensors").is_file()
    assert len(json.loads((folders[0] / "losses.json").read_text())["nce"]) == 6
    assert any("training the CUT translator on 12 samples and 16 target images" in m for m in logged)
    masks = {
        r["seed"]: r["mask"] for s in list_shards(paths.masks) for r in read_shard(s, ["seed", "mask"]).to_pylist()
    }
    styled = load_self_labeled(paths.stylized, "stylize")
    assert len(styled) == 20 and all(s.mask_png == masks[s.seed] for s in styled)
    assert all(s.provenance["stylize"]["translator"] == folders[0].name for s in styled)
    metrics = json.loads(paths.stylize_metrics.read_text())
    assert metrics["method"] == "cut" and metrics["translator"] == folders[0].name
    assert 0.0 < metrics["edge_agreement"] <= 1.0

    # A killed run: one shard gone (and a translator save that never finished). The translator is loaded, not
    # trained again; the shard comes back the same; the half-saved folder is removed.
    (paths.stylized / ".translator-0123456789abcdef.tmp").mkdir()
    shards = list_shards(paths.stylized)
    first = shards[0].read_bytes()
    shards[0].unlink()
    logged.clear()
    stylize(recipe, tmp_path, show_progress=False, log=logged.append)
    assert not any("training" in m for m in logged)
    assert list_shards(paths.stylized)[0].read_bytes() == first
    assert not list(paths.stylized.glob(".translator-*"))

    # Different translator settings: a new translator replaces the old one and every shard is rewritten.
    data["stylize"]["cut"] = TINY_CUT | {"steps": 7}
    recipe = build(tmp_path, data)
    stylize(recipe, tmp_path, show_progress=False)
    now = list(paths.stylized.glob("translator-*"))
    assert len(now) == 1 and now[0].name != folders[0].name
    assert {s.provenance["stylize"]["translator"] for s in load_self_labeled(paths.stylized, "stylize")} == {
        now[0].name
    }


def test_synth_stylize_with_cut_through_the_cli(project):
    project.write_recipe(adapt_recipe(stylize={"method": "cut", "cut": TINY_CUT}))
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    project.synth("target", "tiny")
    result = project.synth("stylize", "tiny")
    assert "training the CUT translator on 12 samples and 16 target images (6 steps)" in result.stderr
    assert "edge agreement 0." in result.stderr
    assert len(list((project.root / "data/tiny/stylized").glob("shard-*.parquet"))) == 2
    again = project.synth("stylize", "tiny")
    assert "training" not in again.stderr and "2 up to date" in again.stderr
