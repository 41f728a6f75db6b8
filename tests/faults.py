"""Fault injection for the Ray tests: a worker dies once, mid-shard, and production code knows nothing of it.

The test clusters start with ``runtime_env(spec)``: Ray runs ``install`` in every worker process before it takes
work. ``install`` wraps the two ways a worker delivers a finished shard, the atomic write into the shared folder
(it dies after the temporary file is complete, before the rename) and the single PUT into an object store (it
dies before the PUT). A test arms it with ``killing(spec, index, marker)``: the first worker about to deliver
shard ``index`` writes where it was into ``marker`` and exits with ``os._exit(1)``, as a killed machine would.
The driver process never runs ``install``, so the driver's own writes (the local backend, copies out of a
store) are never touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SPEC_ENV = "SYNTH_TEST_FAULT_SPEC"  # path of the file that holds "<shard index>:<marker file>" while armed
ROOT = Path(__file__).resolve().parents[1]
_INDEX = re.compile(r"shard-(\d{5})-")


def runtime_env(spec: Path) -> dict:
    """What ``ray.init(runtime_env=...)`` needs so that every worker installs the fault hooks."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"worker_process_setup_hook": "tests.faults.install", "env_vars": {SPEC_ENV: str(spec), "PYTHONPATH": path}}


@contextmanager
def killing(spec: Path, index: int, marker: Path) -> Iterator[None]:
    """Arm the hook for shard ``index`` while the block runs; ``marker`` appears when a worker died for it."""
    spec.write_text(f"{index}:{marker}")
    try:
        yield
    finally:
        spec.unlink(missing_ok=True)


def install() -> None:
    """Runs in each Ray worker at start-up (``worker_process_setup_hook``)."""
    from synth.backends import ray_backend
    from synth.store import objects, shards

    original_write, original_put = shards.write_atomic, objects.ObjectStore.put

    def write_atomic(table, path: Path, before_rename=None) -> None:
        def hook(tmp: Path) -> None:
            _die_if_armed(Path(path).name, tmp)
            if before_rename is not None:
                before_rename(tmp)

        original_write(table, path, before_rename=hook)

    def put(self, key: str, data: bytes) -> None:
        _die_if_armed(key.rpartition("/")[2], key)
        original_put(self, key, data)

    shards.write_atomic = write_atomic
    ray_backend.write_atomic = write_atomic
    objects.ObjectStore.put = put


def _die_if_armed(filename: str, where: object) -> None:
    spec = Path(os.environ.get(SPEC_ENV, ""))
    if not spec.name or not spec.is_file():
        return
    index, _, marker = spec.read_text().partition(":")
    match = _INDEX.match(filename)
    if match and int(match.group(1)) == int(index) and not Path(marker).exists():
        Path(marker).write_text(str(where))
        os._exit(1)  # the worker dies mid-shard: its temporary file is written (or no PUT made), the shard is not
