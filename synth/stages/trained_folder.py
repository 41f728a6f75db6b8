"""A model a stage trains once and keeps inside its DVC output (the mix stage's mixer, the stylize stage's
translator): ``OUT/PREFIX-KEY/``, KEY a hash of what made it, so a killed or repeated run loads it instead of
training again and other settings train a new one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path


def clear_other_folders(out_dir: Path, prefix: str, keep: str | None) -> None:
    """Remove ``PREFIX-*`` folders other than ``keep`` (older settings' models) and ``.PREFIX-*.tmp`` ones (saves
    a killed run never finished)."""
    for stale in sorted(out_dir.glob(f"{prefix}-*")) + sorted(out_dir.glob(f".{prefix}-*.tmp")):
        if stale.name != keep:
            shutil.rmtree(stale)


def save_once(folder: Path, train_and_save: Callable[[Path], None]) -> bool:
    """Unless ``folder`` holds a finished model, call ``train_and_save(tmp)`` on a fresh hidden folder beside it
    and rename that into place, so a half-written model is never taken for a finished one. True if it trained."""
    if (folder / "model.safetensors").is_file():
        return False
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    train_and_save(tmp)
    tmp.rename(folder)
    return True
