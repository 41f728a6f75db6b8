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


def model_revision(generator: dict) -> str:
    """The revision a user can pin, in words: a local model (a path in the recipe) has none, which is not the
    same as a missing value (``None`` printed bare read as a bug)."""
    revision = generator.get("revision")
    if revision:
        return str(revision)
    return "none: local weights (the shard keys hash their files)" if generator.get("model") else "none"


def content_hash(files: dict[str, str]) -> str:
    """One hash of the data a user loads (shards and labels), blind to the card's prose and the git commit."""
    text = "\n".join(f"{name} {sha}" for name, sha in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def model_training_data(model: str | None, root: Path) -> list[str]:
    """The datasets a local model was trained on, as its model card's ``datasets:`` metadata names them (the Hub's
    model-card convention); empty for Hub ids (no card offline) and cards that name none."""
    import yaml

    if not model:
        return []
    card = (Path(model) if Path(model).is_absolute() else Path(root) / model) / "README.md"
    if not card.is_file():
        return []
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return []
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return []
    named = meta.get("datasets") or [] if isinstance(meta, dict) else []
    return [str(d) for d in ([named] if isinstance(named, str) else named)]


def make_lineage(
    recipe: Recipe, root: Path, recipe_file: Path, validation: dict, split_counts: dict, files: dict
) -> dict:
    generator = recipe.generator.provenance() | {"settings_hash": settings_hash(recipe.generator)}
    trained_on = model_training_data(generator.get("model"), root)
    if trained_on:  # absent otherwise: lineage files of builds without it keep their bytes
        generator["trained_on"] = trained_on
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
