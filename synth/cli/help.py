"""``synth --help`` grouped by what a user does, in the order they do it.

Each command is defined in its own module (synth/cli/__init__.py says which); this module only files them into
panels and orders them: pipeline stages in pipeline order, then the optional stages, publishing, tools. A
command missing from ``PANELS`` would land in a panel of its own at the end, which tests/test_cli_help.py
refuses, so a new command has to be placed here.
"""

from __future__ import annotations

import typer

PANELS: dict[str, list[str]] = {
    "Pipeline stages (what dvc repro runs, in this order)": [
        "synthesize",
        "train-decoder",
        "decode",
        "validate",
        "validate-variants",
        "build",
        "preview",
        "report",
    ],
    "Optional stages (params.yaml *_recipes lists; train-generator: frozen)": [
        "mix",
        "target",
        "stylize",
        "evaluate",
        "train-generator",
    ],
    # Sub-apps (registry, annotate) are listed after the commands of their panel: typer adds groups last.
    "Publishing and registry": ["publish", "export", "review", "registry"],
    "Tools": ["check", "check-labels", "list", "export-photos", "real-data", "annotate"],
}


def _name(info) -> str:
    if info.name:
        return info.name
    callback = info.callback if info.callback is not None else getattr(info.typer_instance, "info", None)
    return getattr(callback, "__name__", "").replace("_", "-")


def organize(app: typer.Typer) -> None:
    """Give every command and sub-app its panel and sort them by panel, then by position in the panel."""
    order = {name: (p, i) for p, names in enumerate(PANELS.values()) for i, name in enumerate(names)}
    panel_of = {name: panel for panel, names in PANELS.items() for name in names}
    unknown = (len(PANELS), 0)
    for infos in (app.registered_commands, app.registered_groups):
        for info in infos:
            info.rich_help_panel = panel_of.get(_name(info), info.rich_help_panel)
        infos.sort(key=lambda info: order.get(_name(info), unknown))
