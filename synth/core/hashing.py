"""The one hash every key in the project is made with (shard keys, recipe hashes, settings hashes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_hash(value: Any) -> str:
    """sha256 of canonical JSON: key order and formatting of the YAML never change a hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def settings_hash(settings: Any) -> str:
    """16 hex digits identifying a (pydantic) settings model, e.g. a generator's, recorded with what it made."""
    return canonical_hash(settings.model_dump(mode="json"))[:16]
