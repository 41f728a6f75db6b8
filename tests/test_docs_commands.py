"""What a user reads must be runnable: every ``synth ...`` command quoted in the README and docs/ names a real
command of the typer app, and no README table cell is a wall of text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from synth.cli import app
from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
INLINE = re.compile(r"`(synth [^`]+)`")
FENCE = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.S)
IN_LINE = re.compile(r"(?:^|&&|\|\||;|\$ )\s*(synth [^&|;#\n]+)")


def quoted_commands(text: str) -> list[str]:
    """``synth ...`` in inline code and at the start of a shell command in fenced blocks."""
    found = INLINE.findall(text)
    for block in FENCE.findall(text):
        for line in block.splitlines():
            found += IN_LINE.findall(line)
    return [c.strip() for c in found]


def resolve(words: list[str]) -> str | None:
    """Walk the command path through typer's click groups; the problem, or None when the command exists. An
    option or a placeholder in capitals (`synth COMMAND --help`) ends the path; a group may be named alone."""
    command = typer.main.get_command(app)
    path = ["synth"]
    for word in words:
        if not hasattr(command, "commands") or word.startswith("-") or word.isupper():
            return None
        sub = command.commands.get(word)
        if sub is None:
            return f"`{' '.join(path)} {word}`: no such command"
        command, path = sub, [*path, word]
    return None


def test_the_extractor_finds_inline_and_block_commands():
    text = "Run `synth check recipes/x.yaml`.\n```bash\nsynth build a && synth report a  # both\n```\n"
    assert quoted_commands(text) == ["synth check recipes/x.yaml", "synth build a", "synth report a"]
    assert resolve(["evaluate-real", "fashion"]) == "`synth evaluate-real`: no such command"
    assert resolve(["annotate", "export", "tiny"]) is None
    assert resolve(["COMMAND", "--help"]) is None and resolve(["registry"]) is None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_quoted_synth_command_exists(page: Path):
    problems = []
    for command in quoted_commands(page.read_text(encoding="utf-8")):
        words = [w for w in command.split()[1:] if w not in ("[OPTIONS]",)]
        words = [w.split("|")[0] for w in words]  # `synth annotate export | import`: the first alternative
        if problem := resolve(words):
            problems.append(f"{page.name}: {problem} (in `{command}`)")
    assert not problems, "\n".join(problems)


def test_no_readme_table_cell_is_over_300_characters():
    for number, line in enumerate((REPO / "README.md").read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("|"):
            for cell in line.strip().strip("|").split(" | "):
                assert len(cell.strip()) <= 300, f"README.md line {number}: a cell of {len(cell.strip())} characters"
