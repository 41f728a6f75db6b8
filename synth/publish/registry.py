"""The registry: one JSON file per dataset under ``registry/``, versioned in git, written by ``synth publish``.

It is the source of truth for what was published (version, tag, commit, lineage) and agrees with the Hub's tags
because publish writes it only after the tag exists.
"""

from __future__ import annotations

import json
from pathlib import Path

from synth.core.atomic import write_text
from synth.core.hashing import canonical_hash
from synth.errors import UserError
from synth.recipe import STAGE_FIELDS, Recipe

REGISTRY_DIR = "registry"
# What changes the published data: everything synthesis, decoding and the build's split assignment read.
DATA_FIELDS = sorted(set(STAGE_FIELDS["synthesize"]) | set(STAGE_FIELDS["decode"]) | {"splits"})


def data_hash(recipe: Recipe) -> str:
    dump = recipe.model_dump(mode="json")
    return canonical_hash({field: dump[field] for field in DATA_FIELDS})


def registry_file(root: Path, name: str) -> Path:
    return Path(root) / REGISTRY_DIR / f"{name}.json"


def read_entry(root: Path, name: str) -> dict:
    path = registry_file(root, name)
    if not path.is_file():
        return {"name": name, "versions": []}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None


def record_version(root: Path, name: str, hub_repo: str, version: dict) -> Path:
    entry = read_entry(root, name)
    entry["hub_repo"] = hub_repo
    entry["versions"] = [v for v in entry["versions"] if v["version"] != version["version"]] + [version]
    path = registry_file(root, name)
    write_text(path, json.dumps(entry, indent=2, sort_keys=True) + "\n")
    return path


def latest(entry: dict) -> dict | None:
    return entry["versions"][-1] if entry.get("versions") else None


def unbumped_change(root: Path, recipe: Recipe) -> str | None:
    """A problem line when the recipe's data changed since its published version but the version did not."""
    published = [v for v in read_entry(root, recipe.name)["versions"] if v["version"] == recipe.version]
    if published and published[-1].get("data_hash") not in (None, data_hash(recipe)):
        return (
            f"version {recipe.version} is already published ({published[-1]['tag']}) with other data; "
            "bump the version for this change"
        )
    return None
