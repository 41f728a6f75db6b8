"""Judge-checked labels (``decode.judge_labels``): regions the judge rejects become ignore, samples it mostly
rejects are excluded with their reason, and with the option off the masks are what they were."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from tests.conftest import REPO, tiny_recipe
from tests.test_label_checks import real_canvases

JUDGE = {"type": "fashion-classifier", "path": str(REPO / "models/fashion-classifier/classifier.safetensors")}
FASHION = ["tshirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def labelled(mask: np.ndarray) -> np.ndarray:
    return (mask != 0) & (mask != 255)


@pytest.fixture(scope="module")
def judge():
    from synth.labelcheck.config import FashionClassifierJudgeConfig

    return FashionClassifierJudgeConfig(path=JUDGE["path"]).build(FASHION)


def test_a_region_the_judge_rejects_becomes_ignore_and_nothing_else_changes(judge):
    from synth.labelcheck.config import JudgeLabelsSettings
    from synth.labelcheck.gate import excluded_by_judge, judge_check

    images, true = real_canvases(40)
    wrong = [np.where(labelled(m), m % 10 + 1, m).astype(np.uint8) for m in true]  # every item one class off
    cfg = JudgeLabelsSettings(judge=JUDGE, rejected_regions="ignore", min_agreement=0.5)
    ids = list(range(1, 11))
    for masks in (true, wrong):
        for before, after in zip(masks, judge_check(images, masks, ids, judge, cfg)):
            changed = after.mask != before
            assert (after.mask[changed] == 255).all() and labelled(before)[changed].all()
            # what changed is whole regions: every changed component of a class is all of that component
            for cid in np.unique(before[changed]):
                parts, _ = ndimage.label(before == cid)
                for part in np.unique(parts[changed & (before == cid)]):
                    assert changed[parts == part].all()
            assert (after.rejected > 0) == changed.any()

    def ignored_share(masks) -> float:
        checked = judge_check(images, masks, ids, judge, cfg)
        return sum((c.mask == 255).sum() for c in checked) / sum(labelled(m).sum() for m in masks)

    assert ignored_share(true) < 0.3 < 0.7 < ignored_share(wrong)
    agreement = [c.agreement for c in judge_check(images, wrong, ids, judge, cfg)]
    excluded = [excluded_by_judge(a, cfg) for a in agreement]
    assert sum(bool(r) for r in excluded) > 30
    assert all(r.startswith("judge agrees with") and r.endswith("< 0.5") for r in excluded if r)
    keep = cfg.model_copy(update={"rejected_regions": "keep"})
    assert all((c.mask == m).all() for c, m in zip(judge_check(images, wrong, ids, judge, keep), wrong))


def test_specks_too_small_to_judge_become_ignore_only_when_asked(judge):
    from synth.labelcheck.config import JudgeLabelsSettings
    from synth.labelcheck.gate import judge_check

    images, true = real_canvases(8)
    specked = []
    for mask in true:
        mask = mask.copy()
        mask[0:3, 0:3] = 4  # a 9-pixel speck of "dress" in the black corner: under the judge's 12 px
        specked.append(mask)
    ids = list(range(1, 11))
    keep = JudgeLabelsSettings(judge=JUDGE, rejected_regions="keep")
    ignore = keep.model_copy(update={"unjudged_regions": "ignore"})
    for before, kept, cleaned in zip(
        specked, judge_check(images, specked, ids, judge, keep), judge_check(images, specked, ids, judge, ignore)
    ):
        assert (kept.mask == before).all()
        assert (cleaned.mask[0:3, 0:3] == 255).all()
        specks = np.zeros(before.shape, bool)  # every 4-connected class component under 12 px, the corner's too
        for cid in ids:
            parts, count = ndimage.label(before == cid)
            sizes = np.bincount(parts.ravel(), minlength=count + 1)
            specks |= (parts > 0) & (sizes[parts] < 12)
        assert ((cleaned.mask != before) == specks).all()


def test_every_pixel_the_check_makes_ignore_gets_the_ignore_confidence(judge):
    """Rejected regions and unjudged specks alike: a decoder's confidence where the stored mask is ignore is 0.5,
    and the confidence everywhere else is the decoder's own."""
    from synth.decode.base import Decoded
    from synth.labelcheck.config import JudgeLabelsSettings
    from synth.stages.decode import judged

    images, true = real_canvases(8)
    rng = np.random.default_rng(0)
    decoded = []
    for mask in true:
        mask = mask.copy()
        mask[0:3, 0:3] = 4  # an unjudged 9-pixel speck; the true items are mostly kept
        decoded.append(Decoded(mask, rng.uniform(0.6, 1.0, mask.shape).astype(np.float32), {"decoder": "test"}))
    cfg = JudgeLabelsSettings(judge=JUDGE, rejected_regions="ignore", unjudged_regions="ignore")
    out = judged(decoded, images, list(range(1, 11)), judge, cfg)
    assert any(o.provenance["judge_rejected"] == 0 for o in out)  # samples where only specks were made ignore
    for before, after in zip(decoded, out):
        made_ignore = after.mask != before.mask
        assert made_ignore[0:3, 0:3].all() and (after.mask[made_ignore] == 255).all()
        assert (after.confidence[made_ignore] == 0.5).all()
        assert (after.confidence[~made_ignore] == before.confidence[~made_ignore]).all()
        assert after.provenance["decoder"] == "test"


