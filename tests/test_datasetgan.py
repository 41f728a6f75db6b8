"""DatasetGAN: the decoder learns from few masks, its uncertainty flags what it has not seen, imports are
all-or-nothing, StyleGAN2 checkpoints load from safetensors only, and DVC runs the whole path on CPU."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_recipe
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))


@pytest.fixture(scope="module")
def torch_one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    from tests.tinymodels import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


def _scenes(seeds: int):
    from fewshot_decoder import scenes_records

    from synth.recipe.load import parse_recipe

    recipe = parse_recipe(tiny_recipe(seeds=[{"start": 0, "stop": seeds}]), "tiny.yaml")
    return recipe, scenes_records(recipe)


def _train(source, recipe, records, members=3):
    from synth.decode.datasetgan.ensemble import TrainSettings, collect_pixels, train_ensemble

    values = [0, *recipe.taxonomy.ids]
    train = {r.seed: r for r in records}
    feats, targets = collect_pixels(source, train, {s: r.mask for s, r in train.items()}, values, 512, seed=0)
    return train_ensemble(feats, targets, values, TrainSettings(members=members, batch_size=128, max_epochs=15))


def _miou(ensemble, source, records, recipe, predict=None):
    from fewshot_decoder import confusion, miou

    from synth.decode.datasetgan.ensemble import label_image

    values = [0, *recipe.taxonomy.ids]
    conf = 0
    for r in records:
        pred = predict(r) if predict else label_image(ensemble, source.maps(r), 64, 64).mask
        conf = conf + confusion(pred, r.mask, values)
    return miou(conf)


def test_decoder_learns_from_few_masks(torch_one_thread):
    """Twelve annotated scenes samples -> held-out mIoU far above predicting the most common class."""
    from synth.decode.datasetgan.features.sources import RandomConvFeaturesConfig

    recipe, records = _scenes(24)
    source = RandomConvFeaturesConfig().build()
    ensemble = _train(source, recipe, records[:12])
    held_out = records[12:]
    score = _miou(ensemble, source, held_out, recipe)
    chance = _miou(None, None, held_out, recipe, predict=lambda r: np.zeros_like(r.mask))
    assert chance < 0.3
    assert score > chance + 0.4, (score, chance)


def test_decoder_learns_on_sd_unet_features(torch_one_thread, tiny_sd):
    """The real SD path (hooks on a random-weight tiny UNet): weak features, still clearly above chance."""
    from synth.decode.datasetgan.features.sd_unet import SDUnetFeaturesConfig

    recipe, records = _scenes(24)
    source = SDUnetFeaturesConfig(model=str(tiny_sd), timesteps=[50, 150]).build()
    assert source.dim == (64 + 32) * 2
    ensemble = _train(source, recipe, records[:12])
    held_out = records[12:]
    score = _miou(ensemble, source, held_out, recipe)
    chance = _miou(None, None, held_out, recipe, predict=lambda r: np.zeros_like(r.mask))
    assert score > chance + 0.1, (score, chance)


def test_ensemble_weights_do_not_depend_on_the_callers_thread_count():
    """Training computes on one thread (synth.core.torch_runtime.NUMERICS_THREADS) and restores the caller's."""
    import torch

    from synth.decode.datasetgan.ensemble import TrainSettings, train_ensemble

    generator = torch.Generator().manual_seed(0)
    features = torch.randn(3000, 16, generator=generator).half()
    targets = (features[:, 0] > 0).long() + (features[:, 1] > 0).long()
    settings = TrainSettings(members=2, batch_size=64, max_epochs=2)
    weights, computed_on = [], []

    def log(message: str) -> None:
        computed_on.append(torch.get_num_threads())

    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            ensemble = train_ensemble(features, targets, [0, 1, 2], settings, log)
            assert torch.get_num_threads() == threads
            weights.append([m.state_dict() for m in ensemble.members])
    finally:
        torch.set_num_threads(before)
    assert computed_on == [1] * 4  # after each member, with the caller at 2 threads and then at 1
    for two, one in zip(*weights, strict=True):
        assert all(torch.equal(two[k], one[k]) for k in two)


