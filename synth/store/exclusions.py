"""The list of samples a decoder asked build to leave out (``data/NAME/masks/excluded.json``), read back.

Decoders that drop samples (DatasetGAN's most uncertain share, docs/datasetgan.md) write it; build and the report
read it here, so both say the same about the same file.
"""

from __future__ import annotations

import json

from synth.core.paths import DatasetPaths
from synth.errors import UserError


def read_exclusions(paths: DatasetPaths) -> dict[int, str]:
    """Seeds a decoder asked to leave out (e.g. DatasetGAN's most uncertain share), with the reason for each."""
    listing = paths.excluded  # written by decoders that drop samples (see docs/datasetgan.md)
    if not listing.is_file():
        return {}
    try:
        entries = json.loads(listing.read_text())["excluded"]
        return {int(e["seed"]): str(e.get("reason", "excluded by the decoder")) for e in entries}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise UserError(f"{listing}: unreadable exclusion list ({error}); rerun `synth decode {paths.name}`") from None


def read_label_check_exclusions(paths: DatasetPaths) -> dict[int, str]:
    """Seeds the validate stage's label checks flagged (``validation_details.json``: ``label_checks.excluded``)."""
    details = paths.validation_details
    if not details.is_file():
        return {}
    try:
        entries = (json.loads(details.read_text()).get("label_checks") or {}).get("excluded") or []
        return {int(e["seed"]): str(e["reason"]) for e in entries}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(
            f"{details}: unreadable label-check exclusions ({error}); rerun `synth validate {paths.name}`"
        ) from None


def read_build_exclusions(paths: DatasetPaths) -> dict[int, str]:
    """The one list build leaves out and the report shows: the decoder's exclusions and the label checks'
    (a seed both name keeps both reasons)."""
    merged = read_exclusions(paths)
    for seed, reason in read_label_check_exclusions(paths).items():
        merged[seed] = f"{merged[seed]}; {reason}" if seed in merged else reason
    return merged
