"""The base of every typed config section: unknown keys are errors and a loaded config cannot be changed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A recipe section or implementation config: a typo in a key is an error naming it, never silently ignored;
    frozen, so a config hashed into a shard key cannot change afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)
