"""The one hash every key in the project is made with (shard keys, recipe hashes, settings hashes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_hash(value: Any) -> str:
    """sha256 of canonical JSON: key order and formatting of the YAML never change a hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
