"""The usefulness score on a real labeled set named in the recipe (``evaluate.eval`` / ``evaluate.reference``):
reading the Parquet files, the random-init SegFormer, the ``real`` variant, the checks, and the DVC stage
``evaluate`` (it runs for every recipe). Here the "real" sets are exact-mask ``scenes`` samples of other
seeds written the way ``real/fashion-mnist/*.parquet`` is (PNG image and mask columns)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.evaluate.config import EvaluateSettings, LabeledFile
from synth.evaluate.labeled_file import read_labeled_file
from synth.recipe import load_recipe
from synth.stages.decode import decode
from synth.stages.evaluate import evaluate
from synth.stages.synthesize import synthesize
from synth.store.labeled import load_dataset_labeled
from tests.conftest import tiny_recipe

SEGFORMER = {"type": "segformer", "hidden_sizes": [8, 16, 32, 32], "decoder_hidden_size": 16}


def write_labeled_parquet(root: Path, rel: str, seeds: tuple[int, int]) -> Path:
    """Exact-mask scenes samples of ``seeds`` as a Parquet file of PNG ``image`` and ``mask`` columns."""
    data = tiny_recipe(name="realsrc", seeds=[{"start": seeds[0], "stop": seeds[1]}])
    (root / "recipes").mkdir(parents=True, exist_ok=True)
    (root / "recipes" / "realsrc.yaml").write_text(yaml.safe_dump(data))
    recipe = load_recipe("realsrc", root)
    synthesize(recipe, root, show_progress=False)
    decode(recipe, root, show_progress=False)
    paths = DatasetPaths(root, "realsrc")
    rows = load_dataset_labeled(paths.samples, paths.masks, "realsrc")
    out = root / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {"image": [r.image_png for r in rows], "mask": [r.mask_png for r in rows], "caption": [r.prompt for r in rows]}
    )
    pq.write_table(table, out)
    return out


def real_recipe(**evaluate) -> dict:
    settings = {
        "variants": ["source", "real"],
        "eval": {"path": "real/eval.parquet"},
        "reference": {"path": "real/train.parquet"},
        "segmenter": SEGFORMER,
        "steps": 4,
        "batch_size": 4,
    }
    settings.update(evaluate)
    return tiny_recipe(seeds=[{"start": 0, "stop": 20}], evaluate=settings)


@pytest.fixture(scope="module")
def real_files(tmp_path_factory) -> Path:
    """The "real" eval (seeds 600-611) and reference (700-719) sets, written once: tests only read them."""
    root = tmp_path_factory.mktemp("real-sets")
    write_labeled_parquet(root, "real/eval.parquet", (600, 612))
    write_labeled_parquet(root, "real/train.parquet", (700, 720))
    return root / "real"


@pytest.fixture
def real_sets(tmp_path: Path, real_files: Path) -> Path:
    """A project root of this test's own holding ``real_files`` at real/ and an empty recipes/."""
    shutil.copytree(real_files, tmp_path / "real")
    (tmp_path / "recipes").mkdir()
    return tmp_path


def test_labeled_parquet_reads_images_and_masks_at_the_asked_size(real_sets):
    arrays = read_labeled_file(real_sets, LabeledFile(path="real/eval.parquet"), 32)
    assert arrays.images.shape == (12, 32, 32, 3) and arrays.masks.shape == (12, 32, 32)
    assert set(np.unique(arrays.masks)) <= {0, 1, 2, 3}
    assert len(read_labeled_file(real_sets, LabeledFile(path="real/eval.parquet", limit=5), 64)) == 5


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "real/missing.parquet: no such file"),
        (
            lambda root: (root / "real/missing.parquet").write_bytes(b"not parquet"),
            "real/missing.parquet: not a readable Parquet file",
        ),
        (
            lambda root: pq.write_table(pa.table({"image": [b"x"]}), root / "real/missing.parquet"),
            "has no column 'mask'",
        ),
        (
            lambda root: pq.write_table(pa.table({"image": [b"x"], "mask": [b"y"]}), root / "real/missing.parquet"),
            "row 0: cannot decode",
        ),
    ],
)
def test_a_bad_labeled_file_is_one_user_error_naming_it(tmp_path, setup, message):
    (tmp_path / "real").mkdir()
    setup(tmp_path)
    with pytest.raises(UserError, match=message):
        read_labeled_file(tmp_path, LabeledFile(path="real/missing.parquet"), 64)


