"""The one hash every key in the project is made with (shard keys, recipe hashes, settings hashes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CODE_ROOT = Path(__file__).resolve().parents[2]  # the checkout the package is imported from


def canonical_hash(value: Any) -> str:
    """sha256 of canonical JSON: key order and formatting of the YAML never change a hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (shards and model files do not fit comfortably at once)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settings_hash(settings: Any) -> str:
    """16 hex digits identifying a (pydantic) settings model, e.g. a generator's, recorded with what it made."""
    return canonical_hash(settings.model_dump(mode="json"))[:16]


def code_digest(entries: Iterable[str]) -> str:
    """One digest of the source files a stage runs: ``entries`` are folders and files under the checkout, as a
    stage's ``code`` in synth/recipe/stages.py (the list DVC reruns the stage for) names them."""
    files: list[Path] = []
    for entry in entries:
        path = CODE_ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return canonical_hash({str(f.relative_to(CODE_ROOT)): file_sha256(f) for f in files})
