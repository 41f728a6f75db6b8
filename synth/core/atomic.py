"""Publishing a file or a folder so that no reader ever sees half of it, and no killed run leaves litter.

Everything is written next to its target under a hidden temporary name and renamed over it (atomic on one
filesystem). One naming scheme for every writer: ``.NAME.tmp-PID`` while being written, ``.NAME.old-PID`` for a
replaced folder on its way out. A run killed with ``kill -9`` cannot clean up, so each writer first sweeps the
leftovers of its own target's name whose process is gone (``sweep_leftovers``); a live run's are left alone. A
writer whose earlier code named its temporaries otherwise (``.NAME.building-PID``) passes that infix as
``legacy``, so what a killed run of that code left goes too.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(path: Path) -> Path:
    """Where this process writes ``path`` before publishing it."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _old_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.old-{os.getpid()}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_leftovers(path: Path, legacy: tuple[str, ...] = ()) -> list[Path]:
    """Remove ``.NAME.tmp-PID`` and ``.NAME.old-PID`` next to ``path`` (files or folders) left by processes that
    no longer run, and ``.NAME.INFIX-PID`` for each ``legacy`` infix; returns what it removed. Only ``path``'s own
    name is matched, never another target's."""
    kinds = "|".join(re.escape(kind) for kind in ("tmp", "old", *legacy))
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.({kinds})-(\d+)$")
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for entry in sorted(path.parent.iterdir()):
        match = pattern.match(entry.name)
        if match is None or _alive(int(match.group(2))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Publish the file ``write(temporary_path)`` makes at ``path`` (for writers that want a path: ``torch.save``,
    ``Image.save``, Parquet); on any error the temporary file is removed and ``path`` is as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> None:
    """UTF-8, newlines as given (the bytes are the text's, on every platform)."""
    write_bytes(path, text.encode("utf-8"))


@contextmanager
def work_folder(path: Path, legacy: tuple[str, ...] = ()) -> Iterator[Path]:
    """A private, empty scratch folder ``.NAME.tmp-PID`` beside ``path``, removed when the block ends (for stages
    that assemble several outputs before moving each into place). Dead runs' leftovers of the name go first
    (``legacy``: see ``sweep_leftovers``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(path, legacy)
    staging = temp_path(path)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def publish_folder(final: Path, legacy: tuple[str, ...] = ()) -> Iterator[Path]:
    """An empty staging folder to fill; when the block ends normally it replaces ``final`` in one rename (the
    previous ``final``, if any, is moved aside first and then removed). When the block raises, the staging folder
    is removed and ``final`` is untouched. ``legacy``: see ``sweep_leftovers``."""
    final = Path(final)
    with work_folder(final, legacy) as staging:
        yield staging
        old = _old_path(final)
        if final.exists():
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)


def link_or_copy(source: Path, target: Path) -> None:
    """Put an unchanged file into a new output by hard link (copies nothing, and DVC recognises the unchanged inode
    without hashing it again); a copy where the filesystem cannot link."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
