"""``synth --help`` lists commands by what a user does: pipeline stages in pipeline order, then the rest."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO, cli_env

from synth.cli.help import PANELS


def test_help_groups_commands_into_panels_in_pipeline_order():
    env = cli_env(REPO) | {"COLUMNS": "120", "TERM": "dumb"}
    text = subprocess.run(
        [sys.executable, "-m", "synth", "--help"], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    panels: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if title := re.match(r"^╭─ (.+?) ─", line):
            current = title.group(1)
            panels[current] = []
        elif current and (command := re.match(r"^│ ([a-z][a-z-]+)\s{2,}", line)):
            panels[current].append(command.group(1))
    panels.pop("Options", None)
    assert list(panels) == list(PANELS)  # no "Commands" catch-all: every command has its place
    assert panels == PANELS
    assert panels["Pipeline stages (what dvc repro runs, in this order)"][:7] == [
        "synthesize",
        "train-decoder",
        "decode",
        "validate",
        "validate-variants",
        "build",
        "preview",
    ]


def test_every_dvc_stage_is_a_command_in_a_stage_panel():
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    commands = {stage.get("do", stage)["cmd"].split()[1] for stage in stages.values()}
    listed = [c for title, names in PANELS.items() if "stages" in title for c in names]
    assert sorted(commands) == sorted(listed)


def test_every_command_lives_in_the_module_named_after_it():
    """docs/extending.md, "Adding a command": one module per command, named after the function that implements
    it, and one per command group, named after the group; synth/cli holds nothing else but app, help, options."""
    from pathlib import Path

    import synth.cli
    from synth.cli import app

    expected: dict[str, str] = {}  # module -> what it must be
    for info in app.registered_commands:
        expected[info.callback.__name__] = f"command {info.name or info.callback.__name__}"
        assert info.callback.__module__ == f"synth.cli.{info.callback.__name__}", info.callback
    for group in app.registered_groups:
        module = group.name.replace("-", "_")
        expected[module] = f"group {group.name}"
        sub = group.typer_instance
        callbacks = [c.callback for c in sub.registered_commands]
        callbacks += [sub.registered_callback.callback] if sub.registered_callback is not None else []
        assert {f.__module__ for f in callbacks} == {f"synth.cli.{module}"}, group.name
    modules = {p.stem for p in Path(synth.cli.__file__).parent.glob("*.py")} - {"__init__", "app", "help", "options"}
    assert sorted(modules) == sorted(expected)
