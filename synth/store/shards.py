"""Parquet shards: the unit of storage, of work and of resumption.

Each seed belongs to one fixed shard (``seed // samples_per_shard``), so extending a seed range only adds
shards. A shard's file name carries a hash of everything that made it, so a finished shard is skipped, a stale
one is replaced, and nothing else needs bookkeeping. A shard appears only by an atomic rename of a complete
temporary file: a run killed at any point leaves nothing half-written, and the next run picks up where it stopped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from synth.errors import UserError

SHARD_GLOB = "shard-*.parquet"
_SHARD_NAME = re.compile(r"^shard-(\d{5})-([0-9a-f]{16})\.parquet$")
_WRITE_OPTIONS = {"compression": "zstd", "compression_level": 3, "write_statistics": False, "store_schema": False}


@dataclass(frozen=True)
class ShardPlan:
    index: int
    seeds: tuple[int, ...]
    key: str  # 16 hex digits of the hash of what makes this shard

    @property
    def filename(self) -> str:
        return f"shard-{self.index:05d}-{self.key}.parquet"


def group_seeds(seeds: Iterable[int], samples_per_shard: int) -> dict[int, tuple[int, ...]]:
    groups: dict[int, list[int]] = {}
    for seed in sorted(seeds):
        groups.setdefault(seed // samples_per_shard, []).append(seed)
    return {index: tuple(members) for index, members in groups.items()}


class ShardName(NamedTuple):
    """What a shard's file name says: its number in the plan (NNNNN) and the key of its contents. (``number``, not
    ``index``: a tuple already has an ``index`` method.)"""

    number: int
    key: str


def parse_name(path: Path) -> ShardName | None:
    """The index and key in ``path``'s name; None for a file that is not named like a shard."""
    match = _SHARD_NAME.match(path.name)
    return ShardName(int(match.group(1)), match.group(2)) if match else None


def shard_name(path: Path) -> ShardName:
    """``parse_name`` for a path known to be a shard (one ``list_shards`` returned)."""
    parsed = parse_name(path)
    if parsed is None:
        raise ValueError(f"{path}: not a shard file name (shard-NNNNN-KEY.parquet)")
    return parsed


def write_atomic(table: pa.Table, path: Path, before_rename=None) -> None:
    """Write to a temporary name in the same folder, fsync, rename. ``before_rename`` is a test hook."""
    _replace_atomic(path, lambda tmp: pq.write_table(table, tmp, **_WRITE_OPTIONS), before_rename)


def write_bytes_atomic(data: bytes, path: Path) -> None:
    """Put a shard's complete bytes (e.g. copied from an object store) in place the same way."""
    _replace_atomic(path, lambda tmp: tmp.write_bytes(data))


def _replace_atomic(path: Path, fill, before_rename=None) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fill(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if before_rename is not None:
            before_rename(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def shard_bytes(table: pa.Table) -> bytes:
    """The bytes ``write_atomic`` would write, in memory: what goes to an object store in one PUT."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **_WRITE_OPTIONS)
    return sink.getvalue().to_pybytes()


def rows_in(data: bytes) -> int | None:
    """Rows a shard's bytes hold by their Parquet footer; None when the footer is unreadable (damaged)."""
    try:
        return pq.read_metadata(pa.BufferReader(data)).num_rows
    except (OSError, pa.ArrowException):
        return None


def prune(directory: Path, keep: Iterable[str]) -> list[Path]:
    """Remove stale shards and leftovers of killed runs; everything else in the folder stays."""
    keep = set(keep)
    removed = []
    for path in sorted(directory.glob(".shard-*.tmp")) + sorted(directory.glob(SHARD_GLOB)):
        if path.name not in keep:
            path.unlink()
            removed.append(path)
    return removed


def is_complete(path: Path, expected_rows: int) -> bool:
    """A shard that exists is complete unless something outside this program damaged it; check the footer."""
    try:
        return pq.read_metadata(path).num_rows == expected_rows
    except (OSError, pa.ArrowException):
        return False


def read_shard(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The shard's ``columns`` (all without). Read through ``ParquetFile``, not ``pq.read_table``: the latter goes
    through ``pyarrow.dataset``, whose import (pandas with it) was a third of a small stage's start-up; the table
    is the same. ``ParquetFile`` skips a column the file lacks, so a missing one is named here."""
    try:
        with pq.ParquetFile(path) as shard:
            missing = [name for name in columns or () if name not in shard.schema_arrow.names]
            if missing:
                raise UserError(f"{path}: corrupt shard (no column {missing[0]!r}); delete it and rerun the stage")
            return shard.read(columns=columns)
    except (OSError, pa.ArrowException) as error:
        raise UserError(
            f"{path}: corrupt shard ({error.__class__.__name__}: {error}); delete it and rerun the stage"
        ) from None


def select_seeds(table: pa.Table, seeds: Iterable[int]) -> pa.Table:
    """The rows of ``table`` whose seed is in ``seeds``, in the table's order: ``filter(is_in(...))`` without
    making an Arrow array from Python values, which makes pyarrow import pandas (0.2-0.5 s of a stage that shows a
    few samples)."""
    wanted = set(seeds)
    rows = [table.slice(i, 1) for i, seed in enumerate(table.column("seed").to_pylist()) if seed in wanted]
    return pa.concat_tables(rows) if rows else table.slice(0, 0)


def list_shards(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(SHARD_GLOB) if parse_name(p) is not None)
