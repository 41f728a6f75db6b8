"""The expectation suites, built from a recipe's ``validation`` section.

Two suites, each validated against its own batch:

- ``class_balance`` runs on the per-class table (one row per class, see ``validation.stats_table.class_summary``):
  every class present in enough samples, and the class-frequency distribution close to the recipe's weights.
- ``mask_quality`` runs on the per-sample table (one row per seed, see ``validation.stats_table.load_stats_table``).

Severity is Great Expectations' own (``critical`` blocks, ``warning`` reports); ``meta.recipe_field`` names the
recipe setting that sets each threshold, so a failure tells the user which line of the recipe to look at.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from synth.recipe import Recipe
from validation.label_suite import label_check_expectations
from validation.stats_table import class_column

CLASS_BALANCE = "class_balance"
MASK_QUALITY = "mask_quality"

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING


def _meta(field: str | None, check: str) -> dict:
    return {"recipe_field": field, "check": check}


def class_balance_suite(recipe: Recipe, rows: int | None = None) -> gx.ExpectationSuite:
    rules = recipe.validation
    suite = gx.ExpectationSuite(
        name=CLASS_BALANCE,
        meta={"batch": "classes: one row per taxonomy class", "recipe": recipe.name},
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="presence",
            min_value=rules.min_class_presence,
            max_value=1.0,
            severity=CRITICAL,
            meta=_meta("validation.min_class_presence", "share of samples in which each class appears"),
        )
    )
    # Summing the per-class terms f * log(f / t) gives KL(observed || target) as the column's sum.
    suite.add_expectation(
        gxe.ExpectColumnSumToBeBetween(
            column="kl_term",
            min_value=None,
            max_value=rules.max_class_kl,
            severity=CRITICAL,
            meta=_meta("validation.max_class_kl", "KL divergence of class pixel frequencies from target weights"),
        )
    )
    suite.add_expectation(
        gxe.ExpectTableRowCountToEqual(
            value=len(recipe.taxonomy.classes),
            severity=CRITICAL,
            meta=_meta("taxonomy.classes", "one row per taxonomy class"),
        )
    )
    return suite


def mask_quality_suite(recipe: Recipe, rows: int | None = None) -> gx.ExpectationSuite:
    """``rows``: how many samples the batch must hold; the recipe's seed count unless a variant says otherwise."""
    rules = recipe.validation
    suite = gx.ExpectationSuite(
        name=MASK_QUALITY,
        meta={"batch": "samples: one row per seed", "recipe": recipe.name},
    )
    add = suite.add_expectation
    add(
        gxe.ExpectTableRowCountToEqual(
            value=recipe.num_samples if rows is None else rows,
            severity=CRITICAL,
            meta=_meta("seeds", "one row per seed of the recipe")
            if rows is None
            else _meta(None, "one row per sample"),
        )
    )
    add(gxe.ExpectColumnValuesToBeUnique(column="seed", severity=CRITICAL, meta=_meta("seeds", "unique seed ids")))
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="ignore_fraction",
            min_value=0.0,
            max_value=rules.max_ignore_fraction,
            severity=CRITICAL,
            meta=_meta("validation.max_ignore_fraction", "share of ignore (255) pixels per mask"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="empty",
            value_set=[False],
            mostly=1.0 - rules.max_empty_fraction,
            severity=CRITICAL,
            meta=_meta("validation.max_empty_fraction", "masks with no class pixel at all"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="near_duplicate",
            value_set=[False],
            mostly=1.0 - rules.max_duplicate_fraction,
            severity=CRITICAL,
            meta=_meta(
                "validation.max_duplicate_fraction", "images within duplicate_max_distance pHash bits of another"
            ),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="sizes_match",
            value_set=[True],
            severity=CRITICAL,
            meta=_meta(None, "mask height and width equal the image's"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="unknown_id_pixels",
            value_set=[0],
            severity=CRITICAL,
            meta=_meta("taxonomy.classes", "only background, ignore and taxonomy ids in masks"),
        )
    )
    for cls in recipe.taxonomy.classes:
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column=class_column("components", cls.name),
                min_value=0,
                max_value=rules.max_components,
                severity=CRITICAL,
                meta=_meta("validation.max_components", f"connected components of {cls.name} per mask"),
            )
        )
        # NaN where the class is absent: Great Expectations skips missing values, so only masks with the class count.
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column=class_column("min_component", cls.name),
                min_value=rules.min_component_pixels,
                severity=WARNING,
                meta=_meta("validation.min_component_pixels", f"smallest connected component of {cls.name}, pixels"),
            )
        )
    for expectation in label_check_expectations(recipe, CRITICAL):
        add(expectation)
    if rules.min_mean_confidence > 0:
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column="mean_confidence",
                min_value=rules.min_mean_confidence,
                max_value=1.0,
                severity=CRITICAL,
                meta=_meta("validation.min_mean_confidence", "mean decoder confidence per mask"),
            )
        )
    return suite


# suite name -> (builder, batch name, the column that identifies a row in failure details)
SUITES = {
    CLASS_BALANCE: (class_balance_suite, "classes", "class_name"),
    MASK_QUALITY: (mask_quality_suite, "samples", "seed"),
}
