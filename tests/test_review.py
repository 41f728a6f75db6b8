"""``synth review``: a real two-commit project whose base was built with ``dvc repro`` and pushed to a local DVC
remote, and whose head changes the recipe and is built again. The review must show real numbers on both sides,
the params by field, and one picture with the same seeds before and after (checked by its pixels)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, Project, clone_project, tiny_recipe
from PIL import Image

from synth.publish.review_image import GAP, HEADER
from synth.publish.review_tables import change, params_rows, table
from synth.report.contact_sheet import CELL

DOG = (0xFF, 0xE1, 0x19)
CAR = (0xE6, 0x19, 0x4B)


def head_recipe() -> dict:
    recipe = tiny_recipe(version="1.1.0", seeds=[{"start": 0, "stop": 60}])
    recipe["taxonomy"]["classes"].append({"id": 4, "name": "dog", "color": "#ffe119"})
    recipe["taxonomy"]["classes"][1]["weight"] = 0.8
    recipe["validation"]["max_class_kl"] = 1.5
    return recipe


@pytest.fixture(scope="module")
def history(tmp_path_factory, tiny_reproduced: Project) -> tuple[Project, str, Path]:
    """Base commit built and pushed to a local remote; head commit changed and built; metrics JSON committed."""
    tmp = tmp_path_factory.mktemp("review")
    project = clone_project(tiny_reproduced, tmp / "project")  # the tiny recipe after `dvc repro`
    remote = tmp / "remote"
    project.dvc("remote", "add", "-d", "shared", str(remote))
    project.commit("base: tiny 1.0.0 built")
    project.dvc("push")
    base = project.git("rev-parse", "HEAD").stdout.strip()
    project.write_recipe(head_recipe())
    project.dvc("repro")
    project.commit("head: tiny 1.1.0")
    return project, base, remote


def rows(text: str, first: str) -> list[list[str]]:
    """Cells of the Markdown table rows whose first cell (bold or not) is ``first``."""
    found = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].strip("*") == first:
            found.append(cells)
    return found


def test_the_metrics_json_is_versioned_with_the_recipe(history):
    project, base, _ = history
    tracked = project.git("ls-tree", "-r", "--name-only", base, "reports/").stdout.split()
    assert tracked == [
        "reports/tiny/evaluate.json",  # {} here: tiny says `evaluate: null`
        "reports/tiny/validation-variants.json",  # {} here: tiny makes no variants
        "reports/tiny/validation.json",
        "reports/tiny/validation_details.json",
    ]
    assert not (project.root / "reports/tiny/.gitignore").exists()
    assert project.git("check-ignore", "reports/tiny/preview.png", "reports/tiny/data_docs/index.html").returncode == 0
    diff = project.dvc("metrics", "diff", base, "--json").stdout
    assert '"samples": {"old": 40, "new": 60' in diff.replace("\n", "").replace("  ", " ")


def test_review_shows_both_sides_from_the_remote(history):
    project, base, _ = history
    shutil.rmtree(project.root / ".dvc" / "cache")  # the base's shards can only come from the remote now
    text = project.synth("review", "--base", base).stdout

    assert "class added: 4 `dog`" in text  # the semantic diff stays
    assert rows(text, "samples") == [["**samples**", "40", "**60**", "**+20 (+50%)**"]]
    assert rows(text, "shards")[0][1:3] == ["4", "**6**"]
    verdicts = rows(text, "validation")  # the words of the report and card: "passed with N warnings"
    assert all(v.startswith("passed") for row in verdicts for v in (row[1], row[2].strip("*"))), verdicts
    assert re.search(r"\d+ rows? the same on both sides, left out\.", text)  # unchanged rows: counted, not shown
    kl = rows(text, "class KL (observed ‖ target)")[0]
    assert re.fullmatch(r"0\.\d+", kl[1]) and re.fullmatch(r"\*\*0\.\d+\*\*", kl[2]) and kl[3].startswith("**")
    data = text.split("#### Data")[1].split("#### Params")[0]
    for name in ("car", "wheel", "tree"):  # classes the base has: a real number before and after, never a dash
        for cells in rows(data, f"`{name}`"):
            assert re.fullmatch(r"[\d.]+", cells[1]) and re.fullmatch(r"\**[\d.]+\**", cells[2]), cells
    assert rows(data, "`dog`")[0][1:4] == ["absent", rows(data, "`dog`")[0][2], "**new**"]
    assert "`wheel` (target 0.2 → 0.2105)" in text
    dog_rule = "`warning: mask_quality: expect_column_values_to_be_between(min_component__dog)`"
    assert f"| {dog_rule} | absent | **failed**" in text
    for line in data.splitlines():
        if line.startswith("| ") and not line.startswith("| class ") and not line.startswith("|  |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert "-" not in cells and "" not in cells[1:3], line  # every row has both sides, never a dash

    # Seed by seed: the 40 shared seeds compared byte for byte, the 20 new ones counted, and every shared seed
    # whose mask now holds the new class `dog` counted as gaining it (the base had no dog to lose).
    samples = text.split("#### Samples, seed by seed")[1].split("####")[0]
    counted = re.search(r"\*\*samples\*\*: (\d+) of the 40 seeds on both sides changed bytes", samples)
    assert counted and 0 < int(counted.group(1)) <= 40, samples
    assert "20 only after" in samples
    from synth.publish.review_samples import read_states
    from synth.recipe import load_recipe

    head = read_states(project.root, load_recipe("tiny", project.root))
    with_dog = sum("dog" in state.classes for seed, state in head.items() if seed < 40)
    assert with_dog > 0 and rows(samples, "`dog`")[0][1] == str(with_dog) and rows(samples, "`dog`")[0][3] == "0"

    params = text.split("#### Params by field")[1].split("####")[0]
    changed = [line.split("|")[1].strip() for line in params.splitlines() if line.startswith("| `")]
    assert changed == [
        "`seeds`",
        "`taxonomy.classes[id=2].weight`",
        "`taxonomy.classes[id=4]`",
        "`validation.max_class_kl`",
        "`version`",
    ]
    assert "| `taxonomy.classes[id=2].weight` | 0.5 | 0.8 |" in params

    assert "`reports/tiny/review.png` (seeds 0, 8, 16, 23, 31, 39)" in text
    with Image.open(project.root / "reports/tiny/review.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    half = (pixels.shape[1] - GAP) // 2
    cells = 6 * (CELL + 14)  # the six sampled rows, above the legend
    left, right = pixels[HEADER : HEADER + cells, :half], pixels[HEADER : HEADER + cells, half + GAP :]
    for side in (left, right):
        assert side.std() > 20  # images, not an empty panel
        assert (side == CAR).all(axis=-1).sum() > 100  # the car class, in its taxonomy colour
    assert (left == DOG).all(axis=-1).sum() == 0  # no dog before ...
    assert (right == DOG).all(axis=-1).sum() > 100  # ... the class the change added, after
    assert np.array_equal(left[14 : 14 + CELL, :CELL], right[14 : 14 + CELL, :CELL])  # seed 0's image did not change


def test_review_says_why_data_is_missing(history, tmp_path):
    project, base, _ = history
    clone = Project(tmp_path / "clone")
    project.git("clone", "-q", str(project.root), str(clone.root))
    clone.dvc("remote", "modify", "--local", "shared", "url", str(tmp_path / "nowhere"))
    stale = head_recipe()
    stale["seeds"] = [{"start": 0, "stop": 70}]
    clone.write_recipe(stale)
    clone.write_recipe(tiny_recipe(name="tiny2"), "tiny2")
    text = clone.synth("review", "--base", base).stdout

    assert rows(text, "samples")[0][1:3] == ["40", "**60**"]  # committed metrics need no data
    assert "neither in the DVC cache nor on a reachable remote" in text and "`dvc pull data/tiny`" in text
    assert "> after: no data in data/tiny: run `dvc repro` (or `dvc pull`)" in text
    assert "made from an older recipe (seeds changed since" in text
    tiny2 = text.split("### `tiny2`")[1]
    assert "> before: `tiny2` is new in this change" in tiny2
    assert "> after: no `reports/tiny2/validation.json` here: run `dvc repro`" in tiny2


def test_bad_base_root_is_one_line(history, tmp_path):
    project, base, _ = history
    result = project.synth("review", "--base", base, "--base-root", str(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"--base-root {tmp_path}: not a checkout of this project (no dvc.yaml)"


def test_params_by_field_one_line_per_change():
    before = tiny_recipe()
    after = tiny_recipe()
    after["taxonomy"]["classes"][2]["name"] = "oak"
    after["taxonomy"]["classes"][2]["color"] = "#000000"
    del after["taxonomy"]["classes"][0]
    assert params_rows(before, after) == [
        ("taxonomy.classes[id=1]", before["taxonomy"]["classes"][0], None),
        ("taxonomy.classes[id=3].color", "#4363d8", "#000000"),
        ("taxonomy.classes[id=3].name", "tree", "oak"),
    ]
    assert params_rows(before, tiny_recipe()) == []


def test_a_prompt_edit_changes_prompts_not_pixels_and_the_review_counts_them(project):
    """A class's prompt renamed: ``scenes`` draws the same pixels (it does not read the text), but the dataset's
    ``prompt`` column changes for every sample with that class, and the seed-by-seed count says so."""
    from synth.publish.review_samples import compare, diff_markdown, read_states
    from synth.recipe import load_recipe

    def states():
        project.synth("synthesize", "tiny", "--quiet")
        project.synth("decode", "tiny", "--quiet")
        return read_states(project.root, load_recipe("tiny", project.root))

    before = states()
    recipe = tiny_recipe()
    recipe["taxonomy"]["classes"][2]["prompt"] = "tall tree"  # was "big tree"
    project.write_recipe(recipe)
    diff = compare(before, states())
    with_tree = [seed for seed, state in sorted(before.items()) if "big tree" in state.prompt]
    assert with_tree and diff.images_changed == [] and diff.masks_changed == []
    assert diff.prompts_changed == with_tree and diff.changed == with_tree
    line = diff_markdown(diff)[0]
    assert line.startswith(f"**samples**: {len(with_tree)} of the 40 seeds on both sides changed bytes (images 0, ")
    assert f"masks 0, prompts {len(with_tree)})" in line and not line.endswith("....")


def test_only_changed_rows_are_shown_and_the_rest_counted():
    lines = table([("same", 1, 1), ("up", 0.5, 0.75), ("new", None, 3)])
    assert lines[2] == "| **up** | 0.5 | **0.75** | **+0.25 (+50%)** |"
    assert lines[3] == "| **new** | absent | **3** | **new** |"
    assert lines[4:] == ["", "1 row the same on both sides, left out."]
    assert table([("same", 1, 1)]) == ["1 row the same on both sides, left out."]
    assert change("passed", "FAILED") == "**changed**"


def test_workflow_script_builds_the_same_seeds_for_base_and_head(history, tmp_path):
    """What the pull-request workflow runs, in a fresh clone as CI has it (no data, no DVC cache)."""
    project, base, _ = history
    clone = tmp_path / "checkout"
    project.git("clone", "-q", str(project.root), str(clone))
    env = Project(clone).env | {"PYTHON": sys.executable}
    script = REPO / ".github/scripts/review.sh"
    result = subprocess.run(
        ["bash", str(script), base, "out", "16"], cwd=clone, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    text = (clone / "out/review.md").read_text()
    assert rows(text, "samples")[0][1:3] == ["40", "**60**"]
    assert "`reports/tiny/review.png` (seeds 0, 3, 6, 9, 12, 15)" in text
    assert "> before:" not in text and "> after:" not in text and "::warning::" not in result.stdout
    with Image.open(clone / "out/tiny/review.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    half = (pixels.shape[1] - GAP) // 2
    left, right = (
        pixels[HEADER : HEADER + 6 * (CELL + 14), :half],
        pixels[HEADER : HEADER + 6 * (CELL + 14), half + GAP :],
    )
    assert left.std() > 20 and right.std() > 20
    assert np.array_equal(left[14 : 14 + CELL, :CELL], right[14 : 14 + CELL, :CELL])  # seed 0, built on both sides
    assert project.git("-C", str(clone), "worktree", "list").stdout.count("\n") == 1  # the base checkout is gone


def fake_gh(tmp_path: Path) -> Path:
    """A stand-in for the GitHub CLI that records each call; ``--edit-last`` fails as when no comment exists yet."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(
        "#!/usr/bin/env bash\n"
        'echo "$*" >> "$GH_LOG"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "$GH_LOG.body"; shift; done\n'
        'grep -q -- --edit-last <(tail -1 "$GH_LOG") && exit 1 || exit 0\n'
    )
    gh.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("size", [200, 70_000])