def test_evaluate_scores_the_dataset_and_the_real_reference_on_the_real_eval_set(real_sets):
    root = real_sets
    data = real_recipe(repeats=2)
    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(data))
    recipe = load_recipe("tiny", root)
    synthesize(recipe, root, show_progress=False)
    decode(recipe, root, show_progress=False)
    metrics = evaluate(recipe, root)
    assert metrics["eval_samples"] == 12 and metrics["train_samples"] == 20 and metrics["reference_samples"] == 20
    assert set(metrics["miou"]) == {"source", "real"} and all(0.0 <= v <= 1.0 for v in metrics["miou"].values())
    assert set(metrics["per_class"]["real"]) == {"background", "car", "wheel", "tree"}
    assert len(metrics["runs"]["real"]) == 2 and metrics["miou"]["real"] == pytest.approx(
        np.mean(metrics["runs"]["real"]), abs=1e-4
    )
    assert metrics["synthetic_to_real"] == pytest.approx(metrics["miou"]["source"] / metrics["miou"]["real"], abs=1e-3)
    assert json.loads((root / "reports/tiny/evaluate.json").read_text()) == metrics


def test_runs_trained_in_parallel_processes_score_as_in_one_process(real_sets):
    """evaluate trains its (variant, seed) runs in worker processes; each is seeded and on one thread, so the
    numbers are those of training them one after another in this process."""
    from synth.stages.evaluate import load_sets, score_variants

    root = real_sets
    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(real_recipe(repeats=2)))
    recipe = load_recipe("tiny", root)
    synthesize(recipe, root, show_progress=False)
    decode(recipe, root, show_progress=False)
    sets = load_sets(recipe, root)
    names = ["background", "car", "wheel", "tree"]
    lines: list[str] = []
    one = score_variants(sets, 4, recipe.evaluate, names, workers=1)
    two = score_variants(sets, 4, recipe.evaluate, names, lines.append, workers=2)
    assert one == two and len(one["real"]["runs"]) == 2
    assert lines[0].startswith("evaluate source (seed 0): mIoU") and len(lines) == 4  # in run order


def test_samples_the_decoder_excluded_are_not_trained_on(real_sets):
    root = real_sets
    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(real_recipe(variants=["source"], reference=None)))
    recipe = load_recipe("tiny", root)
    synthesize(recipe, root, show_progress=False)
    decode(recipe, root, show_progress=False)
    (DatasetPaths(root, "tiny").masks / "excluded.json").write_text(
        json.dumps({"excluded": [{"seed": 3, "reason": "uncertain"}]})
    )
    assert evaluate(recipe, root)["train_samples"] == 19


def test_segformer_learns_the_real_training_set(tmp_path):
    """Trained on exact scenes labels, the random-init SegFormer (default size) beats the all-background
    prediction on held-out scenes: the yardstick can tell a useful dataset from none."""
    from synth.evaluate.train import iou_per_class, mean_iou, predict, train_supervised

    write_labeled_parquet(tmp_path, "real/train.parquet", (0, 48))
    write_labeled_parquet(tmp_path, "real/eval.parquet", (900, 916))
    train = read_labeled_file(tmp_path, LabeledFile(path="real/train.parquet"), 64)
    held = read_labeled_file(tmp_path, LabeledFile(path="real/eval.parquet"), 64)
    model = train_supervised(train, 4, EvaluateSettings(segmenter={"type": "segformer"}, steps=200, lr=1e-3), 0)
    trained = mean_iou(iou_per_class(predict(model, held.images), held.masks, 4))
    background_only = mean_iou(iou_per_class(np.zeros_like(held.masks), held.masks, 4))
    assert trained > background_only + 0.3, (trained, background_only)


@pytest.mark.parametrize(
    ("evaluate_section", "expected"),
    [
        (
            {"variants": ["source", "real"], "reference": None},
            "evaluate.variants[1]: 'real' needs `evaluate.reference`",
        ),
        ({"variants": ["source"]}, "evaluate.reference: is read only by the 'real' variant"),
        (
            {"variants": ["source", "adapted"], "reference": None},
            "evaluate.variants[1]: 'adapted' (CSA) trains the tiny UNet only",
        ),
        ({"eval": None}, "evaluate: needs `target.eval` or `evaluate.eval`"),
        ({"segmenter": {"type": "segformer", "depths": [1, 1]}}, "evaluate.segmenter.depths"),
    ],
)
def test_bad_real_evaluation_settings_are_one_line_and_exit_2(project, evaluate_section, expected):
    data = real_recipe(**evaluate_section)
    data["evaluate"] = {k: v for k, v in data["evaluate"].items() if v is not None}
    project.write_recipe(data)
    result = project.synth("check", "recipes/tiny.yaml", check=False)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_with_a_missing_real_set_exits_2(project):
    project.write_recipe(real_recipe())
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    result = project.synth("evaluate", "tiny", check=False)
    assert (
        result.returncode == 2
        and "real/eval.parquet: no such file" in result.stderr
        and "Traceback" not in result.stderr
    )
    assert not (project.root / "reports/tiny/evaluate.json").exists()


