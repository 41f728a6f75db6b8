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
