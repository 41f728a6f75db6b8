"""The committed fashion model's files, and the training code on a tiny budget (tests/test_fashion_model.py runs
the model through a recipe)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from synth.realdata import fashion_mnist as fm

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "fashion-sd"
needs_raw = pytest.mark.skipif(
    not (fm.DEFAULT_ROOT / "train-images-idx3-ubyte.gz").exists(), reason="apt-get install dataset-fashion-mnist"
)


def test_committed_model_is_a_small_fp16_pipeline():
    index = json.loads((MODEL / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    weights = list(MODEL.rglob("*.safetensors"))
    assert {w.parent.name for w in weights} == {"unet", "vae", "text_encoder"}
    assert sum(w.stat().st_size for f in [MODEL] for w in f.rglob("*") if w.is_file()) <= 40 * 2**20
    from safetensors import safe_open

    with safe_open(str(MODEL / "unet" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert all(f.get_slice(k).get_dtype() == "F16" for k in list(f.keys()))


@pytest.mark.slow
@needs_raw
def test_training_runs_end_to_end_and_saves_a_loadable_pipeline(tmp_path):
    from diffusers import StableDiffusionPipeline

    from synth.train_generator.train import TrainGeneratorConfig, train_generator

    cfg = TrainGeneratorConfig(
        out="out",
        checkpoints="ck",
        bpe=str(REPO / "models/clip-bpe/bpe_simple_vocab_16e6.txt.gz"),
        compositions=64,
        vae_steps=2,
        unet_steps=2,
        unet_batch=4,
        vae_batch=4,
        checkpoint_every=1,
        ema_decay=0.999,
        snr_gamma=5.0,
    )
    summary = train_generator(cfg, tmp_path, log=lambda m: None)
    assert (
        summary["unet_steps_done"] == 2 and summary["ema_decay"] == 0.999 and (tmp_path / "ck" / "step-00001").is_dir()
    )
    pipe = StableDiffusionPipeline.from_pretrained(tmp_path / "out")
    assert pipe.vae_scale_factor == 4 and pipe.unet.config.sample_size == 16
    assert pipe.tokenizer("a sneaker").input_ids == [49406, 320, 24781, 49407]  # CLIP's own BPE ids


@needs_raw
def test_generator_training_data_holds_no_test_image():
    """Pixel content: the images the generator trains on hash differently from every test-split image."""
    from synth.train_generator.data import make_train_set

    test_hashes = {hashlib.sha256(x.tobytes()).hexdigest() for x in fm.load_split("test")[0]}
    train_images = fm.load_split("train")[0]
    data = make_train_set(500, seed=0, item_mix=(0.4, 0.35, 0.25), root=fm.DEFAULT_ROOT)
    used = {hashlib.sha256(train_images[i].tobytes()).hexdigest() for row in data.source_indices for i in row}
    assert len(used) > 500 and not used & test_hashes
    assert {len(row) for row in data.labels} == {1, 2, 3}


def test_token_spans_find_each_class_word():
    from transformers import CLIPTokenizer

    from synth.train_generator.data import TokenSpans

    tokenizer = CLIPTokenizer.from_pretrained(MODEL / "tokenizer")
    spans = TokenSpans(tokenizer)
    ids = tokenizer("two ankle boots and a bag; ankle boot bag").input_ids
    assert spans.find(ids, 9) == [2, 3, 8, 9]  # "ankle boots" and "ankle boot"
    assert spans.find(ids, 8) == [6, 10]
    assert spans.find(ids, 7) == []
