"""CSA: stylization keeps masks byte-identical and moves images toward the target; the usefulness score and the
optional stages run end to end; bad settings get one clear line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from synth.adapt.domain import domain_distance, frechet_distance
from synth.adapt.stylize import fda, lab_stats, reinhard
from synth.core.paths import DatasetPaths
from synth.evaluate.train import iou_per_class, mean_iou
from synth.recipe import load_recipe
from synth.stages.decode import decode
from synth.stages.stylize import stylize
from synth.stages.synthesize import synthesize
from synth.stages.target import target
from synth.store.labeled import load_self_labeled
from synth.store.shards import list_shards, read_shard
from tests.conftest import tiny_recipe

NIGHT = {"background_palette": "night", "tint": [0.6, 0.8, 1.3], "gamma": 1.4, "blur": 0.8, "sensor_noise": 6.0}


def adapt_recipe(**changes) -> dict:
    data = tiny_recipe(seeds=[{"start": 0, "stop": 20}])
    data["target"] = {
        "images": {"type": "scenes", "seeds": {"start": 1000, "stop": 1016}, "generator": NIGHT},
        "eval": {"type": "scenes", "seeds": {"start": 2000, "stop": 2012}, "generator": NIGHT},
    }
    data["stylize"] = {"method": "reinhard", "strength": 1.0}
    data.update(changes)
    return data


def build(tmp_path: Path, data: dict):
    (tmp_path / "recipes").mkdir(exist_ok=True)
    (tmp_path / "recipes" / f"{data['name']}.yaml").write_text(yaml.safe_dump(data))
    recipe = load_recipe(data["name"], tmp_path)
    synthesize(recipe, tmp_path, show_progress=False)
    decode(recipe, tmp_path, show_progress=False)
    target(recipe, tmp_path)
    return recipe


@pytest.mark.parametrize("method", ["reinhard", "fda", "reinhard+fda"])
def test_stylize_keeps_masks_byte_identical_and_moves_toward_the_target(tmp_path, method):
    recipe = build(tmp_path, adapt_recipe(stylize={"method": method, "strength": 1.0, "fda_beta": 0.1}))
    stylize(recipe, tmp_path, show_progress=False)
    masks = {}
    for shard in list_shards(DatasetPaths(tmp_path, "tiny").masks):
        for row in read_shard(shard, ["seed", "mask"]).to_pylist():
            masks[row["seed"]] = row["mask"]
    styled = load_self_labeled(DatasetPaths(tmp_path, "tiny").stylized, "stylize")
    assert len(styled) == 20 and all(s.mask_png == masks[s.seed] for s in styled)
    metrics = json.loads(DatasetPaths(tmp_path, "tiny").stylize_metrics.read_text())
    assert metrics["domain_distance"]["after"] < metrics["domain_distance"]["before"]
    assert metrics["target_images"] == 16 and metrics["method"] == method


def test_stylize_strength_zero_changes_nothing_but_rounding(tmp_path):
    recipe = build(tmp_path, adapt_recipe(stylize={"method": "reinhard", "strength": 0.0}))
    stylize(recipe, tmp_path, show_progress=False)
    paths = DatasetPaths(tmp_path, "tiny")
    originals = {
        r["seed"]: r["image"] for s in list_shards(paths.samples) for r in read_shard(s, ["seed", "image"]).to_pylist()
    }
    from synth.store.codec import decode_png

    for row in load_self_labeled(DatasetPaths(tmp_path, "tiny").stylized, "stylize"):
        assert np.abs(row.image.astype(int) - decode_png(originals[row.seed]).astype(int)).max() <= 2


def test_reinhard_matches_target_lab_statistics():
    rng = np.random.default_rng(0)
    source = (rng.random((32, 32, 3)) * 120 + 60).astype(np.uint8)
    targets = [(rng.random((32, 32, 3)) * 60 + [40, 60, 120]).astype(np.uint8) for _ in range(3)]
    mean, std = lab_stats(targets)
    out_mean, out_std = lab_stats([reinhard(source, mean, std, 1.0)])
    assert np.abs(out_mean - mean).max() < 2.0 and np.abs(out_std - std).max() < 2.0
    assert domain_distance([reinhard(source, mean, std, 1.0)], targets) < domain_distance([source], targets)


def test_fda_swaps_low_frequency_amplitude_only():
    rng = np.random.default_rng(1)
    source = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    target = np.full((32, 32, 3), (10, 40, 200), dtype=np.uint8)
    out = fda(source, target, beta=0.05, strength=1.0)
    moved = np.abs(out.astype(float).mean((0, 1)) - target.mean((0, 1)))
    assert (
        moved < 0.5 * np.abs(source.astype(float).mean((0, 1)) - target.mean((0, 1)))
    ).all()  # DC moved (up to clipping)
    assert np.corrcoef(out[..., 0].ravel(), source[..., 0].ravel())[0, 1] > 0.8  # structure kept


def test_frechet_distance_is_zero_for_same_set_and_positive_otherwise():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(50, 4))
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, a + 3.0) > 30


def test_iou_per_class_and_mean():
    truth = np.array([[0, 0, 1, 1], [2, 2, 255, 255]], dtype=np.uint8)
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 0]], dtype=np.uint8)
    ious = iou_per_class(pred, truth, 4)
    assert ious[0] == pytest.approx(1 / 3) and ious[1] == pytest.approx(2 / 3) and ious[2] == pytest.approx(1 / 2)
    assert ious[3] is None
    assert mean_iou(ious) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_target_from_a_folder_of_photos(tmp_path):
    from synth.adapt.target import export_photos

    export_photos(tmp_path / "photos")
    data = adapt_recipe()
    data["target"] = {"images": {"type": "folder", "path": "photos", "limit": 3}}
    data["evaluate"] = None  # not scored here (every recipe says so or has the section)
    recipe = build(tmp_path, data)
    rows = load_self_labeled(DatasetPaths(tmp_path, "tiny").target / "images", "target")
    assert len(rows) == 3 and rows[0].image.shape == (64, 64, 3) and rows[0].mask is None
    before = {p.name for p in (DatasetPaths(tmp_path, "tiny").target / "images").iterdir()}
    assert (
        target(recipe, tmp_path).skipped
        and {p.name for p in (DatasetPaths(tmp_path, "tiny").target / "images").iterdir()} == before
    )
    stylize(recipe, tmp_path, show_progress=False)
    d = json.loads(DatasetPaths(tmp_path, "tiny").stylize_metrics.read_text())["domain_distance"]
    assert d["after"] < d["before"]


def test_the_tracked_target_stage_refuses_a_folder(tmp_path):
    """`synth target --tracked-inputs` (the `target` DVC stage, rerun only when the recipe or code changes) exits 2
    on a folder, which can change without the recipe changing, and writes nothing; without it the folder is read."""
    import subprocess
    import sys

    from synth.adapt.target import export_photos
    from tests.conftest import cli_env

    export_photos(tmp_path / "photos")
    data = adapt_recipe()
    data["target"] = {"images": {"type": "folder", "path": "photos", "limit": 3}}
    data["evaluate"] = None
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(data))

    def run(*flags: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "synth", "target", "tiny", *flags]
        return subprocess.run(
            argv, cwd=tmp_path, env=cli_env(Path(__file__).resolve().parents[1]), capture_output=True, text=True
        )

    refused = run("--tracked-inputs")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert "target.images (the folder photos)" in refused.stderr and "live_target_recipes" in refused.stderr
    assert not (DatasetPaths(tmp_path, "tiny").target).exists()
    assert run().returncode == 0 and list((DatasetPaths(tmp_path, "tiny").target / "images").glob("shard-*"))


def test_neutral_appearance_keeps_scenes_settings_and_pixels():
    from synth.generate.scenes import ScenesConfig

    assert "tint" not in ScenesConfig(type="scenes").model_dump(mode="json")
    assert ScenesConfig(type="scenes", tint=(0.5, 1, 1)).model_dump(mode="json")["tint"] == [0.5, 1.0, 1.0]


# --- bad settings: one `file: field: what` line, exit code 2 -------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"mix": {"sources": 1, "count": 4}},
            "recipes/tiny.yaml: mix.sources: Input should be greater than or equal to 2",
        ),
        (
            {"mix": {"count": 4, "pairing": "cross-class", "sources": 5}},
            "recipes/tiny.yaml: mix.sources: cross-class needs 5",
        ),
        ({"mix": {"count": 4, "mask": {"type": "watershed"}}}, "recipes/tiny.yaml: mix.mask"),
        (
            {"mix": {"count": 4, "learned": {"downsamplings": 4}}, "image_size": 72},
            "recipes/tiny.yaml: mix.learned.downsamplings: image_size 72",
        ),
        (
            {"stylize": {"strength": 1.5}},
            "recipes/tiny.yaml: stylize.strength: Input should be less than or equal to 1",
        ),
        (
            {"stylize": {"method": "cut", "cut": {"steps": 0}}},
            "recipes/tiny.yaml: stylize.cut.steps: Input should be greater than or equal to 1",
        ),
        ({"evaluate": {"variants": ["source"]}, "target": None}, "recipes/tiny.yaml: evaluate: needs `target.eval`"),
        (
            {"evaluate": {"variants": ["source", "mixed"]}},
            "recipes/tiny.yaml: evaluate.variants[1]: 'mixed' needs a `mix:` section",
        ),
        (
            {"target": {"images": {"type": "scenes", "seeds": {"start": 5, "stop": 9}}}},
            "recipes/tiny.yaml: target.images.seeds: overlaps the recipe's seeds",
        ),
        (
            {
                "target": {
                    "images": {"type": "scenes", "seeds": {"start": 900, "stop": 909}, "generator": {"palette": "x"}}
                }
            },
            "recipes/tiny.yaml: target.images.generator.palette: unknown field",
        ),
        (
            {"target": {"images": {"type": "folder", "path": "x"}, "eval": {"type": "folder", "path": "y"}}},
            "recipes/tiny.yaml: target.eval.masks: an evaluation set needs masks",
        ),
    ],
)
def test_bad_settings_are_one_clear_line_and_exit_2(project, change, expected):
    data = adapt_recipe(**change)
    for key in [k for k, v in change.items() if v is None]:
        data.pop(key)
    if "stylize" not in change and data.get("target") is None:
        data.pop("stylize", None)
    project.write_recipe(data)
    result = project.synth("check", "recipes/tiny.yaml", check=False)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_stage_without_its_section_exits_2(project):
    result = project.synth("mix", "tiny", check=False)
    assert result.returncode == 2
    assert "recipes/tiny.yaml: mix: no `mix:` section" in result.stderr and "Traceback" not in result.stderr
    data = adapt_recipe()
    data["target"] = {"images": {"type": "folder", "path": "no/such/folder"}}
    project.write_recipe(data)
    result = project.synth("target", "tiny", check=False)
    assert result.returncode == 2 and "target.images.path: 'no/such/folder' is not a folder" in result.stderr


@pytest.mark.slow
def test_optional_stages_run_end_to_end_through_dvc_repro(project):
    data = adapt_recipe()
    data["mix"] = {
        "count": 6,
        "samples_per_shard": 4,
        "mask": {"type": "felzenszwalb", "scale": 30, "min_size": 10},
        "learned": {"width": 4, "residual_blocks": 0, "epochs": 1, "batch_size": 8, "train_limit": 12},
    }
    data["evaluate"] = {
        "variants": ["source", "stylized", "adapted", "mixed"],
        "steps": 6,
        "batch_size": 2,
        "width": 4,
        "adapt": {"teacher_ema": 0.9, "warmup_steps": 2, "top_k": 4},
    }
    project.write_recipe(data)
    project.use_recipes("tiny", mix=["tiny"], adapt=["tiny"], target=["tiny"])
    project.commit("optional stages")
    project.dvc("repro")
    root = project.root
    assert len(list((root / "data/tiny/mixed").glob("shard-*.parquet"))) == 2
    assert len(list((root / "data/tiny/mixed").glob("mixer-*/model.safetensors"))) == 1
    assert len(list((root / "data/tiny/stylized").glob("shard-*.parquet"))) == 2
    metrics = json.loads((root / "reports/tiny/evaluate.json").read_text())
    assert set(metrics["miou"]) == {"source", "stylized", "adapted", "mixed"}
    assert metrics["train_samples"] == 20 and metrics["mixed_samples"] == 6  # the 6 composites join the 20 samples
    assert all(0.0 <= v <= 1.0 for v in metrics["miou"].values())
    assert set(metrics["per_class"]["adapted"]) == {"background", "car", "wheel", "tree"}
    shown = project.dvc("metrics", "show", "--json").stdout
    assert "evaluate.json" in shown and "stylize.json" in shown and "validation-variants.json" in shown
    # The variants are validated and built as configs of build/tiny (tests/test_variants.py: what they hold).
    assert (root / "build/tiny/stylized").is_dir() and (root / "build/tiny/mixed").is_dir()
    configs = [
        c["config_name"] for c in yaml.safe_load((root / "build/tiny/README.md").read_text().split("---")[1])["configs"]
    ]
    assert configs == ["default", "mixed", "stylized"]
    # Every input of a `scenes` target is a recipe field or code DVC tracks: a no-op `dvc repro` runs no stage at
    # all, and DVC leaves dvc.lock as it was (an always-changed stage would make it rewrite the file).
    lock = root / "dvc.lock"
    lock_stamp = (lock.read_bytes(), lock.stat().st_mtime_ns)
    again = project.dvc("repro").stdout
    assert "Running stage" not in again and (lock.read_bytes(), lock.stat().st_mtime_ns) == lock_stamp
    # Listed as live (a folder's or a Hub branch's stage), the target is re-read every run; unchanged, its shards
    # are not rewritten (DVC keeps the persisted folder) and stylize and evaluate stay up to date.
    project.use_recipes("tiny", mix=["tiny"], adapt=["tiny"], live_target=["tiny"])
    project.dvc("repro")
    shards = sorted((root / "data/tiny/target").rglob("shard-*.parquet"))
    stamps = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in shards]
    result = project.dvc("repro")
    again = result.stdout
    assert "Running stage 'target-live@tiny'" in again
    assert "target: 28 samples in 2 shards (0 written, 2 up to date" in result.stderr
    assert sorted((root / "data/tiny/target").rglob("shard-*.parquet")) == shards
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in shards] == stamps
    assert "Running stage 'stylize@tiny'" not in again and "Running stage 'evaluate@tiny'" not in again
    assert "Running stage 'validate-variants@tiny'" not in again and "Running stage 'build@tiny'" not in again
    # A stylize strength change reruns stylize, evaluate, the variants' validation and the build; never
    # synthesize, mix or the base validation.
    data["stylize"]["strength"] = 0.5
    project.write_recipe(data)
    changed = project.dvc("repro").stdout
    for stage in ("stylize", "evaluate", "validate-variants", "build"):
        assert f"Running stage '{stage}@tiny'" in changed, stage
    for stage in ("synthesize", "mix", "validate"):
        assert f"Running stage '{stage}@tiny'" not in changed, stage
    # A mix change reruns mix and evaluate (its `mixed` variant reads the composites), never stylize.
    data["mix"]["count"] = 7
    project.write_recipe(data)
    changed = project.dvc("repro").stdout
    for stage in ("mix", "evaluate"):
        assert f"Running stage '{stage}@tiny'" in changed, stage
    assert "Running stage 'stylize@tiny'" not in changed
    assert json.loads((root / "reports/tiny/evaluate.json").read_text())["mixed_samples"] == 7


def test_target_from_a_datasets_repo_with_masks(tmp_path):
    """The `hub` source goes through `datasets.load_dataset`; a local data folder stands in for a Hub id."""
    import datasets

    rng = np.random.default_rng(3)
    images = [(rng.random((40, 48, 3)) * 255).astype(np.uint8) for _ in range(4)]
    masks = [np.where(rng.random((40, 48)) > 0.5, 3, 0).astype(np.uint8) for _ in range(4)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Image()})
    ds = datasets.Dataset.from_dict({"image": images, "label": masks}, features=features)
    (tmp_path / "hubdata").mkdir()
    ds.to_parquet(str(tmp_path / "hubdata" / "train.parquet"))
    data = adapt_recipe()
    data["target"] = {
        "images": {"type": "hub", "id": str(tmp_path / "hubdata"), "limit": 3},
        "eval": {"type": "hub", "id": str(tmp_path / "hubdata"), "mask_column": "label"},
    }
    recipe = build(tmp_path, data)
    evals = load_self_labeled(DatasetPaths(tmp_path, "tiny").target / "eval", "target")
    assert len(evals) == 4 and evals[0].mask.shape == (64, 64) and set(np.unique(evals[0].mask)) <= {0, 3}
    assert len(load_self_labeled(DatasetPaths(tmp_path, "tiny").target / "images", "target")) == 3
    bad = data | {"target": {"images": {"type": "hub", "id": str(tmp_path / "hubdata"), "image_column": "photo"}}}
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(bad))
    from synth.errors import UserError

    with pytest.raises(UserError, match="has no column 'photo'"):
        target(load_recipe("tiny", tmp_path), tmp_path)
    del recipe


def test_dvc_stages_declare_the_fields_their_commands_read():
    from synth.recipe import STAGE_FIELDS
    from tests.conftest import REPO

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in ("mix", "target", "stylize", "evaluate"):
        (params,) = stages[name]["do"]["params"]
        assert tuple(params["recipes/${item}.yaml"]) == STAGE_FIELDS[name], name
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(params["mix_recipes"]) <= set(params["recipes"]) and set(params["adapt_recipes"]) <= set(
        params["recipes"]
    )
    # Each adapt recipe's target comes from exactly one of the two target stages.
    fixed, live = params["target_recipes"], params["live_target_recipes"]
    assert sorted(fixed + live) == sorted(params["adapt_recipes"]) and not set(fixed) & set(live)
    assert stages["target-live"]["do"]["params"] == stages["target"]["do"]["params"]
    assert stages["target-live"]["do"]["always_changed"] and "always_changed" not in stages["target"]["do"]
