"""Generators, by the name a recipe's ``generator.type`` uses.

The registry maps names to config classes; a config builds its generator on demand, so heavy libraries load
only when a recipe actually uses them.
"""

from synth.generate.base import Generator, GeneratorConfig, Sample
from synth.generate.diffusion import DiffusionConfig
from synth.generate.scenes import ScenesConfig
from synth.generate.stylegan2 import StyleGAN2Config

GENERATORS: dict[str, type[GeneratorConfig]] = {
    "scenes": ScenesConfig,
    "diffusion": DiffusionConfig,
    "stylegan2": StyleGAN2Config,
}

__all__ = ["GENERATORS", "Generator", "GeneratorConfig", "Sample"]
