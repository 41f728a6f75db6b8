"""Where a version came from: recipe hash, git commit, generator identity, validation summary, file hashes."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from synth import __version__
from synth.core.hashing import settings_hash
from synth.recipe import Recipe, recipe_hash


def git_commit(root: Path, recipe_file: Path) -> str:
    """HEAD of the project, with ``+dirty`` when the recipe itself differs from what is committed."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", str(recipe_file)], cwd=root, capture_output=True, text=True
    )
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(files: dict[str, str]) -> str:
    """One hash of the data a user loads (shards and labels), blind to the card's prose and the git commit."""
    text = "\n".join(f"{name} {sha}" for name, sha in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def make_lineage(
    recipe: Recipe, root: Path, recipe_file: Path, validation: dict, split_counts: dict, files: dict
) -> dict:
    generator = recipe.generator.provenance() | {"settings_hash": settings_hash(recipe.generator)}
    return {
        "name": recipe.name,
        "version": recipe.version,
        "recipe_hash": recipe_hash(recipe),
        "git_commit": git_commit(root, recipe_file),
        "generator": generator,
        "decoder": recipe.decode.model_dump(mode="json") | recipe.decode.lineage(root, recipe.name),
        "validation": validation,
        "synth_version": __version__,
        "splits": split_counts,
        "files": files,
        "content_hash": content_hash(files),
    }
