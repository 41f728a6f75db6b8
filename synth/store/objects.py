"""Shards in object storage (``--store``): where Ray workers put what they make when they share no file system.

Any fsspec URL works: ``s3://bucket/prefix`` (s3fs, credentials and endpoint from the usual AWS settings), a
``file://`` URL or a plain local path. Layout: ``<store>/<recipe name>/samples/<shard file>`` and
``<store>/<recipe name>/masks/<shard file>``, the same file names as in ``data/NAME``, so a shard's key says
what made it exactly as locally.

A worker puts a finished shard as ONE complete object: on an object store a single PUT of the whole Parquet
bytes is what the atomic rename is on a file system (a reader sees the old object, none, or the complete new
one). On a local folder the object is written to a temporary name and renamed. The driver copies each object
into ``data/NAME/...`` only after checking it (Parquet footer readable, the right number of rows); an object
that fails the check is remade. The store is an execution setting like the backend: never in a recipe, never a
changed byte. synth never deletes anything in it; remove the prefix when done.
"""

from __future__ import annotations

import os
from pathlib import Path

from synth.errors import UserError
from synth.store.shards import rows_in, write_bytes_atomic


class ObjectStore:
    def __init__(self, url: str):
        import fsspec

        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as error:  # unknown protocol, or its package (e.g. s3fs) not installed
            raise UserError(f"--store {url}: {error}") from None
        self.root = root.rstrip("/")
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def key(self, name: str, kind: str, filename: str) -> str:
        return f"{self.root}/{name}/{kind}/{filename}"

    def check(self) -> None:
        """One line, exit 2, before any work starts: a store that cannot be reached, written or authenticated."""
        try:
            if self.local:
                self.fs.makedirs(self.root, exist_ok=True)
            else:
                self.fs.info(self.root.split("/")[0])  # the bucket: missing, unreachable or not ours fails here
        except Exception as error:
            raise UserError(f"--store {self.url}: not usable ({error.__class__.__name__}: {error})") from None

    def sizes(self, name: str, kind: str) -> dict[str, int]:
        """File name -> size of every object under ``<store>/NAME/KIND``."""
        try:
            entries = self.fs.ls(f"{self.root}/{name}/{kind}", detail=True)
        except FileNotFoundError:
            return {}
        return {Path(e["name"]).name: int(e.get("size") or 0) for e in entries if e.get("type") == "file"}

    def put(self, key: str, data: bytes) -> None:
        if not self.local:
            self.fs.pipe_file(key, data)  # one PUT of the complete object
            return
        self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{key}.{os.getpid()}.tmp"
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, key)

    def get(self, key: str) -> bytes | None:
        try:
            return self.fs.cat_file(key)
        except FileNotFoundError:
            return None

    def copy_out(self, key: str, expected_rows: int, path: Path) -> bool:
        """Copy a stored shard to ``path`` atomically if it is complete; False when missing or damaged."""
        data = self.get(key)
        if data is None or rows_in(data) != expected_rows:
            return False
        write_bytes_atomic(data, path)
        return True


def open_store(url: str | None) -> ObjectStore | None:
    if not url:
        return None
    store = ObjectStore(url)
    store.check()
    return store
