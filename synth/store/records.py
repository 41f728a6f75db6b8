"""The columns of the two shard kinds and the conversion between rows and in-memory samples.

``samples`` shards (written by synthesize) hold what the generator made; ``masks`` shards (written by decode)
hold the decoded mask, its confidence and the mask statistics. Images are stored once, in ``samples``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from synth.core.sample import Sample
from synth.stats import image_stats
from synth.store.codec import decode_array, decode_png, encode_array, encode_image, encode_png

SAMPLES_SCHEMA = pa.schema(
    [
        ("seed", pa.int64()),
        ("prompt", pa.string()),
        ("image", pa.binary()),
        ("mask", pa.binary()),
        ("arrays", pa.map_(pa.string(), pa.binary())),
        ("height", pa.int32()),
        ("width", pa.int32()),
        ("phash", pa.string()),
        ("provenance", pa.string()),
    ]
)

MASKS_SCHEMA = pa.schema(
    [
        ("seed", pa.int64()),
        ("mask", pa.binary()),
        ("confidence", pa.binary()),
        ("provenance", pa.string()),
        ("mask_height", pa.int32()),
        ("mask_width", pa.int32()),
        ("background_fraction", pa.float32()),
        ("ignore_fraction", pa.float32()),
        ("unknown_id_pixels", pa.int32()),
        ("empty", pa.bool_()),
        ("class_fraction", pa.list_(pa.float32())),
        ("class_components", pa.list_(pa.int32())),
        ("class_min_component", pa.list_(pa.int32())),
        ("mean_confidence", pa.float32()),
        # mask-image agreement (synth.agreement): decode computes it with the statistics above
        ("boundary_fscore", pa.float32()),
        ("boundary_precision", pa.float32()),
        ("labels_off_content", pa.float32()),
    ]
)


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sample_row(sample: Sample, image_format: str = "png") -> dict:
    return {
        "seed": sample.seed,
        "prompt": sample.prompt,
        "image": encode_image(sample.image, image_format),
        "mask": None if sample.mask is None else encode_png(sample.mask),
        "arrays": [(k, encode_array(v)) for k, v in sorted(sample.arrays.items())],
        **image_stats(sample.image),
        "provenance": _json({"seed": sample.seed, "prompt": sample.prompt, **sample.provenance}),
    }


def rows_to_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def without_recording(samples: pa.Table, arrays: Iterable[str], provenance: dict[str, Any]) -> pa.Table:
    """A samples table less what a side recording added: ``arrays`` left out of every row's arrays, and each
    ``provenance`` entry set (None: removed). Every other value is kept as it is and the table is rebuilt the way
    ``sample_row`` rows are, so it is the table of the samples made without the recording."""
    dropped = set(arrays)
    rows = samples.to_pylist()
    for row in rows:
        row["arrays"] = [(name, data) for name, data in row["arrays"] or [] if name not in dropped]
        recorded = json.loads(row["provenance"])
        for key, value in provenance.items():
            if value is None:
                recorded.pop(key, None)
            else:
                recorded[key] = value
        row["provenance"] = _json(recorded)
    return rows_to_table(rows, SAMPLES_SCHEMA)


@dataclass
class SampleRecord:
    """One row of a samples shard, decoded lazily: most stages need only some of the columns."""

    seed: int
    prompt: str
    image_png: bytes
    mask_png: bytes | None
    array_bytes: dict[str, bytes]
    provenance: dict
    source: str = ""
    extra: dict = field(default_factory=dict)

    @cached_property
    def image(self) -> np.ndarray:
        return decode_png(self.image_png)

    @cached_property
    def mask(self) -> np.ndarray | None:
        return None if self.mask_png is None else decode_png(self.mask_png)

    def array(self, name: str) -> np.ndarray:
        return decode_array(self.array_bytes[name])


def records_from_table(table: pa.Table, source: Path | str) -> list[SampleRecord]:
    return list(iter_records(table, source))


def iter_records(table: pa.Table, source: Path | str, batch_rows: int = 32) -> Iterator[SampleRecord]:
    """Records one at a time, converted from Arrow a few rows at a time.

    A stage that decodes a whole shard should not hold every record it has finished with: each keeps its
    decoded arrays (``cached_property``), and a shard's worth of them freed only at the end fragments the heap,
    so peak memory grew with the number of shards (decode: +20 MB a shard until the allocator gave back).
    """
    for batch in table.to_batches(max_chunksize=batch_rows):
        for row in batch.to_pylist():
            yield SampleRecord(
                seed=row["seed"],
                prompt=row["prompt"],
                image_png=row["image"],
                mask_png=row["mask"],
                array_bytes=dict(row["arrays"] or []),
                provenance=json.loads(row["provenance"]),
                source=str(source),
            )
