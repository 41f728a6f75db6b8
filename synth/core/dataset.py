"""What every implementation may know about the dataset it works for: its classes, the prompts that ask for
them, and ``DatasetContext``, the narrow view of a recipe that generators, decoders, mixers and the rest get.

They never see the whole recipe (seeds, splits, card text, other stages' settings): an implementation that read
any recipe field could come to depend on one that its DVC stage does not track. The recipe schema builds the
context (``Recipe.context()``); these models are part of the recipe's YAML as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from synth.core.config import Strict
from synth.core.labels import BACKGROUND_ID

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ClassDef(Strict):
    """One semantic class. ``prompt`` is how prompts say it ("dining table"), which may differ from ``name``."""

    id: int = Field(ge=1, le=254, description="Label value in masks; 0 is background and 255 ignore.")
    name: str = Field(min_length=1)
    color: str = Field(description="#rrggbb used in previews and the annotation guide.")
    prompt: str | None = Field(default=None, min_length=1)
    parent: str | None = Field(default=None, description="Name of the class this one is a part of (car > wheel).")
    weight: float = Field(default=1.0, gt=0, description="Target relative frequency; also how often it is drawn.")

    @field_validator("color")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not HEX_COLOR.match(value):
            raise ValueError(f"{value!r} is not a #rrggbb colour")
        return value.lower()

    @property
    def phrase(self) -> str:
        return self.prompt or self.name

    @property
    def rgb(self) -> tuple[int, int, int]:
        red, green, blue = (int(self.color[i : i + 2], 16) for i in (1, 3, 5))
        return red, green, blue


class Taxonomy(Strict):
    classes: list[ClassDef] = Field(min_length=1)

    def by_id(self) -> dict[int, ClassDef]:
        return {c.id: c for c in self.classes}

    def by_name(self) -> dict[str, ClassDef]:
        return {c.name: c for c in self.classes}

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.classes]

    def id2label(self) -> dict[int, str]:
        return {BACKGROUND_ID: "background", **{c.id: c.name for c in self.classes}}


class ClassesPerSample(Strict):
    min: int = Field(default=1, ge=1)
    max: int = Field(default=3, ge=1)


class Prompts(Strict):
    """Caption templates. ``{classes}`` becomes the phrases of the classes drawn for a seed ("a car and a tree")."""

    templates: list[str] = Field(default_factory=lambda: ["a photo of {classes}"], min_length=1)
    negative: str = ""
    classes_per_sample: ClassesPerSample = Field(default_factory=ClassesPerSample)


@dataclass(frozen=True)
class DatasetContext:
    """The recipe as an implementation sees it.

    ``generator`` is the generator's settings (a ``GeneratorConfig``): decoders read what the generator made
    (which arrays it records, whether it knows exact masks), so they may see how it was configured.
    """

    name: str
    taxonomy: Taxonomy
    image_size: int
    prompts: Prompts
    generator: Any = None
