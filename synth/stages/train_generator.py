"""Stage ``train-generator``: train the fashion latent diffusion model from ``params.yaml`` ``train_generator:``.

The DVC stage is ``frozen`` (training takes most of an hour on a 2-core CPU, and the weights are committed), so
``dvc repro`` never reruns it; ``dvc repro --force train-generator`` or ``synth train-generator`` retrains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import yaml

from synth.errors import UserError
from synth.train_generator.train import LR_SCHEDULES, TrainGeneratorConfig
from synth.train_generator.train import train_generator as _train


def load_config(root: Path) -> TrainGeneratorConfig:
    path = root / "params.yaml"
    try:
        section = (yaml.safe_load(path.read_text()) or {}).get("train_generator")
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"{path}: cannot read ({error})") from None
    if not isinstance(section, dict):
        raise UserError(f"{path}: train_generator: missing section")
    known = {f.name for f in dataclasses.fields(TrainGeneratorConfig)}
    if unknown := sorted(set(section) - known):
        raise UserError(f"{path}: train_generator: unknown key(s) {', '.join(unknown)}")
    if "item_mix" in section:
        section = section | {"item_mix": tuple(section["item_mix"])}
    if section.get("lr_schedule", "constant") not in LR_SCHEDULES:
        raise UserError(
            f"{path}: train_generator: lr_schedule: {section['lr_schedule']!r} is not one of {', '.join(LR_SCHEDULES)}"
        )
    start = section.get("init_from")
    if start is not None and not (root / str(start) / "model_index.json").is_file():
        raise UserError(
            f"{path}: train_generator: init_from: {start} is not a saved pipeline folder (no model_index.json)"
        )
    return TrainGeneratorConfig(**section)


def train_generator(root: Path, log: Callable[[str], None] = print) -> dict:
    return _train(load_config(root), root, log=log)