def _masks(root: Path) -> tuple[dict[int, bytes], dict[int, dict], list[str]]:
    from synth.store.shards import list_shards, read_shard

    masks, provenance, names = {}, {}, []
    for shard in list_shards(root / "data/tiny/masks"):
        names.append(shard.name)
        table = read_shard(shard, ["seed", "mask", "provenance"]).to_pylist()
        masks |= {r["seed"]: r["mask"] for r in table}
        provenance |= {r["seed"]: json.loads(r["provenance"]) for r in table}
    return masks, provenance, names


def test_the_decode_stage_judges_masks_lists_excluded_samples_and_off_changes_nothing(project):
    from synth.store.codec import decode_png

    palette = [
        "#e6194b",
        "#3cb44b",
        "#4363d8",
        "#f58231",
        "#911eb4",
        "#46f0f0",
        "#f032e6",
        "#bcf60c",
        "#fabebe",
        "#008080",
    ]
    classes = [{"id": i + 1, "name": n, "color": c} for i, (n, c) in enumerate(zip(FASHION, palette))]
    data = tiny_recipe(taxonomy={"classes": classes})
    project.write_recipe(data)
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    off, _, off_names = _masks(project.root)
    assert not (project.root / "data/tiny/masks/excluded.json").exists()

    data["decode"] = {
        "type": "exact",
        "judge_labels": {"judge": JUDGE, "rejected_regions": "ignore", "min_agreement": 0.5},
    }
    project.write_recipe(data)
    project.synth("decode", "tiny", "--quiet")
    on, provenance, on_names = _masks(project.root)
    assert set(on_names).isdisjoint(off_names)  # the setting is part of the masks' shard key
    made_ignore = 0
    for seed in off:
        before, after = decode_png(off[seed]), decode_png(on[seed])
        changed = after != before
        assert (after[changed] == 255).all()
        made_ignore += int(changed.sum())
        assert (provenance[seed]["judge_rejected"] > 0) == changed.any()
    assert made_ignore > 0
    listing = json.loads((project.root / "data/tiny/masks/excluded.json").read_text())
    below = {s for s, p in provenance.items() if p["judge_agreement"] < 0.5}
    assert below and {e["seed"] for e in listing["excluded"]} == below
    assert all(e["reason"].startswith("judge agrees with") for e in listing["excluded"])

    from synth.core.paths import DatasetPaths
    from synth.recipe.load import load_recipe
    from synth.store.exclusions import read_build_exclusions

    assert set(read_build_exclusions(DatasetPaths(project.root, "tiny"))) == below
    assert load_recipe(project.root / "recipes/tiny.yaml").decode.judge_labels.min_agreement == 0.5

    data["decode"] = {"type": "exact"}  # off again: the same shards, byte for byte, and nothing excluded
    project.write_recipe(data)
    project.synth("decode", "tiny", "--quiet")
    again, _, again_names = _masks(project.root)
    assert again == off and sorted(again_names) == sorted(off_names)
    assert not (project.root / "data/tiny/masks/excluded.json").exists()

    missing = {"type": "fashion-classifier", "path": str(project.root / "no-judge.safetensors")}
    data["decode"] = {"type": "exact", "judge_labels": {"judge": missing, "min_agreement": 0.5}}
    project.write_recipe(data)
    result = project.synth("decode", "tiny", "--quiet", check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"decode.judge_labels.judge.path: {missing['path']} is not a file; "
        "train it with `python scripts/train_fashion_judge.py`"
    ]
    assert _masks(project.root)[0] == off and not (project.root / "data/tiny/masks/excluded.json").exists()
