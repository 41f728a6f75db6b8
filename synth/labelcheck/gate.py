"""Judge-checked labels: the judge's verdicts turned into a cleaner training set rather than a report.

A decoder's class for an item can be wrong (a generator that draws a coat when asked for a shirt; touching items
merged into one region with one class). The label checks already name every region with a judge; here a region the
judge names otherwise becomes ignore, and a sample whose labelled pixels the judge mostly rejects is left out, so
the wrong labels never reach a segmenter. Settings: ``synth.labelcheck.config.JudgeLabelsSettings``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synth.core.labels import IGNORE_ID
from synth.labelcheck.config import JudgeLabelsSettings
from synth.labelcheck.judge import Judge, sample_agreement


@dataclass(frozen=True)
class Checked:
    mask: np.ndarray  # the mask with rejected regions made ignore (``rejected_regions: ignore``), else unchanged
    agreement: float  # share of judged labelled pixels the judge agrees with, before any region is made ignore
    regions: int  # regions judged
    rejected: int  # regions the judge named as another class

    @property
    def provenance(self) -> dict:
        return {
            "judge_agreement": round(self.agreement, 6),
            "judge_regions": self.regions,
            "judge_rejected": self.rejected,
        }


def judge_check(
    images: list[np.ndarray], masks: list[np.ndarray], class_ids: list[int], judge: Judge, cfg: JudgeLabelsSettings
) -> list[Checked]:
    """Every (image, mask) judged in one batch; the masks returned are new arrays only where a region changed."""
    verdicts = judge.judge(images, masks, class_ids)
    agreement = sample_agreement(verdicts, masks)
    regions = np.zeros(len(masks), np.int64)
    rejected = np.zeros(len(masks), np.int64)
    judged = [np.zeros(mask.shape, bool) for mask in masks]
    make_ignore = [np.zeros(mask.shape, bool) for mask in masks]  # per sample: the pixels the settings make ignore
    for verdict in verdicts:
        sample, pixels = verdict.region.sample, verdict.region.pixels
        regions[sample] += 1
        judged[sample] |= pixels
        if verdict.named != verdict.region.class_index:
            rejected[sample] += 1
            if cfg.rejected_regions == "ignore":
                make_ignore[sample] |= pixels
    out = []
    for index, mask in enumerate(masks):
        if cfg.unjudged_regions == "ignore":  # labelled specks no verdict covers
            make_ignore[index] |= (mask != 0) & (mask != IGNORE_ID) & ~judged[index]
        if make_ignore[index].any():
            mask = np.where(make_ignore[index], np.uint8(IGNORE_ID), mask).astype(mask.dtype)
        out.append(Checked(mask, float(agreement[index]), int(regions[index]), int(rejected[index])))
    return out


def excluded_by_judge(agreement: float, cfg: JudgeLabelsSettings) -> str:
    """Why a sample is left out ('' when kept): the judge agrees with too little of its labelled pixels."""
    if agreement < cfg.min_agreement:
        return f"judge agrees with {agreement:.3f} of its labelled pixels < {cfg.min_agreement:g}"
    return ""


JUDGE_RULE = "judge-checked labels: a sample whose judged labelled pixels the judge agrees with less than min_agreement"


def judge_exclusions(masks: Path, cfg: JudgeLabelsSettings) -> list[dict]:
    """The samples of a decoded dataset (``data/NAME/masks``) under ``cfg.min_agreement``, read from the judge's
    agreement in each mask's provenance, with the reason for each, in seed order."""
    from synth.store.shards import list_shards, read_shard

    out = []
    for shard in list_shards(masks):
        table = read_shard(shard, ["seed", "provenance"])
        for seed, provenance in zip(table.column("seed").to_pylist(), table.column("provenance").to_pylist()):
            agreement = float(json.loads(provenance).get("judge_agreement", 1.0))
            reason = excluded_by_judge(agreement, cfg)
            if reason:
                out.append({"seed": int(seed), "judge_agreement": round(agreement, 6), "reason": reason})
    return sorted(out, key=lambda e: e["seed"])
