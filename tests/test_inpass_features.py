"""DatasetGAN on features recorded during Stable Diffusion generation (tiny random-weight SD, offline):
the hooks fire inside the pipeline call, what is stored is what the pass computed, training and decoding never
run the UNet again, the bytes are deterministic, and DVC reruns only what new annotations affect."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
import torch
import yaml

from tests.tinymodels import diffusion_recipe, save_tiny_sd

FEATURES = {"timesteps": [0, 300], "dim": 16}  # the 3-step DDIM schedule runs t = 667, 334, 1


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "model")


@pytest.fixture(scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only contend on a shared CPU
    yield
    torch.set_num_threads(before)


def inpass_recipe(model, **generator) -> dict:
    decode = {
        "type": "datasetgan",
        "features": {"type": "captured"},
        "ensemble": 2,
        "batch_size": 256,
        "max_epochs": 4,
        "pixels_per_image": 512,
        "exclude_uncertain": 0.25,
    }
    recipe = diffusion_recipe(model, decode=decode)
    recipe["generator"]["features"] = dict(FEATURES)
    recipe["generator"].update(generator)
    return recipe


def parse(data: dict):
    from synth.recipe.load import parse_recipe

    return parse_recipe(yaml.safe_load(yaml.safe_dump(data)), f"recipes/{data['name']}.yaml")


def write(root, data: dict) -> None:
    (root / "recipes" / f"{data['name']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_nearest_denoising_step_per_requested_timestep():
    from diffusers import DDIMScheduler

    from synth.errors import UserError
    from synth.generate.unet_features import denoising_timesteps, select_steps

    schedule = denoising_timesteps(DDIMScheduler(steps_offset=1), 50)
    assert select_steps([50, 150, 250], schedule) == [41.0, 141.0, 241.0]  # DDPM-Seg's t on a 50-step DDIM run
    with pytest.raises(
        UserError, match=re.escape("generator.features.timesteps: 50 and 45 both fall on the denoising step at t=41")
    ):
        select_steps([50, 45], schedule)


@pytest.mark.parametrize("guidance", [7.5, 1.0])
def test_stored_features_are_what_the_generation_pass_computed(tiny_sd, one_thread, monkeypatch, guidance):
    """Our own hooks on the same pass see every UNet call inside the pipeline call; the stored map equals the
    definition (every chosen up-block output, conditional half, unit RMS, upsampled, concatenated, projected).
    Without guidance (scale 1) the pipeline runs the conditional branch alone."""
    import torch.nn.functional as F
    from diffusers import StableDiffusionPipeline

    from synth.generate.prompts import plan_sample

    recipe = parse(inpass_recipe(tiny_sd, guidance_scale=guidance))
    generator = recipe.generator.build(recipe.context())
    recorder = generator.features
    inside, calls, outputs = [False], [], {}
    real_call = StableDiffusionPipeline.__call__

    def call(self, *args, **kwargs):
        inside[0] = True
        try:
            return real_call(self, *args, **kwargs)
        finally:
            inside[0] = False

    monkeypatch.setattr(StableDiffusionPipeline, "__call__", call)
    unet = generator.pipe.unet

    def on_unet(module, args, kwargs):
        calls.append((float(args[1]), inside[0]))

    def on_block(index):
        def keep(module, inputs, output):
            cond = output.detach().chunk(2)[1] if guidance > 1 else output.detach()  # conditional half of CFG
            outputs[(calls[-1][0], index)] = cond.clone()

        return keep

    hooks = [unet.register_forward_pre_hook(on_unet, with_kwargs=True)]
    hooks += [unet.up_blocks[b].register_forward_hook(on_block(b)) for b in range(len(unet.up_blocks))]
    try:
        samples = generator.generate([plan_sample(recipe.context(), seed) for seed in (3, 4)])
    finally:
        for hook in hooks:
            hook.remove()
        generator.close()

    assert [t for t, _ in calls] == [667.0, 334.0, 1.0]  # one UNet call per denoising step: no extra pass
    assert all(within for _, within in calls)
    assert recorder.timesteps == [1.0, 334.0]
    side = recorder.side
    parts = []
    for t in recorder.timesteps:
        for b in recorder.blocks:
            act = outputs[(t, b)].float()
            act = act / act.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
            parts.append(F.interpolate(act, size=(side, side), mode="bilinear", align_corners=False, antialias=True))
    expected = torch.einsum("dc,nchw->ndhw", torch.cat(recorder.matrices, dim=1), torch.cat(parts, dim=1))
    stored = np.stack([s.arrays["features"] for s in samples])
    assert stored.dtype == np.float16 and stored.shape == (2, FEATURES["dim"], 16, 16)
    assert np.allclose(stored.astype(np.float32), expected.numpy(), atol=2e-3, rtol=2e-3)
    assert samples[0].provenance["features"]["steps_at"] == [1.0, 334.0]


def test_same_recipe_same_feature_bytes(tmp_path, tiny_sd, one_thread):
    from synth.stages.synthesize import synthesize

    recipe = parse(inpass_recipe(tiny_sd, batch_size=1))
    digests = []
    for run in ("a", "b"):
        synthesize(recipe, tmp_path / run, show_progress=False)
        shards = sorted((tmp_path / run / "data" / "tinysd" / "samples").glob("shard-*.parquet"))
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in shards})
    assert len(digests[0]) == 2 and digests[0] == digests[1]


def test_capture_settings_key_the_samples_shards_decoder_settings_do_not(tiny_sd):
    from synth.stages.synthesize import shard_plans

    def names(data):
        return [p.filename for p in shard_plans(parse(data))]

    base = inpass_recipe(tiny_sd)
    wider = inpass_recipe(tiny_sd)
    wider["generator"]["features"]["dim"] = 32
    bigger = inpass_recipe(tiny_sd)
    bigger["decode"]["ensemble"] = 5
    plain = diffusion_recipe(tiny_sd)
    assert names(wider) != names(base)  # what is captured changes the bytes
    assert names(bigger) == names(base)  # the MLPs do not
    assert "features" not in parse(plain).model_dump(mode="json")["generator"]  # old recipes keep their keys


def test_check_reports_features_the_generator_cannot_record(project, tiny_sd):
    from conftest import tiny_recipe

    scenes = tiny_recipe(decode={"type": "datasetgan", "features": {"type": "captured"}})
    write(project.root, scenes)
    result = project.synth("check", "recipes/tiny.yaml", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "recipes/tiny.yaml: decode.features.type: 'captured' reads the UNet features"
    )
    assert "Traceback" not in result.stderr

    missing = inpass_recipe(tiny_sd)
    del missing["generator"]["features"]
    write(project.root, missing)
    result = project.synth("check", "recipes/tinysd.yaml", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("recipes/tinysd.yaml: generator.features: required by decode.features.type")

    unread = inpass_recipe(tiny_sd)
    unread["decode"] = {"type": "attention"}
    write(project.root, unread)
    result = project.synth("check", "recipes/tinysd.yaml")
    assert "note recipes/tinysd.yaml: generator.features: recorded in every sample but read only by" in result.stderr

    clash = inpass_recipe(tiny_sd)
    clash["generator"]["features"]["timesteps"] = [0, 100]  # both nearest to t = 1 of the 3-step schedule
    write(project.root, clash)
    result = project.synth("synthesize", "tinysd", "--quiet", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "generator.features.timesteps: 0 and 100 both fall on the denoising step at t=1 "
        "of this 3-step schedule; pick timesteps further apart"
    )
    assert not list((project.root / "data" / "tinysd" / "samples").glob("*.parquet"))


def _annotate(root, seeds) -> None:
    """Human stand-in: the attention decoder's masks of those samples (their scores are in the same shard)."""
    from PIL import Image

    from synth.decode.attention import decode_scores
    from synth.stages.train_decoder import records_for_seeds

    records = records_for_seeds(root, "tinysd", set(seeds))
    folder = root / "handback"
    folder.mkdir(exist_ok=True)
    for seed in seeds:
        record = records[seed]
        mask, _ = decode_scores(record.array("scores"), record.array("class_ids"), 128, 0.6, 0.5)
        Image.fromarray(mask).save(folder / f"seed-{seed:06d}.png")