def test_comment_script_posts_the_review_with_links(tmp_path, size):
    review = tmp_path / "review.md"
    review.write_text("## Recipe review\n" + "x" * size + "\n")
    summary = tmp_path / "summary.md"
    env = dict(os.environ) | {
        "PATH": f"{fake_gh(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "GH_LOG": str(tmp_path / "gh.log"),
        "PR": "7",
        "ARTIFACT_URL": "https://example.invalid/artifacts/1",
        "RUN_URL": "https://example.invalid/runs/1",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = subprocess.run(
        ["bash", str(REPO / ".github/scripts/review-comment.sh"), str(review)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert [c.split(" --body-file")[0] for c in calls] == ["pr comment 7 --edit-last", "pr comment 7"]
    body = (tmp_path / "gh.log.body").read_text()
    assert body.startswith("## Recipe review") and len(body) < 65536
    assert "[artifact `recipe-review`](https://example.invalid/artifacts/1)" in body
    assert "of [this run](https://example.invalid/runs/1)." in body
    assert ("the rest is in the artifact" in body) == (size > 60_000)
    assert summary.read_text() == body


@pytest.fixture
def s3_endpoint(monkeypatch) -> str:
    """A real S3 API on loopback (moto's server) for a DVC remote through dvc-s3."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="datasets")
    yield f"http://{host}:{port}"
    server.stop()


def test_review_reads_the_base_from_an_s3_remote(history, tmp_path, s3_endpoint):
    """The documented flow: the base's data is pushed to an S3 remote; a reviewer's clone has no DVC cache."""
    project, base, _ = history
    builder = Project(tmp_path / "builder")
    project.git("clone", "-q", str(project.root), str(builder.root))
    builder.git("checkout", "-q", base)
    builder.dvc("pull", "-r", "shared", "data/tiny/samples", "data/tiny/masks")  # the base, from the folder remote
    builder.dvc("remote", "add", "--local", "s3", "s3://datasets/dvc")
    builder.dvc("remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    builder.dvc("push", "-r", "s3", "data/tiny/samples", "data/tiny/masks")

    reviewer = Project(tmp_path / "reviewer")
    project.git("clone", "-q", str(project.root), str(reviewer.root))
    reviewer.dvc("remote", "add", "--local", "--default", "s3", "s3://datasets/dvc")
    reviewer.dvc("remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    reviewer.dvc("remote", "modify", "--local", "shared", "url", str(tmp_path / "nowhere"))  # S3 or nothing
    text = reviewer.synth("review", "--base", base).stdout
    assert "`reports/tiny/review.png`" in text and "> before:" not in text
    assert "> after: no data in data/tiny" in text  # the head was never pushed: one line says so
    with Image.open(reviewer.root / "reports/tiny/review.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    half = (pixels.shape[1] - GAP) // 2
    assert pixels[HEADER : HEADER + 6 * (CELL + 14), :half].std() > 20  # the base's samples, from S3