def test_members_trained_in_worker_processes_have_the_one_process_weights():
    """train-decoder trains members side by side in one-thread processes; each seeds all it draws."""
    import torch

    from synth.decode.datasetgan.ensemble import TrainSettings, train_ensemble

    generator = torch.Generator().manual_seed(1)
    features = torch.randn(2000, 16, generator=generator).half()
    targets = (features[:, 0] > 0).long() + (features[:, 1] > 0).long()
    settings = TrainSettings(members=3, batch_size=64, max_epochs=2)
    logged: list[str] = []
    one = train_ensemble(features, targets, [0, 1, 2], settings)
    in_workers = train_ensemble(features, targets, [0, 1, 2], settings, logged.append, workers=2)
    assert [s.epochs for s in in_workers.stats] == [s.epochs for s in one.stats]
    for a, b in zip(one.members, in_workers.members, strict=True):
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert [line.split(":")[0] for line in logged] == ["member 1/3", "member 2/3", "member 3/3"]
    assert not torch.equal(one.members[0][0].weight, one.members[1][0].weight)  # members do differ


def test_out_of_distribution_sample_is_more_uncertain(torch_one_thread):
    from synth.decode.datasetgan.ensemble import label_image
    from synth.decode.datasetgan.features.sources import RandomConvFeaturesConfig
    from synth.store.codec import encode_png
    from synth.store.records import SampleRecord

    recipe, records = _scenes(24)
    source = RandomConvFeaturesConfig().build()
    ensemble = _train(source, recipe, records[:12], members=5)
    clean = [label_image(ensemble, source.maps(r), 64, 64).uncertainty for r in records[12:]]
    noise = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    corrupted = SampleRecord(999, "noise", encode_png(noise), None, {}, {})
    score = label_image(ensemble, source.maps(corrupted), 64, 64).uncertainty
    assert score > max(clean), (score, sorted(clean))


def test_jensen_shannon_is_zero_when_members_agree():
    import torch

    from synth.decode.datasetgan.ensemble import Ensemble, make_mlp

    torch.manual_seed(0)
    member = make_mlp(4, 3).eval()
    same = Ensemble([member, member], torch.zeros(4), torch.ones(4), [0, 1, 2])
    pred = same.predict(torch.randn(50, 4))
    assert float(pred.js.max()) < 1e-6
    other = Ensemble([member, make_mlp(4, 3).eval()], torch.zeros(4), torch.ones(4), [0, 1, 2])
    assert float(other.predict(torch.randn(50, 4) * 5).js.mean()) > 1e-3


def test_pixel_features_equal_dense_upsampling():
    import torch

    from synth.decode.datasetgan.features.base import dense_features, pixel_features

    maps = [torch.randn(5, 8, 8), torch.randn(3, 16, 16), torch.randn(2, 64, 64)]
    dense = dense_features(maps, 64, 64)
    ys, xs = torch.tensor([0, 7, 31, 63]), torch.tensor([63, 0, 17, 5])
    assert torch.allclose(pixel_features(maps, ys, xs, 64, 64), dense[ys, xs], atol=1e-5)


def test_greedy_export_covers_every_class():
    from synth.decode.datasetgan.annotations import pick_covering

    presence = {0: {1}, 1: {1}, 2: {1, 2}, 3: {3}, 4: {1}, 5: {1, 3}}
    picked = pick_covering(presence, 2, [1, 2, 3])
    assert set().union(*(presence[s] for s in picked)) == {1, 2, 3}


def test_export_by_drawn_items_covers_every_class_in_several_items():
    """Picking by what is drawn (one entry per item): every class in at least two items when the pool allows,
    and a sample showing two items of a rare class counts twice."""
    from synth.decode.datasetgan.annotations import pick_covering

    drawn = {0: [1], 1: [1, 2], 2: [2], 3: [3, 3], 4: [1, 1], 5: [2, 1], 6: [3]}
    picked = pick_covering(drawn, 4, [1, 2, 3])
    items = [c for s in picked for c in drawn[s]]
    assert all(items.count(c) >= 2 for c in (1, 2, 3)), (picked, items)
    assert 3 in picked  # the two-item sample of the rarest class


# ----------------------------------------------------------------- import / export through the CLI


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    Image.fromarray(array.astype(np.uint8), mode=mode).save(path)


def _labelme(path: Path, label: str, size: int = 64) -> None:
    shape = {"label": label, "points": [[4, 4], [40, 6], [30, 50]], "shape_type": "polygon"}
    path.write_text(
        json.dumps({"shapes": [shape], "imageHeight": size, "imageWidth": size, "imagePath": f"{path.stem}.png"})
    )


