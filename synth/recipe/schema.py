"""The recipe: a typed, declarative description of one dataset.

Every model forbids unknown keys, so a typo in a recipe is an error instead of a silently ignored setting.
Cross-field rules (unique ids, non-overlapping seed ranges, parents that exist) live in ``checks.py`` so they
can report the exact field that is wrong.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import Field, field_validator, model_serializer

from synth.adapt.config import StylizeSettings, TargetSettings
from synth.core.config import Strict
from synth.core.dataset import DatasetContext, Prompts, Taxonomy
from synth.decode import DECODERS, DecoderConfig
from synth.evaluate.config import EvaluateSettings
from synth.generate import GENERATORS, GeneratorConfig
from synth.labelcheck.config import LabelCheckSettings
from synth.mix.config import MixSettings

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")

OPTIONAL_SECTIONS = ("mix", "target", "stylize", "evaluate")
# Optional sections that every recipe file must still spell out (``null`` when off): a stage that runs for every
# recipe tracks them as DVC params, and DVC refuses a params key absent from the file. Recipes read from older
# revisions (a review's base) may lack them; the model's default stays None.
FILE_KEYS: dict[str, str] = {
    "evaluate": "write `evaluate: null` when the dataset is not scored (the evaluate stage runs for every recipe)",
}


class SeedRange(Strict):
    """Half-open ``[start, stop)``."""

    start: int = Field(ge=0)
    stop: int = Field(gt=0)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


class Splits(Strict):
    train: float = Field(default=0.8, ge=0, le=1)
    validation: float = Field(default=0.1, ge=0, le=1)
    test: float = Field(default=0.1, ge=0, le=1)


class Validation(LabelCheckSettings):
    """Thresholds the Great Expectations suites read. ``error`` rules block a build; ``warn`` rules report.
    The label checks' settings (mask against image, judge, cleanlab ranking) are inherited: docs/validation.md."""

    min_class_presence: float = Field(
        default=0.05, ge=0, le=1, description="Every class must appear in at least this share of samples."
    )
    max_class_kl: float = Field(
        default=0.5, ge=0, description="KL(observed class pixel frequencies || target weights), in nats."
    )
    max_ignore_fraction: float = Field(default=0.3, ge=0, le=1, description="Per-sample share of 255 pixels.")
    max_components: int = Field(default=50, ge=1, description="Connected components per class per sample.")
    min_component_pixels: int = Field(default=4, ge=0, description="Smallest component (warning only).")
    max_empty_fraction: float = Field(default=0.0, ge=0, le=1, description="Share of masks with no class at all.")
    max_duplicate_fraction: float = Field(default=0.01, ge=0, le=1, description="Share of near-duplicate images.")
    min_mean_confidence: float = Field(default=0.0, ge=0, le=1, description="Per-sample mean decoder confidence.")
    duplicate_max_distance: int = Field(
        default=4,
        ge=0,
        le=16,
        description="Perceptual-hash bits two images may differ in and still be near-duplicates.",
    )


def _tagged_union(registry: dict) -> object:
    configs = tuple(registry.values())
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[configs], Field(discriminator="type")]  # noqa: UP007 - built at run time


if TYPE_CHECKING:
    # A union built from a registry at run time is no type a checker can read: to it a recipe's generator is a
    # GeneratorConfig (what every entry is), and code that needs one generator's fields narrows with isinstance.
    GeneratorSettings = GeneratorConfig
    DecoderSettings = DecoderConfig
else:
    GeneratorSettings = _tagged_union(GENERATORS)
    DecoderSettings = _tagged_union(DECODERS)


class Recipe(Strict):
    name: str
    version: str
    # Every field a DVC stage tracks is required: DVC refuses a params key that is absent from the file, and a
    # recipe that spells out its settings is one a reviewer can read. Defaults live inside the sections.
    description: str
    license: str
    hub_repo: str | None = Field(description="org/name of the Hub dataset repo to publish to, or null.")
    generator: GeneratorSettings
    taxonomy: Taxonomy
    prompts: Prompts
    seeds: list[SeedRange] = Field(min_length=1)
    image_size: int = Field(ge=16, le=4096, description="Square image side in pixels.")
    samples_per_shard: int = Field(ge=1, le=100_000, description="Seeds per shard; seed // this = its shard.")
    image_format: Literal["png", "jpeg", "webp"] = Field(
        description="How images are stored (masks are always PNG): png and webp are lossless, jpeg (quality 95) is fast."
    )
    splits: Splits
    decode: DecoderSettings
    validation: Validation
    # Optional stages (docs/mixing-and-adaptation.md); absent means off.
    mix: MixSettings | None = None
    target: TargetSettings | None = None
    stylize: StylizeSettings | None = None
    evaluate: EvaluateSettings | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_sections(self, handler):
        # An optional section that is off is not in the dump, so recipes without it hash as they always did.
        data = handler(self)
        for key in OPTIONAL_SECTIONS:
            if data.get(key, 0) is None:
                data.pop(key)
        return data

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(f"{value!r} is not a slug (lower-case letters, digits, '-' or '_')")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError(f"{value!r} is not a semantic version like 1.2.0")
        return value

    def context(self) -> DatasetContext:
        """What implementations (generators, decoders, mixers, ...) get instead of the whole recipe."""
        return DatasetContext(self.name, self.taxonomy, self.image_size, self.prompts, self.generator)

    def all_seeds(self) -> list[int]:
        return [s for r in sorted(self.seeds, key=lambda r: r.start) for s in range(r.start, r.stop)]

    @property
    def num_samples(self) -> int:
        return sum(len(r) for r in self.seeds)
