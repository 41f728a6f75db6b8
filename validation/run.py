"""Validate the statistics tables with the suites through Great Expectations Checkpoints, and write Data Docs.

An ephemeral Data Context keeps nothing between runs (the suites live in git as code, the results in
``reports/NAME``); only the Data Docs site is on disk, under the folder the caller gives.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from synth.recipe import Recipe
from validation.outcome import interpret, verdict
from validation.suites import SUITES

SITE = "synth"
PARTIAL = 20  # unexpected rows listed per failed expectation


def _context(docs_dir: Path):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suites(
    recipe: Recipe, tables: dict[str, pd.DataFrame], docs_dir: Path, rows: int | None = None
) -> list[tuple[str, dict]]:
    """Run every suite on its batch; return ``(suite name, expectation result as JSON dict)`` in suite order.

    ``rows`` is the sample count the suites expect (default: the recipe's seeds; a variant has its own).

    ``tables`` maps batch names (``samples``, ``classes``) to DataFrames. Each suite gets its own Checkpoint, as
    a dataframe batch is passed at run time and each batch identifies failing rows by its own key column.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = _context(docs_dir)
    source = context.data_sources.add_pandas(recipe.name)
    run_id = RunIdentifier(run_name=recipe.name)  # no version: validate does not depend on it
    out: list[tuple[str, dict]] = []
    for suite_name, (build, batch_name, key) in SUITES.items():
        batch = source.add_dataframe_asset(batch_name).add_batch_definition_whole_dataframe(batch_name)
        suite = context.suites.add(build(recipe, rows))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{recipe.name}-{suite_name}",
                validation_definitions=[definition],
                result_format={
                    "result_format": "SUMMARY",
                    "unexpected_index_column_names": [key],
                    "partial_unexpected_count": PARTIAL,
                },
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": tables[batch_name]}, run_id=run_id)
        for key, validation in result.run_results.items():
            pairs = [(suite_name, r.to_json_dict()) for r in validation.results]
            out.extend(pairs)
            # GE fails a suite on any failed expectation; the project's rule (validation/outcome.py) fails it on
            # error severity only. The Data Docs render the stored result, so they state the same verdict.
            validation.success = interpret(pairs).success
            context.validation_results_store.set(key, validation)
    context.build_data_docs(site_names=[SITE])
    from validation.offline_docs import make_offline

    outcome = interpret(out)
    banner = f"{recipe.name}: validation {verdict(outcome.success, outcome.counts)} (warnings never block)"
    for url in make_offline(docs_dir, banner):  # an asset a newer GE loads that data_docs_assets does not have yet
        print(f"validate: note: Data Docs still load {url}; add it to validation/offline_docs.py", file=sys.stderr)
    return out
