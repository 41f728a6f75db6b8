"""The encoders behind synthesize: where the work runs must never change a byte, lose an error or leave a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pytest

from synth.generate.prompts import plan_sample
from synth.recipe import Recipe
from synth.store import encoder as encoder_module
from synth.store.encoder import ProcessEncoder, ThreadEncoder
from tests.conftest import tiny_recipe


def samples(count: int, start: int = 0):
    recipe = Recipe.model_validate(tiny_recipe())
    generator = recipe.generator.build(recipe.context())
    return generator.generate([plan_sample(recipe.context(), seed) for seed in range(start, start + count)])


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
@pytest.mark.parametrize("queue_bytes", [encoder_module.IN_FLIGHT_BYTES, 1], ids=["child encodes", "both encode"])
def test_process_and_thread_give_equal_tables_shard_after_shard(image_format, queue_bytes, monkeypatch):
    monkeypatch.setattr(encoder_module, "IN_FLIGHT_BYTES", queue_bytes)  # 1: the parent encodes whatever it can
    shards = [samples(5), samples(3, start=5)]
    tables = {}
    for kind in (ThreadEncoder, ProcessEncoder):
        with kind(image_format) as encoder:
            futures = []
            for shard in shards:  # the second shard is queued before the first table is read
                for sample in shard:
                    encoder.put(sample)
                futures.append(encoder.finish())
            tables[kind] = [future.result() for future in futures]
    for thread_table, process_table in zip(tables[ThreadEncoder], tables[ProcessEncoder]):
        assert isinstance(process_table, pa.Table)
        assert process_table.equals(thread_table) and process_table.num_rows in (5, 3)


def test_an_error_in_the_child_fails_that_shard_and_not_the_next(monkeypatch):
    monkeypatch.setattr(encoder_module, "_PROBES", 0)  # every sample goes to the child
    good, bad = samples(2)
    bad.image = np.zeros((4, 4, 3), dtype=np.float64)  # no image format takes float pixels
    with ProcessEncoder("png") as encoder:
        encoder.put(good)
        encoder.put(bad)
        with pytest.raises(TypeError):
            encoder.finish().result()
        encoder.put(good)
        assert encoder.finish().result().num_rows == 1


def test_an_error_in_a_probe_is_raised_where_the_sample_is_put():
    bad = samples(1)[0]
    with ProcessEncoder("bmp") as encoder, pytest.raises(ValueError, match="unknown image format"):
        encoder.put(bad)


CHILD_OF_KILLED = """
import sys, time
from synth.store.encoder import ProcessEncoder
encoder = ProcessEncoder("png")
print(encoder._process.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_child_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", CHILD_OF_KILLED], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and alive(child):
        time.sleep(0.05)
    assert not alive(child)


def alive(pid: int) -> bool:
    """True while the process runs; an exited child of a dead parent is reaped by init, or is a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
