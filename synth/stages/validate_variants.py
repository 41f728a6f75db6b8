"""``synth validate-variants NAME``: every variant a recipe makes (mixed, stylized) held to the base's suites.

A variant is what an optional stage made from the finished dataset: HydraMix composites (``mix:``, in
``data/NAME/mixed``) and stylized samples (``stylize:``, in ``data/NAME/stylized``). Each is validated with the
same statistics table and Great Expectations suites as the base (``check_table``), its mask statistics computed
from its own masks. Writes ``reports/NAME/validation-variants.json`` (DVC metrics: per variant the numbers
``validation.json`` has; ``{}`` for a recipe without variants) and ``reports/NAME/variants/VARIANT/`` (failure
details and Data Docs). Everything appears together by rename, or not at all. The build stage reads the
metrics file to decide which configs the published dataset gets, and refuses a failed variant.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from synth.core.atomic import work_folder
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.stages.validate import _dump, check_table
from synth.stages.variants import VARIANTS, recipe_variants, variant_folder
from synth.store.shards import list_shards
from validation.stats_table import load_variant_stats_table

DETAILS = "validation_details.json"
DOCS = "data_docs"


def expected_rows(recipe: Recipe, variant: str) -> int:
    """Composites: ``mix.count``; stylized: one per generated sample, like the base."""
    if variant != "mixed":
        return recipe.num_samples
    if recipe.mix is None:  # recipe_variants lists "mixed" only for a recipe with a mix section
        raise ValueError(f"{recipe.name}: no mix section, so no mixed variant")
    return recipe.mix.count


@dataclass
class VariantsReport:
    metrics: dict[str, dict]
    details: dict[str, dict]
    paths: DatasetPaths

    @property
    def success(self) -> bool:
        return all(m["success"] for m in self.metrics.values())

    def lines(self) -> list[str]:
        from validation.outcome import absent_line, describe

        out = []
        for variant, details in self.details.items():
            samples = self.metrics[variant]["samples"]
            out += [f"{variant}: {describe(f)}" for f in details["failures"]]
            out += [f"{variant}: {absent_line(a, samples)}" for a in details["absent_classes"]]
        return out

    def summary(self) -> str:
        if not self.metrics:
            name, report = self.paths.name, self.paths.variants_validation
            return f"validate-variants: {name} makes none (no mix: or stylize: section); {report}"
        parts = [
            f"{v} {'passed' if m['success'] else 'FAILED'} ({m['samples']} samples)" for v, m in self.metrics.items()
        ]
        return (
            f"validate-variants: {', '.join(parts)}; "
            f"report {self.paths.variants_validation}, details {self.paths.variant_reports}"
        )


def validate_variants(recipe: Recipe, root: Path = Path(".")) -> VariantsReport:
    """Validate every variant of one recipe; ``success`` is False when any variant fails.

    Raises ``UserError`` (before writing anything) when a variant's shards are missing, corrupt or maskless.
    """
    paths = DatasetPaths(Path(root), recipe.name)
    tables = {}
    for variant in recipe_variants(recipe):
        folder, stage = variant_folder(paths, variant), VARIANTS[variant][1]
        if not list_shards(folder):
            raise UserError(f"{folder}: no {variant} shards; run `synth {stage} {recipe.name}` first")
        tables[variant] = load_variant_stats_table(recipe, folder, stage)

    metrics, details = {}, {}
    with work_folder(paths.reports / "validate-variants") as staging:
        folder = staging / paths.variant_reports.name
        folder.mkdir()
        (folder / "README.txt").write_text(
            "validate-variants: per variant (mixed, stylized) its failed expectations and Data Docs; "
            "none when the recipe makes no variant.\n"
        )
        for variant, table in tables.items():
            (folder / variant).mkdir()
            rows = expected_rows(recipe, variant)
            metrics[variant], details[variant] = check_table(recipe, table, folder / variant / DOCS, rows)
            _dump(details[variant], folder / variant / DETAILS)
        _dump(metrics, staging / paths.variants_validation.name)
        if paths.variant_reports.exists():
            shutil.rmtree(paths.variant_reports)
        os.replace(folder, paths.variant_reports)
        os.replace(staging / paths.variants_validation.name, paths.variants_validation)
    return VariantsReport(metrics, details, paths)