def test_train_and_decode_never_run_the_unet_again(project, tiny_sd, one_thread, monkeypatch):
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from synth.recipe import load_recipe
    from synth.stages.decode import decode
    from synth.stages.train_decoder import train_decoder

    write(project.root, inpass_recipe(tiny_sd))
    project.synth("synthesize", "tinysd", "--quiet")
    _annotate(project.root, [0, 1, 2])
    project.synth("annotate", "import", "tinysd", str(project.root / "handback"))

    def refuse(*args, **kwargs):
        raise AssertionError("a model ran after generation")

    monkeypatch.setattr(UNet2DConditionModel, "forward", refuse)
    monkeypatch.setattr(AutoencoderKL, "encode", refuse)
    recipe = load_recipe("tinysd", project.root)
    report = train_decoder(recipe, project.root)
    assert report.status == "trained" and report.dim == FEATURES["dim"]
    decoded = decode(recipe, project.root, show_progress=False)
    assert decoded.samples == 6 and len(decoded.written) == 2
    meta = json.loads((project.root / "data" / "tinysd" / "decoder" / "decoder.json").read_text())
    assert meta["features"]["type"] == "captured" and meta["annotated_seeds"] == [0, 1, 2]
    excluded = json.loads((project.root / "data" / "tinysd" / "masks" / "excluded.json").read_text())
    assert excluded["samples"] == 6 and excluded["excluded_count"] == 1


@pytest.mark.slow
def test_dvc_repro_on_captured_features_and_new_annotations_rerun_only_downstream(project, tiny_sd, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    write(project.root, inpass_recipe(tiny_sd))
    project.use_recipes("tinysd")
    project.commit("in-pass features recipe")
    project.dvc("repro", "synthesize@tinysd")
    _annotate(project.root, [0, 1, 2])
    project.synth("annotate", "import", "tinysd", str(project.root / "handback"))
    project.dvc("repro")
    from datasets import load_dataset

    dataset = load_dataset(str(project.root / "build" / "tinysd"))
    masks = [np.asarray(row["mask"]) for split in dataset.values() for row in split]
    assert len(masks) == 5  # 6 samples, the most uncertain quarter (1) excluded by build
    assert set(np.unique(np.concatenate([m.ravel() for m in masks]))) <= {0, 1, 2, 3}

    _annotate(project.root, [4])
    project.synth("annotate", "import", "tinysd", str(project.root / "handback"))
    status = json.loads(project.dvc("status", "--json").stdout)
    assert set(status) == {"train-decoder@tinysd"}, status
    again = project.dvc("repro")
    ran = {line.split("'")[1] for line in again.stdout.splitlines() if line.startswith("Running stage")}
    assert "synthesize@tinysd" not in ran
    assert (
        {"train-decoder@tinysd", "decode@tinysd"}
        <= ran
        <= {
            "train-decoder@tinysd",
            "decode@tinysd",
            "validate@tinysd",
            "validate-variants@tinysd",  # depends on all of data/tinysd (docs/mixing-and-adaptation.md)
            "build@tinysd",
            "preview@tinysd",
            "evaluate@tinysd",  # runs for every recipe and depends on data/tinysd (writes {} for evaluate: null)
            "report@tinysd",
        }
    ), ran
