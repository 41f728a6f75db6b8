"""The validate stage's label checks: scores that compare masks with their images, and the samples they exclude.

The agreement scores are already in the statistics table (decode computed them); the judge and cleanlab's
ranking need pixels and the whole dataset, so they run here, only when the recipe turns them on. What a sample
under a threshold gets: a reason in ``validation_details.json`` (``label_checks.excluded``), which build and the
report read with the decoder's exclusions as one list (synth.store.exclusions.read_build_exclusions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synth.core.paths import DatasetPaths
from synth.labelcheck import CHECKS, LabelScores, active_checks, flag_reasons, score_labels
from synth.labelcheck.scores import threshold
from synth.recipe import Recipe
from synth.store.codec import decode_png
from synth.store.shards import list_shards, read_shard

WORST_SHOWN = 12  # the "most likely wrong" samples listed in the details and the report


def read_pixels(paths: DatasetPaths) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
    """Seeds, images and masks of the dataset, in seed order (masks shards pair with samples shards by seed)."""
    images: dict[int, bytes] = {}
    masks: dict[int, bytes] = {}
    for path in list_shards(paths.samples):
        table = read_shard(path, ["seed", "image"])
        images.update(zip(table.column("seed").to_pylist(), table.column("image").to_pylist()))
    for path in list_shards(paths.masks):
        table = read_shard(path, ["seed", "mask"])
        masks.update(zip(table.column("seed").to_pylist(), table.column("mask").to_pylist()))
    seeds = sorted(set(images) & set(masks))
    return seeds, [decode_png(images[s]) for s in seeds], [decode_png(masks[s]) for s in seeds]


def dataset_label_scores(recipe: Recipe, root: Path) -> tuple[pd.DataFrame, dict]:
    """``(per-seed judge / ranking scores, the judge's per-class agreement)``; empty without either."""
    rules = recipe.validation
    if rules.judge is None and rules.ranking is None:
        return pd.DataFrame({"seed": pd.Series([], dtype=np.int64)}), {}
    classes = recipe.taxonomy.classes
    judge = None if rules.judge is None else rules.judge.build([c.phrase for c in classes])
    seeds, images, masks = read_pixels(DatasetPaths(Path(root), recipe.name))
    scores: LabelScores = score_labels(
        images, masks, recipe.taxonomy.ids, [c.name for c in classes], rules, judge, with_agreement=False
    )
    return scores.table.assign(seed=np.asarray(seeds, dtype=np.int64)), scores.per_class


def with_label_scores(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The statistics table with the judge / ranking columns joined by seed."""
    if len(scores.columns) <= 1:
        return table
    return table.merge(scores, on="seed", how="left")


def label_check_summary(recipe: Recipe, table: pd.DataFrame, per_class: dict) -> tuple[dict, dict]:
    """``(metrics, details)``: the share flagged and each score's mean (metrics); thresholds, every flagged
    sample with its reasons (the exclusion list), the worst samples with their scores, the judge per class."""
    rules = recipe.validation
    checks = active_checks(rules, table.columns)
    reasons = flag_reasons(table, rules)
    flagged = int((reasons != "").sum())
    score_columns = [c for c in CHECKS if c in table.columns]
    ranked = table.assign(_rank=_badness(table, checks, reasons)).sort_values(
        ["_rank", "seed"], ascending=[False, True]
    )
    worst = [
        {"seed": int(row["seed"]), **{c: _value(row[c]) for c in score_columns}, "reason": reasons[index]}
        for index, row in ranked.head(WORST_SHOWN).iterrows()
    ]
    metrics = {
        "flagged_fraction": round(flagged / len(table), 6) if len(table) else 0.0,
        **{f"mean_{c}": _value(table[c].mean()) for c in score_columns},
    }
    details = {
        "checks": {c: {"threshold": threshold(rules, c), "low_is_bad": CHECKS[c][1]} for c in checks},
        "judge": None if rules.judge is None else rules.judge.type,
        "judge_per_class": per_class,
        "ranking": rules.ranking is not None,
        "excluded": [{"seed": int(s), "reason": f"label checks: {r}"} for s, r in zip(table["seed"], reasons) if r],
        "worst": worst,
    }
    return metrics, details


def _badness(table: pd.DataFrame, checks: list[str], reasons: pd.Series) -> np.ndarray:
    """Most likely wrong first: by the number of checks failed, then by the mean percentile rank of the scores
    (0 = the worst of the dataset on every check)."""
    failed = reasons.map(lambda r: 0 if not r else r.count(";") + 1).to_numpy(dtype=np.float64)
    if not checks:
        return failed
    ranks = [table[c].astype(np.float64).rank(pct=True, ascending=CHECKS[c][1]).fillna(0.5).to_numpy() for c in checks]
    return failed + (1.0 - np.mean(ranks, axis=0))  # the rank part is < 1: it only orders within a count


def _value(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


def per_sample_scores(recipe: Recipe, table: pd.DataFrame) -> pd.DataFrame:
    """``seed``, every score column and ``reason`` ('' unless flagged): what the report shows beside samples."""
    columns = [c for c in CHECKS if c in table.columns]
    return table[["seed", *columns]].assign(reason=flag_reasons(table, recipe.validation).to_numpy())


def summary_line(recipe: Recipe, metrics: dict) -> str:
    """One line for ``synth validate``: how many samples the label checks exclude, and whether a judge ran."""
    rules = recipe.validation
    share = metrics.get("label_checks", {}).get("flagged_fraction", 0.0)
    count = round(share * metrics.get("samples", 0))
    judge = f"judge {rules.judge.type}" if rules.judge else "no judge (label content not checked)"
    ranking = "cleanlab ranking" if rules.ranking else "no cleanlab ranking"
    return (
        f"validate: label checks: {count} samples ({share:.1%}) under a per-sample threshold, excluded from the build "
        f"(allowed {rules.max_flagged_fraction:.0%} before the gate fails); {judge}; {ranking}"
    )
