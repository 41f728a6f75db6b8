"""Expectations on the label checks (synth.labelcheck): mask against image, judge, cleanlab ranking.

Each is one error-severity rule per score: at most ``validation.max_flagged_fraction`` of the samples may be on the
wrong side of the per-sample threshold (Great Expectations' ``mostly``). The samples that are, are excluded from
the build by the validate stage (one exclusion list with the decoder's: synth.store.exclusions).
"""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from synth.labelcheck import CHECKS, active_checks
from synth.labelcheck.scores import threshold
from synth.recipe import Recipe

WHAT = {
    "boundary_fscore": "boundary F-score of the mask's class boundaries against the image's edges",
    "boundary_precision": "share of the mask's class boundaries on an image edge",
    "labels_off_content": "share of labelled pixels on plain background",
    "judge_agreement": "share of labelled pixels whose region the judge names as labelled",
    "label_quality": "cleanlab label quality from out-of-sample predictions",
}


def label_check_columns(recipe: Recipe) -> list[str]:
    """The score columns the samples batch holds for this recipe."""
    rules = recipe.validation
    present = ["boundary_fscore", "boundary_precision", "labels_off_content"]
    present += ["judge_agreement"] if rules.judge is not None else []
    present += ["label_quality"] if rules.ranking is not None else []
    return active_checks(rules, present)


def label_check_expectations(recipe: Recipe, severity: FailureSeverity) -> list:
    rules = recipe.validation
    out = []
    for column in label_check_columns(recipe):
        field, low_is_bad = CHECKS[column]
        limit = threshold(rules, column)
        min_value, max_value = (limit, None) if low_is_bad else (None, limit)
        out.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column,
                mostly=1.0 - rules.max_flagged_fraction,
                severity=severity,
                meta={"recipe_field": f"validation.{field}", "check": WHAT[column]},
                min_value=min_value,
                max_value=max_value,
            )
        )
    return out
