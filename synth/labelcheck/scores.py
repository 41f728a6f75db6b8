"""The per-sample label checks over a whole dataset, and which samples they flag.

Shared by the validate stage (the agreement columns come from the masks table there: decode computed them) and
``synth check-labels`` (any Hub-layout dataset: it computes them here), so the build's gate and the command
agree on the same masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synth.agreement import agreement_stats
from synth.labelcheck.config import LabelCheckSettings

# column -> (the threshold's setting, True when a low value is bad). The scores a gate reads.
CHECKS: dict[str, tuple[str, bool]] = {
    "boundary_fscore": ("min_boundary_fscore", True),
    "boundary_precision": ("min_boundary_precision", True),
    "labels_off_content": ("max_labels_off_content", False),
    "judge_agreement": ("min_judge_agreement", True),
    "label_quality": ("min_label_quality", True),
}


@dataclass
class LabelScores:
    table: pd.DataFrame  # one row per sample, in input order: the score columns computed
    per_class: dict = field(default_factory=dict)  # the judge's per-class agreement (empty without a judge)


def active_checks(settings: LabelCheckSettings, columns) -> list[str]:
    """The checks that apply: plain-background only where the images have one, judge and ranking where on."""
    out = []
    for column in CHECKS:
        if column not in columns:
            continue
        if column == "labels_off_content" and not settings.plain_background:
            continue
        out.append(column)
    return out


def threshold(settings: LabelCheckSettings, column: str) -> float:
    return float(getattr(settings, CHECKS[column][0]))


def flag_reasons(table: pd.DataFrame, settings: LabelCheckSettings) -> pd.Series:
    """Per row, why it is flagged ('' when it passes): each check under its threshold, with the value."""
    reasons = pd.Series([""] * len(table), index=table.index, dtype=object)
    for column in active_checks(settings, table.columns):
        limit = threshold(settings, column)
        low_is_bad = CHECKS[column][1]
        values = table[column].astype(np.float64)
        bad = (values < limit) if low_is_bad else (values > limit)
        word = "<" if low_is_bad else ">"
        for index in table.index[bad.fillna(False).to_numpy()]:
            note = f"{column} {values[index]:.3f} {word} {limit:g}"
            reasons[index] = note if not reasons[index] else f"{reasons[index]}; {note}"
    return reasons


def oriented(table: pd.DataFrame) -> pd.DataFrame:
    """Every score with lower = more likely wrong: ``labels_off_content`` becomes ``labels_on_content``."""
    out = table.copy()
    if "labels_off_content" in out:
        out["labels_on_content"] = 1.0 - out.pop("labels_off_content")
    return out


def score_labels(
    images: list[np.ndarray],
    masks: list[np.ndarray],
    class_ids: list[int],
    class_names: list[str],
    settings: LabelCheckSettings,
    judge=None,
    with_agreement: bool = True,
) -> LabelScores:
    """Score every (image, mask): agreement (unless the caller has it), the judge's agreement (with a built
    ``judge``), cleanlab's label quality (with ``settings.ranking``)."""
    from synth.labelcheck.judge import class_agreement, sample_agreement

    columns: dict[str, np.ndarray] = {}
    if with_agreement:
        rows = [agreement_stats(image, mask) for image, mask in zip(images, masks)]
        for key in ("boundary_fscore", "boundary_precision", "labels_off_content"):
            columns[key] = np.array([r[key] for r in rows], dtype=np.float64)
    per_class = {}
    if judge is not None:
        verdicts = judge.judge(images, masks, class_ids)
        columns["judge_agreement"] = sample_agreement(verdicts, masks)
        per_class = class_agreement(verdicts, class_names)
    if settings.ranking is not None and len(images) >= settings.ranking.folds:
        from synth.labelcheck.ranking import label_quality

        columns["label_quality"] = label_quality(images, masks, class_ids, settings.ranking)
    return LabelScores(pd.DataFrame(columns, index=range(len(images))), per_class)
