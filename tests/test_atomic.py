"""The one atomic writer: a reader sees the old file or the new one, never half; a failed write changes nothing;
and what a killed run leaves behind (``.NAME.tmp-PID``, ``.NAME.old-PID``) is swept by the next run, its own
name only, never a live run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import tiny_recipe

from synth.core.atomic import publish_folder, sweep_leftovers, write_atomic, write_bytes, write_text


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_write_publishes_the_bytes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "metrics.json"
    write_text(target, "{}\n")
    write_bytes(target, b'{"a": 1}\n')
    assert target.read_bytes() == b'{"a": 1}\n'
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")

    def half_then_fail(tmp):
        tmp.write_bytes(b"ne")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_sweep_removes_dead_runs_leftovers_of_its_own_name_only(tmp_path):
    dead = dead_pid()
    target = tmp_path / "street-scenes"
    (tmp_path / f".street-scenes.tmp-{dead}").mkdir()
    (tmp_path / f".street-scenes.tmp-{dead}" / "part.parquet").write_bytes(b"half")
    (tmp_path / f".street-scenes.old-{dead}").mkdir()
    (tmp_path / f".street-scenes.tmp-{os.getpid()}").mkdir()  # a live run (this one) is at work
    (tmp_path / f".fashion.tmp-{dead}").mkdir()  # another dataset's: not ours to remove
    (tmp_path / f".street-scenes.tmp-{dead}.json").write_text("{}")  # not the pattern
    removed = sweep_leftovers(target)
    assert sorted(p.name for p in removed) == [f".street-scenes.old-{dead}", f".street-scenes.tmp-{dead}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".street-scenes.tmp-{os.getpid()}", f".fashion.tmp-{dead}", f".street-scenes.tmp-{dead}.json"]
    )


def test_a_legacy_infix_is_swept_only_by_the_writer_that_used_it(tmp_path):
    dead = dead_pid()
    (tmp_path / f".big.building-{dead}").mkdir()  # synth build's staging name before the one scheme
    (tmp_path / f".big.building-{os.getpid()}").mkdir()  # a live run's
    assert sweep_leftovers(tmp_path / "big") == []
    removed = sweep_leftovers(tmp_path / "big", legacy=("building",))
    assert [p.name for p in removed] == [f".big.building-{dead}"]
    assert [p.name for p in tmp_path.iterdir()] == [f".big.building-{os.getpid()}"]


def test_a_trained_model_is_saved_through_the_scratch_scheme(tmp_path):
    """The mix stage's mixer and the stylize stage's translator: killed saves are swept (dead runs' only), a
    finished model is kept, and where another process finished the same model first, its copy stays."""
    from synth.stages.trained_folder import clear_other_folders, save_once

    dead, live = dead_pid(), os.getpid()
    for name in (f".mixer-aaa.tmp-{dead}", ".mixer-bbb.tmp", f".mixer-ccc.tmp-{live}", "mixer-ddd"):
        (tmp_path / name).mkdir()
    clear_other_folders(tmp_path, "mixer", "mixer-new")
    assert [p.name for p in tmp_path.iterdir()] == [f".mixer-ccc.tmp-{live}"]

    def train(folder):
        (folder / "model.safetensors").write_bytes(b"mine")

    assert save_once(tmp_path / "mixer-new", train)
    assert not save_once(tmp_path / "mixer-new", train)

    def train_while_another_finishes(folder):
        train(folder)
        (tmp_path / "mixer-race").mkdir()
        (tmp_path / "mixer-race" / "model.safetensors").write_bytes(b"theirs")

    assert not save_once(tmp_path / "mixer-race", train_while_another_finishes)
    assert (tmp_path / "mixer-race" / "model.safetensors").read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".mixer-ccc.tmp-{live}", "mixer-new", "mixer-race"]


def test_publish_folder_replaces_whole_or_not_at_all(tmp_path):
    final = tmp_path / "report"
    final.mkdir()
    (final / "index.html").write_text("old")
    with pytest.raises(ValueError), publish_folder(final) as staging:
        (staging / "index.html").write_text("half")
        raise ValueError("render failed")
    assert (final / "index.html").read_text() == "old"
    with publish_folder(final) as staging:
        (staging / "index.html").write_text("new")
    assert [p.name for p in final.iterdir()] == ["index.html"] and (final / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def _kill_once_staging_exists(project, command: list[str], target, log) -> bool:
    """Start ``synth COMMAND``, kill -9 it as soon as its staging folder for ``target`` exists; False when it
    finished first."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synth", *command], cwd=project.root, env=project.env, stderr=err
        )
    staging = target.with_name(f".{target.name}.tmp-{proc.pid}")
    try:
        while proc.poll() is None:
            if staging.is_dir():
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.002)
        assert proc.returncode == 0, log.read_text()
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_build_or_export_killed_mid_way_leaves_nothing_after_the_next_run(project, tmp_path):
    """As a user would meet it: ``kill -9`` of ``synth build`` while it writes, then ``synth build`` again; the
    same for ``synth export``. What a killed run of the earlier code left (``.NAME.building-PID``,
    ``.NAME.exporting-PID``) goes too."""
    project.write_recipe(tiny_recipe(name="big", seeds=[{"start": 0, "stop": 400}], samples_per_shard=50))
    for command in ("synthesize", "decode"):
        project.synth(command, "big", "--quiet")
    project.synth("validate", "big")
    build_dir = project.root / "build"
    build = build_dir / "big"
    killed = any(
        _kill_once_staging_exists(project, ["build", "big"], build, tmp_path / "build.log") for _ in range(5)
    )  # stops at the first kill
    assert killed, "every build finished before its staging folder was seen; the test exercised nothing"
    assert [p.name for p in build_dir.iterdir() if p.name.startswith(".big.tmp-")], "the kill left no staging"
    (build_dir / f".big.building-{dead_pid()}").mkdir()
    project.synth("build", "big")
    assert sorted(p.name for p in build_dir.iterdir()) == ["big"]

    export = project.root / "exports" / "big" / "coco"
    command = ["export", "big", "--format", "coco"]
    killed = any(_kill_once_staging_exists(project, command, export, tmp_path / "export.log") for _ in range(5))
    assert killed, "every export finished before its staging folder was seen; the test exercised nothing"
    assert [p.name for p in export.parent.iterdir() if p.name.startswith(".coco.tmp-")], "the kill left no staging"
    (export.parent / f".coco.exporting-{dead_pid()}").mkdir()
    project.synth(*command)
    assert sorted(p.name for p in export.parent.iterdir()) == ["coco"]
