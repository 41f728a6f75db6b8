"""The validate stage: statistics table, near-duplicates, result interpretation, and `synth validate` / DVC end to end
on the tiny recipe (64 px, 40 seeds)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synth.generate.base import Generator
from synth.generate.prompts import plan_sample
from synth.recipe.load import parse_recipe
from tests.conftest import Project, clone_project, tiny_recipe
from validation.outcome import interpret

# --------------------------------------------------------------------------------------------------- units


def _brute_force(hashes: np.ndarray, d: int) -> np.ndarray:
    distance = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    np.fill_diagonal(distance, 65)
    return (distance <= d).any(axis=1)


@pytest.mark.parametrize("distance", [0, 1, 4, 7])
def test_near_duplicates_match_brute_force(distance):
    from validation.stats_table import near_duplicates

    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**63, size=1500, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    # plant neighbours at 0..8 flipped bits of random others, and an exact copy
    for i in range(0, 90, 10):
        bits = rng.choice(64, size=i // 10, replace=False)
        flip = np.uint64(sum(1 << int(b) for b in bits))
        hashes[1000 + i] = hashes[i] ^ flip
    hashes[1499] = hashes[3]
    found = near_duplicates(hashes, distance)
    np.testing.assert_array_equal(found, _brute_force(hashes, distance))
    assert found[3] and found[1499]
    assert found.sum() >= 2


def _result(success, severity="critical", raised=None, per_metric=False, column="x"):
    info = {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    if raised and per_metric:
        info = {"MetricConfigurationID(column_values.between)": {"raised_exception": True, "exception_message": raised}}
    elif raised:
        info = {"raised_exception": True, "exception_message": raised, "exception_traceback": "..."}
    return {
        "success": success,
        "expectation_config": {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": column, "max_value": 1},
            "meta": {"recipe_field": "validation.max_ignore_fraction", "check": "test"},
            "severity": severity,
        },
        "result": {"observed_value": 3},
        "exception_info": info,
    }


def test_errored_expectation_is_a_failure_even_if_marked_successful():
    outcome = interpret([("s", _result(True)), ("s", _result(True, raised="KeyError: 'x'"))])
    assert not outcome.success
    assert outcome.counts["error"] == {"evaluated": 2, "passed": 1, "failed": 0, "errored": 1}
    assert outcome.failures[0]["status"] == "errored" and outcome.failures[0]["exception"] == "KeyError: 'x'"


def test_errored_per_metric_form_and_null_success_block():
    assert not interpret([("s", _result(None))]).success
    outcome = interpret([("s", _result(False, raised="column 'nope' not found", per_metric=True))])
    assert not outcome.success and outcome.counts["error"]["errored"] == 1


def test_warnings_report_but_do_not_block():
    outcome = interpret(
        [("s", _result(True)), ("s", _result(False, "warning")), ("s", _result(True, "warning", raised="boom"))]
    )
    assert outcome.success
    assert outcome.counts["warning"] == {"evaluated": 2, "passed": 0, "failed": 1, "errored": 1}
    assert [f["severity"] for f in outcome.failures] == ["warning", "warning"]


def test_failures_sorted_errors_first():
    outcome = interpret([("a", _result(False, "warning")), ("b", _result(False))])
    assert not outcome.success
    assert [f["suite"] for f in outcome.failures] == ["b", "a"]


def test_kl_divergence():
    from validation.stats_table import kl_divergence

    assert kl_divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    assert kl_divergence(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))


def test_cli_import_does_not_load_great_expectations():
    code = "import sys, synth.cli, synth.stages.validate; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1]).returncode == 0


# ------------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def decoded(tmp_path_factory, tiny_decoded: Project) -> Project:
    """The tiny recipe synthesized and decoded (a copy of conftest's session template); tests change only its
    validation section."""
    return clone_project(tiny_decoded, tmp_path_factory.mktemp("validate") / "project")


def _validate_with(project: Project, **validation) -> subprocess.CompletedProcess:
    recipe = tiny_recipe()
    recipe["validation"] = {**recipe["validation"], **validation}
    project.write_recipe(recipe)
    return project.synth("validate", "tiny", check=False)


def _metrics(project: Project, name: str = "tiny") -> dict:
    return json.loads((project.root / "reports" / name / "validation.json").read_text())


def _numbers_and_bools_only(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _numbers_and_bools_only(v) for k, v in value.items())
    return isinstance(value, (bool, int, float))


def test_tiny_dataset_passes(decoded):
    result = _validate_with(decoded)
    assert result.returncode == 0, result.stderr
    metrics = _metrics(decoded)
    assert metrics["success"] is True and metrics["samples"] == 40
    assert _numbers_and_bools_only(metrics)
    assert metrics["expectations"]["error"]["evaluated"] > 10
    assert metrics["expectations"]["error"]["failed"] == metrics["expectations"]["error"]["errored"] == 0
    assert set(metrics["classes"]) == {"car", "wheel", "tree"}
    assert 0 < metrics["classes"]["car"]["presence"] <= 1
    assert "mean_confidence" not in metrics  # the exact decoder gives none
    reports = decoded.root / "reports" / "tiny"
    assert (reports / "data_docs" / "index.html").is_file()
    assert list((reports / "data_docs" / "validations").rglob("*.html"))
    details = json.loads((reports / "validation_details.json").read_text())
    assert details["success"] is True
    warned = metrics["expectations"]["warning"]["failed"]  # the small components of 64 px scenes
    said = f"passed with {warned} warning{'s' if warned != 1 else ''}" if warned else "passed"
    assert f"validate: {said}: 40 samples" in result.stderr
    assert not list(reports.glob(".validate*"))


@pytest.mark.parametrize(
    ("validation", "expectation", "column"),
    [
        ({"max_class_kl": 0.0}, "expect_column_sum_to_be_between", "kl_term"),
        ({"min_class_presence": 0.99}, "expect_column_values_to_be_between", "presence"),
        ({"max_components": 1}, "expect_column_values_to_be_between", "components__"),
    ],
)
def test_broken_rule_fails_with_exit_1_and_names_it(decoded, validation, expectation, column):
    result = _validate_with(decoded, **validation)
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert failed and all(expectation in line or "failed" in line for line in failed)
    assert any(f"{expectation}({column}" in line for line in failed), result.stderr
    assert "Traceback" not in result.stderr
    assert _metrics(decoded)["success"] is False
    details = json.loads((decoded.root / "reports" / "tiny" / "validation_details.json").read_text())
    assert any(f["expectation"] == expectation and f["column"].startswith(column) for f in details["failures"])


def test_presence_failure_names_the_rare_class(decoded):
    result = _validate_with(decoded, min_class_presence=0.99)
    details = json.loads((decoded.root / "reports" / "tiny" / "validation_details.json").read_text())
    presence = next(f for f in details["failures"] if f["column"] == "presence")
    named = {row["class_name"] for row in presence["examples"]}
    metrics = _metrics(decoded)
    assert named == {c for c, v in metrics["classes"].items() if v["presence"] < 0.99}
    assert "class_name=" in result.stderr


def test_seed_count_mismatch_fails(decoded):
    recipe = tiny_recipe(seeds=[{"start": 0, "stop": 50}])
    decoded.write_recipe(recipe)
    result = decoded.synth("validate", "tiny", check=False)
    assert result.returncode == 1
    assert "expect_table_row_count_to_equal failed [seeds: value=50]: observed 40" in result.stderr


def test_validation_counts_only_the_samples_the_build_ships(decoded):
    """Samples the decoder leaves out (masks/excluded.json) neither count nor dilute a rate the gate checks."""
    listing = decoded.root / "data" / "tiny" / "masks" / "excluded.json"
    left_out = [{"seed": seed, "reason": "left out by the test"} for seed in range(0, 40, 4)]
    listing.write_text(json.dumps({"excluded": left_out, "rule": "every fourth seed"}))
    try:
        result = _validate_with(decoded)
        assert result.returncode == 0, result.stderr
        metrics = _metrics(decoded)
        assert metrics["samples"] == 30 and metrics["decoder_excluded"] == 10
        assert "validate: passed" in result.stderr and ": 30 samples" in result.stderr
    finally:
        listing.unlink()


def test_warning_only_failure_does_not_block(decoded):
    result = _validate_with(decoded, min_component_pixels=10**6)
    assert result.returncode == 0, result.stderr
    metrics = _metrics(decoded)
    assert metrics["success"] is True
    assert metrics["expectations"]["warning"]["failed"] == 3  # smallest component, one per class
    assert "warning: mask_quality: expect_column_values_to_be_between(min_component__car) failed" in result.stderr


def test_corrupt_masks_shard_is_bad_input(decoded, tmp_path):
    masks = decoded.root / "data" / "tiny" / "masks"
    shard = sorted(masks.glob("shard-*.parquet"))[1]
    backup = tmp_path / shard.name
    shutil.copy2(shard, backup)
    before = (
        (decoded.root / "reports" / "tiny" / "validation.json").read_bytes()
        if (decoded.root / "reports" / "tiny" / "validation.json").exists()
        else None
    )
    try:
        shard.write_bytes(b"PAR1 not really parquet")
        result = _validate_with(decoded)
    finally:
        shutil.copy2(backup, shard)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and shard.name in lines[0] and "corrupt shard" in lines[0]
    after = decoded.root / "reports" / "tiny" / "validation.json"
    assert (after.read_bytes() if after.exists() else None) == before  # nothing half-written


def test_missing_masks_is_bad_input(project):
    project.synth("synthesize", "tiny", "--quiet")
    result = project.synth("validate", "tiny", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "data/tiny/masks: no masks shards; run `synth decode tiny` first"
    assert not (project.root / "reports" / "tiny" / "validation.json").exists()


class _Copies(Generator):
    """Draws each seed in ``copies`` as the scene of another seed: identical images under different seeds."""

    def __init__(self, inner: Generator, copies: dict[int, int]):
        super().__init__(inner.config, inner.context)
        self.inner = inner
        self.copies = copies

    def generate(self, plans):
        out = []
        for plan in plans:
            source = self.copies.get(plan.seed)
            if source is None:
                out.extend(self.inner.generate([plan]))
                continue
            (sample,) = self.inner.generate([plan_sample(self.context, source)])
            sample.seed = plan.seed
            out.append(sample)
        return out


def test_duplicates_are_detected(project):
    from synth.stages.synthesize import synthesize
    from validation.stats_table import load_stats_table

    recipe = parse_recipe(tiny_recipe(), "recipes/tiny.yaml")
    copies = {5: 2, 17: 30}
    synthesize(
        recipe, project.root, show_progress=False, generator=_Copies(recipe.generator.build(recipe.context()), copies)
    )
    project.synth("decode", "tiny", "--quiet")
    table = load_stats_table(recipe, project.root)
    flagged = set(table.loc[table["near_duplicate"], "seed"])
    assert {2, 5, 17, 30} <= flagged
    assert len(flagged) <= 6  # the scenes generator itself makes no near-copies of these tiny images

    result = project.synth("validate", "tiny", check=False)
    assert result.returncode == 1
    assert (
        "expect_column_values_to_be_in_set(near_duplicate) failed [validation.max_duplicate_fraction" in result.stderr
    )
    assert _metrics(project)["duplicate_fraction"] == pytest.approx(len(flagged) / 40)


@pytest.mark.slow
def test_dvc_repro_records_metrics_and_threshold_edit_reruns_only_validate_and_build(reproduced_project):
    project = reproduced_project  # after `dvc repro`
    shown = json.loads(project.dvc("metrics", "show", "--json").stdout)
    metrics = next(iter(shown.values()))["data"]["reports/tiny/validation.json"]["data"]
    assert metrics["success"] is True and metrics["samples"] == 40
    project.commit("built")

    recipe = project.read_recipe("tiny")
    recipe["validation"]["max_duplicate_fraction"] = 0.5
    project.write_recipe(recipe)
    status = json.loads(project.dvc("status", "--json").stdout)
    # build and report state the thresholds; the variants (none here) are held to them too
    assert set(status) == {"validate@tiny", "validate-variants@tiny", "build@tiny", "report@tiny"}


def test_great_expectations_error_counts_as_failure(decoded, tmp_path):
    """A real errored expectation (its column is missing from the batch) fails validation, not passes it."""
    from synth.recipe import load_recipe
    from synth.stages.validate import class_table
    from validation.run import run_suites
    from validation.stats_table import load_stats_table

    _validate_with(decoded)
    recipe = load_recipe("tiny", decoded.root)
    table = load_stats_table(recipe, decoded.root)
    results = run_suites(
        recipe,
        {"samples": table.drop(columns=["sizes_match"]), "classes": class_table(table, recipe)},
        tmp_path / "docs",
    )
    outcome = interpret(results)
    assert not outcome.success
    assert outcome.counts["error"]["errored"] == 1
    (errored,) = outcome.blocking
    assert errored["column"] == "sizes_match" and errored["status"] == "errored"


def test_one_verdict_in_words_for_every_page():
    from validation.outcome import verdict

    none = {"evaluated": 3, "passed": 3, "failed": 0, "errored": 0}
    assert verdict(True, {"error": none, "warning": none}) == "passed"
    warned = {"evaluated": 10, "passed": 0, "failed": 9, "errored": 1}
    assert verdict(True, {"error": none, "warning": warned}) == "passed with 10 warnings"
    failed = {"evaluated": 3, "passed": 2, "failed": 1, "errored": 0}
    assert verdict(False, {"error": failed, "warning": none}) == "FAILED: 1 error"
    assert verdict(False, {"error": failed, "warning": warned}) == "FAILED: 1 error, 10 warnings"
