"""A model a stage trains once and keeps inside its DVC output (the mix stage's mixer, the stylize stage's
translator): ``OUT/PREFIX-KEY/``, KEY a hash of what made it, so a killed or repeated run loads it instead of
training again and other settings train a new one. It is written through synth/core/atomic.py's scratch folder
(``.PREFIX-KEY.tmp-PID``), so a killed run's half-written model is swept like any other leftover."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from synth.core.atomic import sweep_leftovers, work_folder


def clear_other_folders(out_dir: Path, prefix: str, keep: str | None) -> None:
    """Remove ``PREFIX-*`` folders other than ``keep`` (older settings' models), what killed runs left while saving
    any of them (``.PREFIX-*.tmp-PID`` of a process that is gone) and ``.PREFIX-*.tmp`` (the name the temporary
    folder had before it carried its process id)."""
    for stale in sorted(out_dir.glob(f"{prefix}-*")) + sorted(out_dir.glob(f".{prefix}-*.tmp")):
        if stale.name != keep:
            shutil.rmtree(stale)
    leftover = re.compile(rf"^\.({re.escape(prefix)}-[^.]+)\.(tmp|old)-\d+$")
    for name in sorted({m.group(1) for p in out_dir.glob(f".{prefix}-*") if (m := leftover.match(p.name))}):
        sweep_leftovers(out_dir / name)


def save_once(folder: Path, train_and_save: Callable[[Path], None]) -> bool:
    """Unless ``folder`` holds a finished model, call ``train_and_save(scratch)`` on a fresh hidden folder beside
    it and rename that into place, so a half-written model is never taken for a finished one. Where another
    process (a second Ray worker) finished the same model first, its folder stays and this one's copy goes.
    True if this call trained the model in place."""
    if (folder / "model.safetensors").is_file():
        return False
    with work_folder(folder) as scratch:
        train_and_save(scratch)
        try:
            os.rename(scratch, folder)
        except OSError:  # the folder exists and is not empty: whoever renamed first won
            if not (folder / "model.safetensors").is_file():
                raise
            return False
    return True
