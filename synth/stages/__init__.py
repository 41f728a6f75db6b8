"""One module per DVC stage, each a pure function of (recipe, project root) that the CLI wraps."""

from dataclasses import dataclass, field


@dataclass
class StageReport:
    """What a shard-writing stage did; finished shards are ``skipped``, never rewritten."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    samples: int = 0

    def summary(self, stage: str) -> str:
        return (
            f"{stage}: {self.samples} samples in {len(self.written) + len(self.skipped)} shards "
            f"({len(self.written)} written, {len(self.skipped)} up to date, {len(self.removed)} stale removed)"
        )
