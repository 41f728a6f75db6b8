"""The Fashion-MNIST recipes and the scripted annotator: the recipes pass ``synth check`` and are wired into
``dvc repro``; the annotator labels components with its classifier's class; the annotation script goes through
``annotate export/import`` and trains the DatasetGAN decoder, here on a tiny random-weight pipeline of the
fashion model's layout (64 px, VAE factor 4, 16x16 latents)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from synth.realdata import fashion_mnist as fm
from synth.realdata.annotator import Annotator, build_classifier, crop28, save_classifier
from tests.tinymodels import save_tiny_sd

REPO = Path(__file__).resolve().parents[1]
needs_raw = pytest.mark.skipif(
    not (fm.DEFAULT_ROOT / "train-images-idx3-ubyte.gz").exists(), reason="apt-get install dataset-fashion-mnist"
)


def test_fashion_recipes_pass_check_and_are_built_and_scored_by_default():
    result = subprocess.run(
        [sys.executable, "-m", "synth", "check", "recipes/fashion.yaml", "recipes/fashion-datasetgan.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert {"fashion", "fashion-datasetgan"} <= set(params["recipes"])  # the evaluate stage runs for every recipe
    for name in ("fashion", "fashion-datasetgan"):
        recipe = yaml.safe_load((REPO / "recipes" / f"{name}.yaml").read_text())
        classes = recipe["taxonomy"]["classes"]
        assert [c["id"] for c in classes] == list(range(1, 11))
        assert [c["prompt"] for c in classes] == list(fm.CLASS_NAMES)  # the words the model was trained on
        assert len({c["color"] for c in classes}) == 10
        assert (REPO / recipe["evaluate"]["eval"]["path"]).is_file() and (
            REPO / recipe["evaluate"]["reference"]["path"]
        ).is_file()


def _canvas() -> np.ndarray:
    image = np.zeros((64, 64), np.uint8)
    image[4:24, 4:14] = 200  # an item
    image[8:12, 8:10] = 0  # with a hole: filled, as Fashion-MNIST masks are
    image[30:60, 30:50] = 120  # another item
    image[40:44, 2:4] = 90  # a speck below MIN_PIXELS: background
    image[62, 62] = 10  # below the threshold: background
    return np.repeat(image[:, :, None], 3, axis=2)


def test_annotator_labels_each_component_with_its_classifier_class():
    import torch

    torch.manual_seed(0)
    classifier = build_classifier().eval()
    image = _canvas()
    mask = Annotator(classifier).annotate(image)
    grey = image.mean(axis=2)
    first, second = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    first[4:24, 4:14], second[30:60, 30:50] = True, True
    assert ((mask > 0) == (first | second)).all()
    with torch.no_grad():
        expected = [
            int(classifier(torch.from_numpy(crop28(grey, c).astype(np.float32) / 255.0)[None, None]).argmax()) + 1
            for c in (first, second)
        ]
    assert set(np.unique(mask[first])) == {expected[0]} and set(np.unique(mask[second])) == {expected[1]}


def test_crop28_frames_a_component_like_a_fashion_mnist_photo():
    grey = np.zeros((64, 64))
    grey[10:40, 20:30] = 255.0  # 30 tall, 10 wide
    crop = crop28(grey, grey > 0)
    rows, cols = np.nonzero(crop > 127)
    assert crop.shape == (28, 28) and rows.min() <= 1 and rows.max() >= 26  # the long side spans the frame
    assert 8 <= cols.min() <= 10 and 17 <= cols.max() <= 19  # centred


@needs_raw
def test_classifier_trained_on_train_split_recognises_framed_test_items():
    from synth.realdata.annotator import classifier_accuracy, train_classifier

    model = train_classifier(epochs=1, limit=3000)
    assert classifier_accuracy(model, limit=1000) > 0.6  # chance is 0.1; the full training reaches ~0.87


def fashion_tiny_recipe(model: Path, name: str = "fashion-datasetgan") -> dict:
    data = yaml.safe_load((REPO / "recipes" / f"{name}.yaml").read_text())
    data["generator"].update(model=str(model), steps=3, batch_size=4)
    if "features" in data["generator"]:
        data["generator"]["features"]["timesteps"] = [100, 500, 900]  # three distinct steps of a 3-step schedule
    data["seeds"] = [{"start": 0, "stop": 8}]
    data["samples_per_shard"] = 4
    if data["decode"]["type"] == "datasetgan":
        data["decode"].update(ensemble=2, max_epochs=1, pixels_per_image=256)
    return data


def test_annotation_script_exports_labels_imports_and_trains_the_decoder(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    from annotate_fashion import annotate_recipe

    from synth.decode.datasetgan.annotations import load_annotations
    from synth.recipe import load_recipe
    from synth.stages.decode import decode
    from synth.stages.synthesize import synthesize
    from synth.stages.train_decoder import train_decoder

    model = save_tiny_sd(tmp_path / "tiny-sd", vae_factor=4)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "fashion-datasetgan.yaml").write_text(yaml.safe_dump(fashion_tiny_recipe(model)))
    recipe = load_recipe("fashion-datasetgan", tmp_path)
    synthesize(recipe, tmp_path, show_progress=False)
    classifier = save_classifier(build_classifier(), tmp_path / "classifier.safetensors")
    # A random-weight model draws no separate items, so pick by the prompts (--by prompt); --by drawn is below.
    stored = annotate_recipe("fashion-datasetgan", 4, tmp_path / "work", classifier, root=tmp_path, by="prompt")
    assert len(stored) == 4 and sorted((tmp_path / "work" / "masks").glob("seed-*.png"))
    annotations = load_annotations(recipe.context(), tmp_path)
    assert sorted(annotations) == stored and all(m.shape == (64, 64) for m in annotations.values())
    manifest = json.loads((tmp_path / "annotations" / "fashion-datasetgan" / "manifest.json").read_text())
    assert [e["seed"] for e in manifest["annotations"]] == stored
    train_decoder(recipe, tmp_path)
    decode(recipe, tmp_path, show_progress=False)
    assert (tmp_path / "data" / "fashion-datasetgan" / "decoder" / "ensemble.safetensors").is_file()


def test_annotation_script_without_samples_exits_2(tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "fashion-datasetgan.yaml").write_text(
        yaml.safe_dump(fashion_tiny_recipe(tmp_path / "no-model"))
    )
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "annotate_fashion.py"),
            "fashion-datasetgan",
            "--classifier",
            str(tmp_path / "c.safetensors"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)},
    )
    assert result.returncode == 2 and "no samples shards" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c.safetensors").exists()  # refused before training the classifier
