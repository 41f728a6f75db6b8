"""Fashion-MNIST scenes: the split reader, masks, compositions, the committed real sets and split disjointness."""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synth.errors import UserError
from synth.realdata import fashion_mnist as fm

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "real" / "fashion-mnist"
needs_raw = pytest.mark.skipif(
    not (fm.DEFAULT_ROOT / "t10k-images-idx3-ubyte.gz").exists(),
    reason="apt-get install dataset-fashion-mnist",
)


def _hashes(images: np.ndarray) -> set[str]:
    return {hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() for x in images}


@needs_raw
def test_load_split_shapes_and_labels():
    images, labels = fm.load_split("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))
    assert len(fm.CLASS_NAMES) == 10


def test_missing_and_corrupt_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=re.escape("t10k-images-idx3-ubyte.gz: Fashion-MNIST file not found")):
        fm.load_split("test", tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match=re.escape("t10k-images-idx3-ubyte.gz: not a readable gzip")):
        fm.load_split("test", tmp_path)
    header = (2051).to_bytes(4, "big") + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(UserError, match="truncated or corrupt"):
        fm.load_split("test", tmp_path)
    with pytest.raises(UserError, match="split"):
        fm.load_split("validation", tmp_path)


def test_item_mask_fills_holes():
    ring = np.zeros((28, 28), np.uint8)
    ring[5:20, 5:20] = 200
    ring[9:15, 9:15] = 0
    mask = fm.item_mask(ring)
    assert mask[5:20, 5:20].all() and mask.sum() == 15 * 15


def _synthetic_split(n=30):
    rng = np.random.default_rng(0)
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 4:24, 6:22] = rng.integers(60, 255, size=(n, 20, 16), dtype=np.uint8)
    return images, np.arange(n, dtype=np.int64) % 10


def test_compose_masks_match_items_and_captions_name_them():
    images, labels = _synthetic_split()
    for i in range(40):
        c = fm.compose(images, labels, np.random.default_rng(i))
        assert c.image.shape == (64, 64, 3) and c.mask.shape == (64, 64)
        assert (c.image[..., 0] == c.image[..., 1]).all() and (c.image[..., 1] == c.image[..., 2]).all()
        assert 1 <= len(c.labels) <= 3 and c.labels == [int(labels[j]) for j in c.source_indices]
        assert set(np.unique(c.mask)) - {0} <= {label + 1 for label in c.labels}
        assert (c.image[..., 0][c.mask == 0] == 0).all()  # every lit pixel belongs to an item
        visible = {int(v) - 1 for v in np.unique(c.mask) if v}
        assert visible == set(c.labels)  # placement keeps every named item visible
        for label in set(c.labels):
            assert fm.CLASS_NAMES[label].split()[-1][:5] in c.caption
        assert not {"left", "right", "top of", "above", "below", "corner"} & set(c.caption.split())


@needs_raw
def test_make_compositions_is_deterministic_per_item():
    a = fm.make_compositions("train", 5, seed=3)
    b = fm.make_compositions("train", 8, seed=3)
    for x, y in zip(a, b):
        assert (x.image == y.image).all() and (x.mask == y.mask).all() and x.caption == y.caption
    assert not all((x.image == y.image).all() for x, y in zip(a, fm.make_compositions("train", 5, seed=4)))


@needs_raw
def test_no_test_image_in_any_training_composition():
    """Pixel content, not indices: every source image of a training composition (the committed train set and
    the streams the generator trains on) hashes differently from every test-split image."""
    test_hashes = _hashes(fm.load_split("test")[0])
    train_images, _ = fm.load_split("train")
    real_train = fm.load_real_set(REAL / "train.parquet")
    assert set(real_train.source_split) == {"train"}
    sources = [i for row in real_train.source_indices for i in row]
    sources += [i for c in fm.make_compositions("train", 3000, seed=0) for i in c.source_indices]
    assert len(sources) > 5000
    used = _hashes(train_images[sorted(set(sources))])
    assert used and not used & test_hashes
    # and the Fashion-MNIST files themselves: no train image is a byte copy of a test image at all
    assert not _hashes(train_images) & test_hashes


@needs_raw
def test_committed_sets_are_what_the_command_writes():
    """The committed files hold exactly the canvases composed from their split (so the split column is true)."""
    for name, split, seed in (("eval.parquet", "test", fm.EVAL_SEED), ("train.parquet", "train", fm.TRAIN_SEED)):
        real = fm.load_real_set(REAL / name)
        assert len(real) == 1000 and set(real.source_split) == {split}
        again = fm.make_compositions(split, 50, seed)
        for k in range(50):
            assert (real.images[k] == again[k].image).all() and (real.masks[k] == again[k].mask).all()
            assert real.captions[k] == again[k].caption and real.source_indices[k] == again[k].source_indices


def test_committed_sets_load_without_the_raw_files():
    real = fm.load_real_set(REAL / "eval.parquet")
    assert real.images.shape == (1000, 64, 64, 3) and real.masks.shape == (1000, 64, 64)
    assert real.masks.max() <= 10 and len(real.captions) == 1000
    assert "MIT" in (REAL / "README.md").read_text()


def test_load_real_set_bad_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        fm.load_real_set(tmp_path / "nope.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"garbage")
    with pytest.raises(UserError, match=re.escape("bad.parquet: not a readable Parquet")):
        fm.load_real_set(tmp_path / "bad.parquet")


@needs_raw
def test_cli_writes_sets_and_rejects_bad_root(tmp_path):
    run = [sys.executable, "-m", "synth", "real-data", "fashion-mnist"]
    args = [*run, "--out", str(tmp_path / "out"), "--count", "4"]
    done = subprocess.run(args, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(fm.load_real_set(tmp_path / "out" / "eval.parquet")) == 4
    args = [*run, "--out", str(tmp_path / "x"), "--root", str(tmp_path)]
    bad = subprocess.run(args, check=False, capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "t10k-images-idx3-ubyte.gz" in bad.stderr
    assert not (tmp_path / "x" / "eval.parquet").exists()
