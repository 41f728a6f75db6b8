"""One contract for every pluggable family: each registered generator builds from a tiny config and puts in its
samples exactly what its ``capabilities()`` declare; each registered decoder (and DatasetGAN feature source)
accepts exactly the generators that produce what it ``needs()``, rejects the others with one line naming the
field, and the decoders that need no trained state decode a real sample of a generator they accept.

A new entry in ``GENERATORS``, ``DECODERS`` or ``FEATURE_SOURCES`` fails the coverage tests until it has a tiny
config here, so no entry escapes the contract.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import tiny_recipe

from synth.decode import DECODERS
from synth.decode.datasetgan.features.sources import FEATURE_SOURCES
from synth.errors import UserError
from synth.generate import GENERATORS
from synth.generate.base import Capability
from synth.recipe.schema import Recipe


def _has_exact_mask(sample) -> bool:
    return sample.mask is not None and sample.mask.shape == sample.image.shape[:2]


def _has_instances(sample) -> bool:
    """An instance map the size of the mask, with an object wherever the mask shows a class and nowhere else."""
    instances = sample.arrays.get("instances")
    if instances is None or sample.mask is None or instances.shape != sample.mask.shape:
        return False
    return bool(np.array_equal(instances > 0, (sample.mask > 0) & (sample.mask < 255)))


# What a sample must carry for each capability (and must not carry without it).
EVIDENCE = {
    Capability.EXACT_MASKS: _has_exact_mask,
    Capability.ATTENTION_SCORES: lambda sample: {"scores", "class_ids"} <= set(sample.arrays),
    Capability.FEATURES: lambda sample: "features" in sample.arrays,
    Capability.LATENTS: lambda sample: "z" in sample.arrays,
    Capability.INSTANCES: _has_instances,
}

SD_FEATURES = {"timesteps": [0, 300], "dim": 16}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from tests.tinymodels import build_tiny_stylegan2, save_tiny_sd

    folder = tmp_path_factory.mktemp("contract-models")
    return {"sd": save_tiny_sd(folder / "tiny-sd"), "stylegan2": build_tiny_stylegan2(folder / "g.safetensors")}


def generator_cases(models: dict[str, Path]) -> dict[str, dict]:
    """Tiny recipes, one per generator configuration that changes what it produces."""
    from tests.tinymodels import diffusion_recipe

    with_features = diffusion_recipe(models["sd"])
    with_features["generator"]["features"] = dict(SD_FEATURES)
    with_features["decode"] = {"type": "datasetgan", "features": {"type": "captured"}}
    return {
        "scenes": tiny_recipe(),
        "diffusion": diffusion_recipe(models["sd"]),
        "diffusion+features": with_features,
        "stylegan2": tiny_recipe(
            generator={"type": "stylegan2", "checkpoint": str(models["stylegan2"])},
            decode={"type": "datasetgan", "features": {"type": "random_conv"}},
        ),
    }


def decoder_cases(models: dict[str, Path]) -> dict[str, dict]:
    """Tiny decode sections: every decoder, and DatasetGAN once per feature source."""
    datasetgan = {
        name: {"type": "datasetgan", "features": features}
        for name, features in {
            "captured": {"type": "captured"},
            "random_conv": {"type": "random_conv"},
            "stylegan2": {"type": "stylegan2", "checkpoint": str(models["stylegan2"])},
            "sd_unet": {"type": "sd_unet", "model": str(models["sd"])},
        }.items()
    }
    return {
        "exact": {"type": "exact"},
        "attention": {"type": "attention"},
        **{f"datasetgan/{name}": decode for name, decode in datasetgan.items()},
    }


def parse(data: dict):
    from synth.recipe.load import parse_recipe

    return parse_recipe(yaml.safe_load(yaml.safe_dump(data)), f"recipes/{data['name']}.yaml")


def test_every_registered_generator_decoder_and_feature_source_has_a_tiny_case(models):
    generators = {recipe["generator"]["type"] for recipe in generator_cases(models).values()}
    decoders = {decode["type"] for decode in decoder_cases(models).values()}
    sources = {d["features"]["type"] for d in decoder_cases(models).values() if "features" in d}
    assert generators == set(GENERATORS)
    assert decoders == set(DECODERS)
    assert sources == set(FEATURE_SOURCES)
    assert set(EVIDENCE) == set(Capability)


@pytest.mark.parametrize("case", ["scenes", "diffusion", "diffusion+features", "stylegan2"])
def test_a_generator_produces_exactly_what_it_declares(models, case):
    from synth.generate.prompts import plan_sample

    recipe = parse(generator_cases(models)[case])
    context = recipe.context()
    declared = recipe.generator.capabilities()
    generator = recipe.generator.build(context)
    try:
        samples = generator.generate([plan_sample(context, seed) for seed in (0, 1)])
    finally:
        generator.close()
    assert declared, f"{case} declares nothing a decoder could read"
    for sample in samples:
        assert sample.image.shape == (context.image_size, context.image_size, 3)
        carried = {capability for capability, present in EVIDENCE.items() if present(sample)}
        assert carried == declared, f"{case}: declares {sorted(declared)}, its samples carry {sorted(carried)}"


@pytest.mark.parametrize("generator_case", ["scenes", "diffusion", "diffusion+features", "stylegan2"])
def test_a_decoder_accepts_exactly_the_generators_that_produce_what_it_needs(models, generator_case):
    base = generator_cases(models)[generator_case]
    produced = parse(base).generator.capabilities()
    for name, decode in decoder_cases(models).items():
        recipe = copy.deepcopy(base)
        recipe["decode"] = decode
        needs = Recipe.model_validate(yaml.safe_load(yaml.safe_dump(recipe))).decode.needs()
        missing = needs - produced
        if not missing:
            parse(recipe)  # no problem raised
            continue
        with pytest.raises(UserError) as caught:
            parse(recipe)
        message = str(caught.value)
        assert "\n" not in message, f"{name} on {generator_case}: more than one line"
        assert message.startswith(f"recipes/{recipe['name']}.yaml: ")
        for capability in missing:
            # Either the capability is named, or the generator says which of its fields turns it on.
            assert str(capability) in message or "required by decode" in message, (name, generator_case, message)


def test_an_unmet_need_is_one_line_exit_2_through_the_cli(project):
    """The attention decoder on the scenes generator: ``synth check`` says why in one line, exit 2."""
    project.write_recipe(tiny_recipe(decode={"type": "attention"}))
    result = project.synth("check", "recipes/tiny.yaml", check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("recipes/tiny.yaml: decode.type: ") and "attention scores" in lines[0]


@pytest.mark.parametrize(("decoder", "generator_case"), [("exact", "scenes"), ("attention", "diffusion")])
def test_a_decoder_without_trained_state_decodes_a_real_sample_into_a_mask(models, decoder, generator_case):
    """Through the samples shard's own row format, as the decode stage reads it."""
    from synth.generate.prompts import plan_sample
    from synth.store.records import SAMPLES_SCHEMA, records_from_table, rows_to_table, sample_row

    recipe = parse(generator_cases(models)[generator_case] | {"decode": decoder_cases(models)[decoder]})
    context = recipe.context()
    generator = recipe.generator.build(context)
    try:
        samples = generator.generate([plan_sample(context, seed) for seed in (0, 1)])
    finally:
        generator.close()
    records = records_from_table(rows_to_table([sample_row(s) for s in samples], SAMPLES_SCHEMA), "contract")
    known = {0, 255, *(c.id for c in context.taxonomy.classes)}
    decoded_any = False
    for record in records:
        out = recipe.decode.build(context).decode(record)
        assert out.mask.shape == record.image.shape[:2] and out.mask.dtype == np.uint8
        assert set(np.unique(out.mask).tolist()) <= known
        decoded_any |= bool((out.mask != 0).any())
    assert decoded_any, f"{decoder} labelled no pixel of any {generator_case} sample"
