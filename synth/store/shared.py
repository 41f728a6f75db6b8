"""Samples shards shared by every recipe of a checkout, by content: ``data/.shards/KEY-DIGEST.parquet``.

A samples shard's key hashes everything that makes its bytes (generator settings and weights, classes, prompts,
seeds, image size and format, the evidence and samples formats) and nothing of the recipe's name, which no
shard holds. Two recipes that differ only in how their masks are decoded or checked therefore plan shards with
the same keys: the synthesize stage takes such a shard from here instead of generating it again, and puts
every shard it makes here. The fashion recipes generate their 500 images once, not twice.

- ``DIGEST`` is the start of the sha256 of the entry's bytes. An entry is handed out only when its bytes still
  hash to its name and its Parquet footer holds the planned rows; a damaged one is deleted and made again.
- Entries appear only by an atomic rename (synth/core/atomic.py), so two recipes synthesizing at once both
  finish: each may generate a shard the other is also making, and both renames publish the same bytes.
- A shard goes into a recipe's ``data/NAME/samples`` as a hard link (a copy across filesystems): no second copy
  on disk, and DVC sees an ordinary file.

Nothing here is versioned or pushed: ``rm -r data/.shards`` clears it and costs only regeneration. synth never
deletes an entry that is intact, also not one no recipe plans any more.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import pyarrow as pa

from synth.core.atomic import link_or_copy, write_atomic, write_bytes
from synth.core.hashing import file_sha256
from synth.store.shards import ShardPlan, rows_in, shard_bytes

FOLDER = "data/.shards"  # a dot: no recipe's data/NAME folder can have this name
DIGEST_CHARS = 16


class SharedShards:
    def __init__(self, root: Path):
        self.folder = Path(root) / FOLDER

    def _entry(self, key: str, digest: str) -> Path:
        return self.folder / f"{key}-{digest[:DIGEST_CHARS]}.parquet"

    def _entries(self, key: str) -> list[Path]:
        return sorted(self.folder.glob(f"{key}-*.parquet")) if self.folder.is_dir() else []

    def has(self, key: str) -> bool:
        return bool(self._entries(key))

    def fetch(self, plan: ShardPlan, target: Path) -> bool:
        """Put the shard ``plan`` names at ``target`` if an intact entry holds it; False when none does."""
        for entry in self._entries(plan.key):
            if not intact(entry, len(plan.seeds)):
                entry.unlink(missing_ok=True)  # never handed out; the next run that makes the shard replaces it
                continue
            try:
                write_atomic(target, partial(link_or_copy, entry))
            except FileNotFoundError:  # another run deleted it between the check and the link
                continue
            return True
        return False

    def keep(self, plan: ShardPlan, shard: Path) -> None:
        """Share a complete shard of this checkout (linked, not copied) unless its key is here already."""
        if not self.has(plan.key):
            write_atomic(self._entry(plan.key, file_sha256(shard)), lambda tmp: link_or_copy(shard, tmp))

    def keep_table(self, plan: ShardPlan, table: pa.Table) -> None:
        """Share a shard no recipe folder holds (one derived from another), written as the stage writes shards."""
        data = shard_bytes(table)
        write_bytes(self._entry(plan.key, hashlib.sha256(data).hexdigest()), data)


def intact(entry: Path, rows: int) -> bool:
    """The entry's bytes hash to its name and its footer holds ``rows`` rows."""
    try:
        data = entry.read_bytes()
    except OSError:
        return False
    digest = entry.stem.rpartition("-")[2]
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS] == digest and rows_in(data) == rows
