"""The two sides of a review: what a revision (the base) and the working tree (the head) hold for one recipe.

The small things (recipe, ``dvc.lock``, the metrics JSON under ``reports/NAME/``) are committed, so the base's are
read straight from git, with nothing checked out. Each side also says, in one line, why a number is missing and
how to get it, so a review never shows an empty cell without a reason.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synth.recipe import STAGE_FIELDS

# The small reports DVC tracks as metrics (or small JSON outputs) and git versions next to the recipe.
REPORTS = ("validation.json", "validation_details.json", "evaluate.json", "stylize.json")


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def short_rev(root: Path, rev: str) -> str:
    shown = git(root, "rev-parse", "--short", f"{rev}^{{commit}}")
    return shown.stdout.strip() if shown.returncode == 0 else rev


@dataclass
class Side:
    """One version of a recipe and what it made. ``rev`` None is the working tree of ``root``."""

    root: Path
    name: str
    rev: str | None
    recipe: dict | None = None
    lock: dict = field(default_factory=dict)
    reports: dict[str, dict] = field(default_factory=dict)
    missing: str | None = None  # why this side has no metrics, and how to get them (one line)
    stale: str | None = None  # the metrics were made from another version of the recipe

    @property
    def where(self) -> str:
        return f"`{self.rev}`" if self.rev else "this branch"

    def read(self, relative: str) -> str | None:
        if self.rev is None:
            path = self.root / relative
            return path.read_text(encoding="utf-8") if path.is_file() else None
        shown = git(self.root, "show", f"{self.rev}:{relative}")
        return shown.stdout if shown.returncode == 0 else None

    def stage_lock(self, stage: str) -> dict | None:
        return (self.lock.get("stages") or {}).get(f"{stage}@{self.name}")

    def out_files(self, stage: str, path: str) -> tuple[int, int] | None:
        """(files, bytes) of a directory output as ``dvc.lock`` records it."""
        for out in (self.stage_lock(stage) or {}).get("outs") or []:
            if out.get("path") == path and "nfiles" in out:
                return int(out["nfiles"]), int(out.get("size") or 0)
        return None


def _yaml(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return value if isinstance(value, dict) else None


def _stale_fields(side: Side) -> list[str]:
    """Recipe fields the ``validate`` stage reads that differ from what ``dvc.lock`` recorded for it."""
    stage = side.stage_lock("validate")
    if stage is None or side.recipe is None:
        return []
    recorded = (stage.get("params") or {}).get(f"recipes/{side.name}.yaml") or {}
    return [key for key in STAGE_FIELDS["validate"] if key in recorded and recorded[key] != side.recipe.get(key)]


def load_side(root: Path, name: str, rev: str | None) -> Side:
    """Read one side; never raises for missing pieces, it records why they are missing instead."""
    side = Side(Path(root), name, rev)
    side.recipe = _yaml(side.read(f"recipes/{name}.yaml"))
    side.lock = _yaml(side.read("dvc.lock")) or {}
    for report in REPORTS:
        text = side.read(f"reports/{name}/{report}")
        if text is not None:
            with contextlib.suppress(json.JSONDecodeError):
                side.reports[report] = json.loads(text)
    if side.recipe is None:
        side.missing = (
            f"`{name}` is new in this change: {side.where} has no such recipe, so there is nothing before"
            if rev
            else f"`{name}` is removed in this change"
        )
    elif "validation.json" not in side.reports:
        side.missing = (
            f"{side.where} has no committed `reports/{name}/validation.json` (made before metrics were versioned, or "
            f"its `dvc repro` was not committed): check it out, `dvc pull`, `dvc repro validate@{name}` and commit "
            f"`dvc.lock` and `reports/`"
            if rev
            else f"no `reports/{name}/validation.json` here: run `dvc repro` (or `dvc pull`) and commit `dvc.lock` and "
            f"`reports/{name}/*.json`"
        )
    else:
        changed = _stale_fields(side)
        if changed:
            side.stale = (
                f"the metrics of {side.where} were made from an older recipe ({', '.join(changed)} changed "
                f"since; `dvc.lock` says so): run `dvc repro` and commit `dvc.lock` and `reports/`"
            )
    return side