def test_recipes_without_the_new_settings_dump_as_before():
    dumped = EvaluateSettings().model_dump(mode="json")
    assert not {"eval", "reference", "segmenter", "repeats"} & set(dumped)
    assert EvaluateSettings(repeats=3, reference={"path": "x.parquet"}).model_dump(mode="json")["repeats"] == 3


@pytest.mark.slow
def test_evaluate_stage_scores_on_a_real_set_through_dvc_repro(project, real_files):
    for name in ("eval.parquet", "train.parquet"):
        shutil.copy2(real_files / name, project.root / "real" / name)
    project.write_recipe(real_recipe())
    project.use_recipes("tiny")
    project.commit("real evaluation")
    out = project.dvc("repro").stdout
    assert "Running stage 'evaluate@tiny'" in out and "target@tiny" not in out
    metrics = json.loads((project.root / "reports/tiny/evaluate.json").read_text())
    assert set(metrics["miou"]) == {"source", "real"}
    assert "evaluate.json" in project.dvc("metrics", "show", "--json").stdout
    assert "Running stage 'evaluate@tiny'" not in project.dvc("repro").stdout
    # A new real evaluation set reruns the score only.
    write_labeled_parquet(project.root / "scratch", "real/eval.parquet", (640, 650))
    shutil.move(project.root / "scratch/real/eval.parquet", project.root / "real/eval.parquet")
    again = project.dvc("repro").stdout
    assert "Running stage 'evaluate@tiny'" in again and "Running stage 'synthesize@tiny'" not in again
    # The report and the card depend on evaluate.json, so they ran after it and print its new figures.
    assert again.index("Running stage 'evaluate@tiny'") < again.index("Running stage 'report@tiny'")
    assert again.index("Running stage 'evaluate@tiny'") < again.index("Running stage 'build@tiny'")
    assert_report_shows_the_metrics_files(project.root)


def assert_report_shows_the_metrics_files(root: Path) -> None:
    """Every figure the report page prints from a metrics file equals that file's value."""
    import re

    from synth.report.page import _fmt

    html = (root / "reports/tiny/report/index.html").read_text(encoding="utf-8")
    scores = json.loads((root / "reports/tiny/evaluate.json").read_text())
    for variant, miou in scores["miou"].items():
        row = re.search(rf"<tr><td>{variant}</td>(.*?)</tr>", html)
        assert row, variant
        cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
        names = sorted(scores["per_class"][variant])
        assert cells == [_fmt(miou), *(_fmt(scores["per_class"][variant][n]) for n in names)], variant
    validation = json.loads((root / "reports/tiny/validation.json").read_text())
    for severity, counts in validation["expectations"].items():
        shown = [counts.get(k, 0) for k in ("evaluated", "passed", "failed", "errored")]
        assert f"<tr><td>{severity}</td>" + "".join(f'<td class="num">{n}</td>' for n in shown) in html
    card = (root / "build/tiny/README.md").read_text()
    for variant, miou in scores["miou"].items():
        assert f"| {variant} | {miou:.4f} |" in card, variant


def test_the_real_bound_is_trained_once_for_every_recipe_that_shares_its_sets(real_sets):
    """The `real` runs depend on the real sets and the settings only: a second recipe reads them (the numbers
    training gives: checked against a run with the store deleted), a recipe edit does not retrain them, and a
    change to how they train (steps) does."""
    import shutil

    root = real_sets
    for name in ("tiny", "other"):
        data = real_recipe(repeats=2) | {"name": name}
        (root / "recipes" / f"{name}.yaml").write_text(yaml.safe_dump(data))
        recipe = load_recipe(name, root)
        synthesize(recipe, root, show_progress=False)
        decode(recipe, root, show_progress=False)
    lines: list[str] = []
    first = evaluate(load_recipe("tiny", root), root, lines.append)
    assert not any("trained before" in line for line in lines)
    (stored,) = (root / "data/.real-bound").iterdir()
    assert sorted(p.name for p in stored.iterdir()) == ["seed-0.json", "seed-1.json"]
    lines.clear()
    second = evaluate(load_recipe("other", root), root, lines.append)
    assert [line for line in lines if "trained before" in line] == [
        line for line in lines if line.startswith("evaluate real")
    ] and len(lines) == 4
    assert second["per_class"]["real"] == first["per_class"]["real"] and second["runs"]["real"] == first["runs"]["real"]
    shutil.rmtree(root / "data/.real-bound")
    assert evaluate(load_recipe("other", root), root) == second  # read or trained: the same evaluate.json
    lines.clear()
    (root / "recipes/other.yaml").write_text(yaml.safe_dump(real_recipe(repeats=2, steps=5) | {"name": "other"}))
    evaluate(load_recipe("other", root), root, lines.append)
    assert not any("trained before" in line for line in lines)
    assert len(list((root / "data/.real-bound").iterdir())) == 2