def test_import_rejects_bad_files_and_imports_nothing(project):
    folder = project.root / "handback"
    folder.mkdir()
    good = np.zeros((64, 64), np.uint8)
    good[10:20, 10:30] = 1
    _png(folder / "seed-000001.png", good)
    _png(folder / "seed-000002.png", np.zeros((32, 64), np.uint8))  # wrong size
    bad_id = good.copy()
    bad_id[0, 0] = 7
    _png(folder / "seed-000003.png", bad_id)  # class 7 not in the taxonomy
    _png(folder / "seed-009999.png", good)  # seed outside 0..39
    _labelme(folder / "seed-000004.json", "bus")  # unknown label
    result = project.synth("annotate", "import", "tiny", str(folder), check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert any("seed-000002.png" in line and "size 64x32" in line for line in lines)
    assert any("seed-000003.png" in line and "[7]" in line for line in lines)
    assert any("seed-009999.png" in line and "seed 9999" in line for line in lines)
    assert any("seed-000004.json" in line and "'bus'" in line for line in lines)
    assert "Traceback" not in result.stderr
    assert not (project.root / "annotations" / "tiny").exists()


def test_import_png_labelme_and_cvat(project):
    folder = project.root / "handback"
    folder.mkdir()
    mask = np.zeros((64, 64), np.uint8)
    mask[5:25, 5:40] = 1
    mask[15:20, 10:15] = 2
    _png(folder / "seed-000001.png", mask)
    _labelme(folder / "seed-000002.json", "tree")
    project.synth("annotate", "import", "tiny", str(folder))
    cvat = project.root / "cvat"
    (cvat / "SegmentationClass").mkdir(parents=True)
    (cvat / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:250,50,83::\nwheel:10,200,10::\n"
    )
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[30:50, 30:60] = (250, 50, 83)
    colour[40:45, 35:40] = (10, 200, 10)
    _png(cvat / "SegmentationClass" / "seed-000003.png", colour)
    project.synth("annotate", "import", "tiny", str(cvat))

    from synth.decode.datasetgan.annotations import load_annotations
    from synth.recipe import load_recipe

    stored = load_annotations(load_recipe("tiny", project.root).context(), project.root)
    assert sorted(stored) == [1, 2, 3]
    assert np.array_equal(stored[1], mask)
    assert set(np.unique(stored[2])) == {0, 3}
    assert stored[3][42, 37] == 2 and stored[3][31, 31] == 1 and stored[3][0, 0] == 0
    manifest = json.loads((project.root / "annotations" / "tiny" / "manifest.json").read_text())
    assert [e["source"].split(":")[0] for e in manifest["annotations"]] == ["png", "labelme", "cvat-mask-1.1"]


def test_export_writes_images_and_guide(decoded_project):
    project = decoded_project  # the tiny recipe synthesized (and decoded)
    out = project.root / "handout"
    project.synth("annotate", "export", "tiny", "--count", "5", "--out", str(out))
    images = sorted((out / "images").glob("seed-*.png"))
    assert len(images) == 5
    guide = json.loads((out / "guide.json").read_text())
    assert [c["name"] for c in guide["classes"]] == ["background", "car", "wheel", "tree"]
    assert "car:230,25,75::" in (out / "labelmap.txt").read_text()
    with Image.open(images[0]) as image:
        assert image.size == (64, 64)


# ----------------------------------------------------------------- StyleGAN2


def test_stylegan2_safetensors_round_trip_and_pickle_refusal(tmp_path):
    import torch

    from synth.errors import UserError
    from synth.generate.stylegan2_network import latent_for_seed, load_stylegan2
    from tests.tinymodels import build_tiny_stylegan2

    path = build_tiny_stylegan2(tmp_path / "g.safetensors", resolution=32)
    model = load_stylegan2(path)
    z = latent_for_seed(3, model.z_dim)
    image, features = model(z, 0.7, noise_seed=3)
    assert image.shape == (1, 3, 32, 32)
    assert [f.shape[-1] for f in features] == [4, 8, 8, 16, 16, 32, 32]  # every styled layer, 4 px to 32 px
    again, _ = load_stylegan2(path)(z, 0.7, noise_seed=3)
    assert torch.equal(image, again)

    pickled = tmp_path / "g.pkl"
    torch.save({"config": model.config, "state_dict": model.state_dict()}, pickled)
    with pytest.raises(UserError, match="pickled checkpoint refused"):
        load_stylegan2(pickled)
    allowed, _ = load_stylegan2(pickled, allow_pickle=True)(z, 0.7, noise_seed=3)
    assert torch.equal(image, allowed)


def test_stylegan2_generator_and_features_agree(project, tmp_path):
    import torch

    from tests.tinymodels import build_tiny_stylegan2

    checkpoint = build_tiny_stylegan2(tmp_path / "g.safetensors", resolution=64)
    decode = {"type": "datasetgan", "features": {"type": "stylegan2", "checkpoint": str(checkpoint)}}
    recipe = tiny_recipe(
        generator={"type": "stylegan2", "checkpoint": str(checkpoint)},
        seeds=[{"start": 0, "stop": 4}],
        samples_per_shard=4,
        decode=decode,
    )
    project.write_recipe(recipe)
    project.synth("synthesize", "tiny", "--quiet")

    from synth.decode.datasetgan.features.sources import StyleGAN2FeaturesConfig
    from synth.stages.train_decoder import records_for_seeds

    records = records_for_seeds(project.root, "tiny", {0, 1, 2, 3})
    source = StyleGAN2FeaturesConfig(checkpoint=str(checkpoint)).build()
    maps = source.maps(records[2])
    assert sum(m.shape[0] for m in maps) == source.dim
    _, features = source.model(torch.from_numpy(records[2].array("z"))[None], 0.7, noise_seed=2)
    assert torch.equal(maps[-1], features[-1][0])

    pkl = tiny_recipe(generator={"type": "stylegan2", "checkpoint": "g.pkl"}, decode=decode)
    project.write_recipe(pkl)
    result = project.synth("check", "recipes/tiny.yaml", check=False)
    assert result.returncode == 2 and "allow_pickle" in result.stderr


# ----------------------------------------------------------------- DVC end to end


@pytest.mark.slow
def test_dvc_repro_trains_decodes_and_excludes(project, tiny_sd, monkeypatch):
    """synthesize -> annotate (exact scenes masks play the human) -> dvc repro; new annotations rerun only
    train-decoder and decode of that recipe."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny models: threads only contend on a shared CPU
    decode = {
        "type": "datasetgan",
        "features": {"type": "sd_unet", "model": str(tiny_sd), "timesteps": [50]},
        "ensemble": 2,
        "batch_size": 256,
        "max_epochs": 4,
        "pixels_per_image": 256,
    }
    project.write_recipe(tiny_recipe(decode=decode))
    project.write_recipe(tiny_recipe(name="plain", seeds=[{"start": 0, "stop": 10}]))
    project.use_recipes("tiny", "plain")
    project.commit("datasetgan recipe")
    project.dvc("repro", "synthesize@tiny")
    first = project.dvc("repro", check=False)
    assert first.returncode != 0 and "no annotations yet" in first.stderr + first.stdout

    from synth.recipe import load_recipe
    from synth.stages.train_decoder import records_for_seeds

    records = records_for_seeds(project.root, "tiny", set(range(40)))
    handback = project.root / "handback"
    handback.mkdir()
    for seed in (1, 5, 9, 14):
        _png(handback / f"seed-{seed:06d}.png", records[seed].mask)
    project.synth("annotate", "import", "tiny", str(handback))
    project.dvc("repro")

    decoder = project.root / "data" / "tiny" / "decoder"
    assert (decoder / "ensemble.safetensors").is_file()
    assert json.loads((decoder / "decoder.json").read_text())["annotated_seeds"] == [1, 5, 9, 14]
    assert (project.root / "data" / "plain" / "decoder" / "not-applicable.json").is_file()
    excluded = json.loads((project.root / "data" / "tiny" / "masks" / "excluded.json").read_text())
    assert excluded["samples"] == 40 and excluded["excluded_count"] == 4
    assert all(e["reason"] == "uncertain" for e in excluded["excluded"])
    assert not (project.root / "reports" / "tiny" / "uncertain.json").exists()  # one list, inside a DVC output
    recipe = load_recipe("tiny", project.root)
    assert recipe.decode.type == "datasetgan"

    for seed in (20, 33):
        _png(handback / f"seed-{seed:06d}.png", records[seed].mask)
    project.synth("annotate", "import", "tiny", str(handback))
    again = project.dvc("repro")
    ran = {line.split("'")[1] for line in again.stdout.splitlines() if line.startswith("Running stage")}
    assert {"train-decoder@tiny", "decode@tiny"} <= ran
    assert not ran & {"synthesize@tiny", "synthesize@plain", "decode@plain"}, ran
    assert json.loads((decoder / "decoder.json").read_text())["annotated_seeds"] == [1, 5, 9, 14, 20, 33]
    lineage = json.loads((project.root / "build" / "tiny" / "lineage.json").read_text())
    assert lineage["decoder"]["annotations"] == 6 and lineage["decoder"]["annotated_seeds"] == [1, 5, 9, 14, 20, 33]
    assert (
        "| annotated samples (decoder trained on) | 6 |" in (project.root / "build" / "tiny" / "README.md").read_text()
    )


def test_annotations_of_images_the_generator_no_longer_makes_are_refused(project, tiny_sd):
    """Import records the image each mask annotates; after a generator change train-decoder exits 2 naming the
    file, rather than training the decoder on masks of images that are gone."""
    from synth.decode.datasetgan.annotations import image_digest
    from synth.stages.train_decoder import records_for_seeds

    decode = {
        "type": "datasetgan",
        "features": {"type": "sd_unet", "model": str(tiny_sd), "timesteps": [50]},
        "ensemble": 2,
        "max_epochs": 1,
        "pixels_per_image": 64,
    }
    project.write_recipe(tiny_recipe(decode=decode, seeds=[{"start": 0, "stop": 10}]))
    project.synth("synthesize", "tiny", "--quiet")
    records = records_for_seeds(project.root, "tiny", {1, 5})
    handback = project.root / "handback"
    handback.mkdir()
    for seed in (1, 5):
        _png(handback / f"seed-{seed:06d}.png", records[seed].mask)
    project.synth("annotate", "import", "tiny", str(handback))
    manifest = json.loads((project.root / "annotations" / "tiny" / "manifest.json").read_text())
    assert [e["image_sha256"] for e in manifest["annotations"]] == [image_digest(records[s].image) for s in (1, 5)]

    generator = tiny_recipe()["generator"] | {"min_scale": 0.2, "max_scale": 0.4}  # seed 1 draws other scenes
    project.write_recipe(tiny_recipe(decode=decode, seeds=[{"start": 0, "stop": 10}], generator=generator))
    project.synth("synthesize", "tiny", "--quiet")
    result = project.synth("train-decoder", "tiny", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "annotations/tiny/seed-000001.png" in lines[0], lines
    assert "no longer makes" in lines[0] and "seeds [1, 5]" in lines[0]
    assert not (project.root / "data" / "tiny" / "decoder" / "ensemble.safetensors").exists()


def test_component_vote_gives_each_foreground_region_one_class(torch_one_thread):
    """The per-pixel ensemble vote scatters classes over a region; vote: component leaves where foreground is
    and gives each connected region the class most of its pixels got."""
    from scipy.ndimage import label

    from synth.decode.datasetgan.decoder import DatasetGANConfig, DatasetGANDecoder
    from synth.decode.datasetgan.features.sources import RandomConvFeaturesConfig

    recipe, records = _scenes(10)
    source = RandomConvFeaturesConfig().build()
    ensemble = _train(source, recipe, records[:4], members=2)
    decoded = {}
    for vote in ("pixel", "component"):
        config = DatasetGANConfig(features={"type": "random_conv"}, vote=vote)
        decoder = DatasetGANDecoder(config, recipe.context())
        decoder.ensemble, decoder.source = ensemble, source  # what attach() loads from the decoder folder
        decoded[vote] = [decoder.decode(r).mask for r in records[4:]]
    mixed = 0
    for pixel, voted in zip(decoded["pixel"], decoded["component"]):
        assert np.array_equal(pixel > 0, voted > 0)  # the foreground is the ensemble's
        regions, count = label(voted > 0, structure=np.ones((3, 3), bool))
        for r in range(1, count + 1):
            assert len(np.unique(voted[regions == r])) == 1
            inside = pixel[regions == r]
            mixed += len(np.unique(inside)) > 1
            assert voted[regions == r][0] == np.bincount(inside).argmax()
    assert mixed > 0  # the per-pixel vote did mix classes somewhere, so the vote had work to do


def test_switching_judge_checked_labels_on_keeps_the_trained_ensemble(tmp_path):
    """The judge reads the masks the ensemble makes, never its training: its settings are not in the training
    key (the key with them is the key of before they existed), while a training setting still is."""
    from synth.labelcheck.config import JudgeLabelsSettings
    from synth.recipe.load import load_recipe
    from synth.stages.train_decoder import training_key

    repo = Path(__file__).resolve().parents[1]
    recipe = load_recipe(repo / "recipes/fashion-datasetgan.yaml")
    manifest = {"annotations": [{"seed": 4, "sha256": "0" * 64}]}
    judged = recipe.model_copy(
        update={"decode": recipe.decode.model_copy(update={"judge_labels": JudgeLabelsSettings(min_agreement=0.5)})}
    )
    off = recipe.model_copy(update={"decode": recipe.decode.model_copy(update={"judge_labels": None})})
    assert training_key(judged, tmp_path, manifest) == training_key(off, tmp_path, manifest)
    retrained = off.model_copy(update={"decode": off.decode.model_copy(update={"ensemble": 3})})
    assert training_key(retrained, tmp_path, manifest) != training_key(off, tmp_path, manifest)


def tiny_ensemble(seed: int):
    """A two-member ensemble trained one epoch on random 4-dim features: what a checkpoint test saves."""
    import torch

    from synth.decode.datasetgan.decoder import DatasetGANConfig
    from synth.decode.datasetgan.ensemble import train_ensemble

    generator = torch.Generator().manual_seed(seed)
    features, targets = torch.randn(64, 4, generator=generator), torch.randint(0, 2, (64,), generator=generator)
    settings = DatasetGANConfig(features={"type": "captured"}, ensemble=2, max_epochs=1).train_settings()
    return train_ensemble(features, targets, [0, 1], settings, lambda m: None)


def test_the_masks_key_names_the_ensembles_contents_not_its_header_order(tmp_path):
    """safetensors writes metadata keys in a per-process order: the same ensemble saved by two processes differs
    in its header bytes, and a key of the file bytes re-decoded every shard on a fresh clone."""
    import json as _json
    import struct

    from synth.decode.datasetgan.ensemble import Ensemble

    ensemble = tiny_ensemble(seed=0)
    first = tmp_path / "a.safetensors"
    ensemble.save(first, extra={"key": "k", "dim": 4})
    data = first.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = _json.loads(data[8 : 8 + size])
    header["__metadata__"] = dict(reversed(list(header["__metadata__"].items())))  # another process's order
    text = _json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (size - len(text))  # safetensors pads the header with spaces
    second = tmp_path / "b.safetensors"
    second.write_bytes(struct.pack("<Q", size) + text + data[8 + size :])
    assert first.read_bytes() != second.read_bytes()
    assert Ensemble.load(second)[0].values == [0, 1]
    assert Ensemble.content_digest(first) == Ensemble.content_digest(second)
    ensemble.members[0].state_dict()[next(iter(ensemble.members[0].state_dict()))].add_(1.0)
    ensemble.save(second, extra={"key": "k", "dim": 4})
    assert Ensemble.content_digest(first) != Ensemble.content_digest(second)


def test_the_ensemble_file_is_the_same_bytes_whatever_the_header_order(tmp_path):
    """DVC hashes files: an ensemble saved with another metadata order must be the same bytes, or every fresh
    clone sees a changed data/NAME and reruns the evaluation (it did, before the header was canonicalised)."""
    import json as _json
    import struct

    import torch
    from safetensors import safe_open
    from safetensors.torch import save

    from synth.decode.datasetgan.ensemble import Ensemble, canonical_safetensors

    path = tmp_path / "e.safetensors"
    tiny_ensemble(seed=1).save(path, extra={"key": "k", "dim": 4})
    data = path.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = _json.loads(data[8 : 8 + size])
    assert list(header) == sorted(header) and list(header["__metadata__"]) == sorted(header["__metadata__"])
    assert size % 8 == 0
    # The same tensors and metadata, written by safetensors in two orders, canonicalise to one file.
    tensors = {"b": torch.ones(3), "a": torch.arange(4.0)}
    one = save(tensors, metadata={"x": "1", "y": "2", "format": "f"})
    two = save(dict(reversed(tensors.items())), metadata={"format": "f", "y": "2", "x": "1"})
    length = struct.unpack("<Q", one[:8])[0]
    entries = list(_json.loads(one[8 : 8 + length]).items())
    flipped = _json.dumps(dict(reversed(entries)), separators=(",", ":")).encode()  # tensor entries reordered too
    reordered = struct.pack("<Q", len(flipped)) + flipped + one[8 + length :]
    assert canonical_safetensors(one) == canonical_safetensors(two) == canonical_safetensors(reordered)
    (tmp_path / "c.safetensors").write_bytes(canonical_safetensors(reordered))
    with safe_open(str(tmp_path / "c.safetensors"), framework="pt") as handle:
        assert handle.metadata() == {"x": "1", "y": "2", "format": "f"}
        assert torch.equal(handle.get_tensor("a"), torch.arange(4.0)) and torch.equal(
            handle.get_tensor("b"), torch.ones(3)
        )
    assert Ensemble.load(path)[0].values == [0, 1]
