"""The report's label-check parts: the scores beside every sample, and the "most likely wrong" section.

Reads what the validate stage wrote (``reports/NAME/label_scores.parquet`` and ``label_checks`` in
``validation_details.json``); docs/validation.md says what each score means.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from synth.core.paths import DatasetPaths
from synth.store.shards import read_shard

SHORT = {
    "boundary_fscore": "boundary F",
    "boundary_precision": "boundary precision",
    "labels_off_content": "off content",
    "judge_agreement": "judge",
    "label_quality": "cleanlab",
}


def score_notes(paths: DatasetPaths) -> dict[int, str]:
    """seed -> 'boundary F 0.41 · boundary precision 0.93 · ...' (empty before a validate that wrote scores)."""
    if not paths.label_scores.is_file():
        return {}
    table = read_shard(paths.label_scores)  # a damaged file is a one-line error naming it
    columns = [c for c in SHORT if c in table.column_names]
    notes = {}
    for row in table.to_pylist():
        parts = [f"{SHORT[c]} {row[c]:.2f}" for c in columns if row[c] is not None and row[c] == row[c]]
        notes[int(row["seed"])] = " · ".join(parts)
    return notes


def worst_seeds(details: dict) -> list[int]:
    return [int(w["seed"]) for w in (details.get("label_checks") or {}).get("worst", [])]


def likely_wrong_html(details: dict, cards: list[dict], gallery: Callable[[list[dict]], str]) -> str:
    """Thresholds, the judge line ('no judge: no check' when none), per-class judge agreement, the worst cards."""
    checks = details.get("label_checks")
    if not checks:
        return '<p class="muted">No label-check results: rerun <code>synth validate</code>.</p>'
    rules = ", ".join(
        f"{escape(SHORT.get(c, c))} {'≥' if v['low_is_bad'] else '≤'} {v['threshold']:g}"
        for c, v in checks.get("checks", {}).items()
    )
    excluded = len(checks.get("excluded", []))
    judge = checks.get("judge")
    judge_line = (
        f"Judge: <code>{escape(judge)}</code> names every labelled region."
        if judge
        else "No judge: the labels' content is not checked (validation.judge in the recipe)."
    )
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{v['regions']}</td><td class='num'>{_share(v['agreement'])}</td>"
        f"<td>{escape(v['most_named_instead'] or '')}</td></tr>"
        for name, v in (checks.get("judge_per_class") or {}).items()
    )
    per_class = (
        "<table><tr><th>class</th><th>regions</th><th>judge agrees</th><th>judge named most instead</th></tr>"
        f"{rows}</table>"
        if rows
        else ""
    )
    ranking = "cleanlab ranking on." if checks.get("ranking") else "cleanlab ranking off (validation.ranking)."
    return (
        f"<p>Per-sample thresholds: {rules}. {excluded} samples under one are excluded from the build. "
        f"{judge_line} {ranking}</p>{per_class}"
        "<p>Ranked by checks failed, then by the mean percentile of the scores (lowest first):</p>" + gallery(cards)
    )


def _share(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
