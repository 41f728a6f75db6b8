"""The real-data upper bound, trained once: evaluate's ``real`` runs, kept under a key of everything they read.

The ``real`` variant trains a segmenter on ``evaluate.reference`` and scores it on ``evaluate.eval``: nothing a
recipe's synthesis, decoding or variants change. Every fashion recipe used to retrain it (3 SegFormer runs each)
on every ``dvc repro`` that touched the recipe. Its per-class IoU per seed is kept in
``data/.real-bound/KEY/seed-N.json``; KEY hashes what a run depends on, and nothing else:

- both files' bytes (and the columns and row limit read from them) and the image size they are read at;
- the training settings (``evaluate`` without ``variants``, ``repeats`` and ``seed``: each seed is its own
  file, so adding repeats trains only the new seeds), the number of classes and the device type;
- the code that trains and scores (the evaluate stage's code, ``EVALUATE.code`` in synth/recipe/stages.py,
  the same list DVC reruns the stage for) and the torch version.

So every recipe that shares the evaluation set, the reference set and the settings reads the same runs, and a
run read from here has exactly the numbers training would give on this machine (one thread, seeded: see
``score_variants``); the numbers, not the bytes, are what it stores, so evaluate.json is the same either way.
Deleting the folder only costs the retraining. A file that does not parse is retrained and replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

from synth.core.atomic import write_text
from synth.core.hashing import canonical_hash, code_digest, file_sha256
from synth.recipe.stages import EVALUATE

FOLDER = "data/.real-bound"  # a dot: no recipe's data/NAME folder can have this name
FORMAT = 1  # bump when what a run file holds changes
RUN_SETTINGS_LEFT_OUT = ("variants", "repeats", "seed")  # which runs to train, not how one is trained


def bound_key(root: Path, cfg, num_classes: int, device_type: str) -> str:
    """16 hex digits naming the ``real`` runs of ``cfg`` (EvaluateSettings) on this evaluation and reference set."""
    import torch

    settings = cfg.model_dump(mode="json")
    files = {
        role: settings[role] | {"sha256": file_sha256(Path(root) / settings[role]["path"])}
        for role in ("eval", "reference")
    }
    basis = {
        "format": FORMAT,
        "settings": {k: v for k, v in settings.items() if k not in RUN_SETTINGS_LEFT_OUT + ("eval", "reference")},
        "files": {role: {k: v for k, v in spec.items() if k != "path"} for role, spec in files.items()},
        "num_classes": num_classes,
        "device": device_type,
        "code": code_digest(EVALUATE.code),
        "torch": torch.__version__,
    }
    return canonical_hash(basis)[:16]


class RealBound:
    """The ``real`` runs stored under one key: per seed, the per-class IoU list ``score_variants`` trains."""

    def __init__(self, root: Path, key: str):
        self.folder = Path(root) / FOLDER / key

    def _path(self, seed: int) -> Path:
        return self.folder / f"seed-{seed}.json"

    def known(self, seeds: list[int]) -> dict[int, list[float | None]]:
        """The seeds already trained, each with its per-class IoU; a missing or unreadable file is left out."""
        found = {}
        for seed in seeds:
            try:
                found[seed] = json.loads(self._path(seed).read_text())["per_class_iou"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found

    def keep(self, runs: dict[int, list[float | None]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for seed, ious in runs.items():
            write_text(self._path(seed), json.dumps({"seed": seed, "per_class_iou": ious}) + "\n")
