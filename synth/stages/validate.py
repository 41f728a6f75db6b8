"""The validate stage: statistics tables -> Great Expectations suites -> ``reports/NAME``.

Writes ``validation.json`` (DVC metrics: numbers and booleans only, so ``dvc metrics diff`` can compare them),
``validation_details.json`` (every failed or errored expectation: which, on what column, observed what) and the
Data Docs site under ``data_docs/``. All three appear together by rename, or not at all.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synth.core.atomic import work_folder
from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.store.exclusions import read_exclusions
from validation.outcome import verdict
from validation.stats_table import class_summary, load_stats_table

DIGITS = 6  # metrics are rounded so that a diff shows changes in the data, not float noise


@dataclass
class ValidationReport:
    success: bool
    metrics: dict
    failures: list[dict]
    paths: DatasetPaths
    absent: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        from validation.outcome import absent_line, describe

        return [describe(f) for f in self.failures] + [absent_line(a, self.metrics["samples"]) for a in self.absent]

    def summary(self) -> str:
        counts = self.metrics["expectations"]
        err, warn = counts["error"], counts["warning"]
        said = verdict(self.success, counts)  # the words the Data Docs, the report and the card use
        return (
            f"validate: {said}: {self.metrics['samples']} samples; "
            f"errors {err['failed'] + err['errored']} of {err['evaluated']}, "
            f"warnings {warn['failed'] + warn['errored']} of {warn['evaluated']}; "
            f"report {self.paths.validation}, data docs {self.paths.data_docs / 'index.html'}"
        )


def class_table(table: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    """The ``classes`` batch: one row per class with its term of KL(observed || target)."""
    classes = class_summary(table, recipe)
    observed, target = classes["frequency"].to_numpy(), classes["target"].to_numpy()
    if observed.sum() <= 0:  # no class pixel anywhere: the distribution is undefined, never "close"
        terms = np.full(len(observed), np.inf)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(observed > 0, observed * np.log(observed / target), 0.0)
    return classes.assign(kl_term=terms)


def absent_classes(recipe: Recipe, metrics: dict) -> list[dict]:
    """Classes in no mask at all, each with the likeliest reason (synth.recipe.reach)."""
    from synth.recipe.reach import absence_reason

    by_name = recipe.taxonomy.by_name()
    return [
        {"class": name, "id": by_name[name].id, "reason": absence_reason(recipe, by_name[name], metrics["samples"])}
        for name, values in metrics["classes"].items()
        if values["presence"] == 0 and name in by_name
    ]


def _round(value: float) -> float:
    return round(float(value), DIGITS)


def build_metrics(table: pd.DataFrame, classes: pd.DataFrame, outcome) -> dict:
    kl = float(classes["kl_term"].sum())
    metrics: dict = {
        "success": bool(outcome.success),
        "samples": int(len(table)),
        "expectations": {sev: dict(counts) for sev, counts in sorted(outcome.counts.items())},
        "classes": {
            row.class_name: {
                "presence": _round(row.presence),
                "pixel_share": _round(row.pixel_share),
                "frequency": _round(row.frequency),
                "target": _round(row.target),
            }
            for row in classes.itertuples()
        },
        "empty_fraction": _round(table["empty"].mean()) if len(table) else 0.0,
        "duplicate_fraction": _round(table["near_duplicate"].mean()) if len(table) else 0.0,
        "mean_ignore_fraction": _round(table["ignore_fraction"].mean()) if len(table) else 0.0,
        "size_mismatches": int((~table["sizes_match"]).sum()),
        "unknown_id_samples": int(table["unknown_ids"].sum()),
    }
    if math.isfinite(kl):  # JSON has no infinity; an undefined KL shows as a failed expectation instead
        metrics["class_kl"] = _round(kl)
    confidence = table["mean_confidence"].dropna()
    if len(confidence):
        metrics["mean_confidence"] = _round(confidence.mean())
    return metrics


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def _dump(value, path: Path) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True, default=_json_default) + "\n", encoding="utf-8")


def check_table(recipe: Recipe, table: pd.DataFrame, docs_dir: Path, rows: int | None = None) -> tuple[dict, dict]:
    """Run the suites on one statistics table, writing Data Docs to ``docs_dir``: ``(metrics, details)``.

    Shared by the base dataset and its variants (synth.stages.validate_variants), so both are held to the same
    expectations; ``rows`` is the sample count expected (default: the recipe's seeds).
    """
    from validation.label_suite import label_check_columns
    from validation.outcome import interpret
    from validation.run import run_suites

    for column in label_check_columns(recipe):  # a variant is not judged or ranked: its rows are skipped (NaN)
        if column not in table:
            table = table.assign(**{column: np.nan})
    classes = class_table(table, recipe)
    outcome = interpret(run_suites(recipe, {"samples": table, "classes": classes}, docs_dir, rows))
    metrics = build_metrics(table, classes, outcome)
    details = {
        "success": outcome.success,
        "failures": outcome.failures,
        "absent_classes": absent_classes(recipe, metrics),
    }
    return metrics, details


def validate(recipe: Recipe, root: Path = Path(".")) -> ValidationReport:
    """Validate one dataset; the report's ``success`` is False when an error-severity expectation failed or errored.

    Raises ``UserError`` (before writing anything) when the shards are missing, corrupt or inconsistent.
    """
    from synth.stages.label_checks import (
        dataset_label_scores,
        label_check_summary,
        per_sample_scores,
        with_label_scores,
    )

    paths = DatasetPaths(Path(root), recipe.name)
    # The suites hold the build to its thresholds, so they see what the build ships: samples the decoder left out
    # (DatasetGAN's most uncertain share, judge-checked labels) are neither counted nor allowed to dilute a rate.
    left_out = read_exclusions(paths)
    table = load_stats_table(recipe, root)
    table = table[~table["seed"].isin(list(left_out))].reset_index(drop=True)
    scores, judged_classes = dataset_label_scores(recipe, root)  # judge and ranking, where the recipe asks
    table = with_label_scores(table, scores)

    with work_folder(paths.reports / "validate") as staging:
        metrics, details = check_table(
            recipe, table, staging / paths.data_docs.name, rows=recipe.num_samples - len(left_out) if left_out else None
        )
        metrics["decoder_excluded"] = len(left_out)
        metrics["label_checks"], details["label_checks"] = label_check_summary(recipe, table, judged_classes)
        _dump(metrics, staging / paths.validation.name)
        _dump(details, staging / paths.validation_details.name)
        per_sample_scores(recipe, table).to_parquet(staging / paths.label_scores.name, index=False)
        old_docs = paths.data_docs
        if old_docs.exists():
            shutil.rmtree(old_docs)
        os.replace(staging / paths.data_docs.name, old_docs)
        os.replace(staging / paths.validation_details.name, paths.validation_details)
        os.replace(staging / paths.label_scores.name, paths.label_scores)
        os.replace(staging / paths.validation.name, paths.validation)
    return ValidationReport(
        success=details["success"],
        metrics=metrics,
        failures=details["failures"],
        paths=paths,
        absent=details["absent_classes"],
    )
