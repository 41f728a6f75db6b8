"""Publishing against a loopback Hub stand-in, driven by the real huggingface_hub client, read back with the real
datasets.load_dataset; faults, refusals, the registry, and that the token is never written anywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clone_project, tiny_recipe, variant_recipe
from tests.hubserver import HubServer

pytestmark = pytest.mark.slow
TOKEN = "hf_testtoken_0123456789abcdefSECRET"

LOAD = """
import json, sys, numpy as np
from datasets import load_dataset
ds = load_dataset(sys.argv[1], revision=sys.argv[2])
print(json.dumps({split: sorted((row["seed"], np.asarray(row["mask"]).tobytes().hex()[:64], row["image"].size[0]) for row in rows)
                  for split, rows in ds.items()}))
"""


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "5")
        yield server


@pytest.fixture(scope="module")
def built_with_hub_repo(tmp_path_factory, tiny_validated):
    """The validated tiny project (conftest's template) with ``hub_repo`` set and committed, then built (a Hub
    repository name changes no sample and no validation result, only the card and lineage the build writes)."""
    project = clone_project(tiny_validated, tmp_path_factory.mktemp("publish") / "project")
    project.write_recipe(tiny_recipe(hub_repo="synth-org/tiny"))
    project.commit("hub repo")
    project.synth("build", "tiny")
    return project


@pytest.fixture
def built(tmp_path, built_with_hub_repo):
    """This test's own copy of ``built_with_hub_repo``."""
    return clone_project(built_with_hub_repo, tmp_path / "project")


def local_rows(project) -> dict:
    script = LOAD.replace("load_dataset(sys.argv[1], revision=sys.argv[2])", "load_dataset(sys.argv[1])")
    out = subprocess.run(
        [sys.executable, "-c", script, str(project.root / "build/tiny"), "-"],
        env=project.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def commits(hub) -> int:
    repo = hub.state.repo("dataset", "synth-org/tiny")
    return len(repo.commits) - 1  # without the repo's initial commit


def test_publish_then_load_dataset_reads_exactly_the_build(built, hub):
    result = built.synth("publish", "tiny")
    assert "synth-org/tiny@v1.0.0: published" in result.stdout
    repo = hub.state.repo("dataset", "synth-org/tiny")
    assert "v1.0.0" in repo.tags and commits(hub) == 1
    remote = subprocess.run(
        [sys.executable, "-c", LOAD, "synth-org/tiny", "v1.0.0"], env=built.env, capture_output=True, text=True
    )
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert json.loads(remote.stdout.strip().splitlines()[-1]) == local_rows(built)

    entry = json.loads((built.root / "registry/tiny.json").read_text())
    assert entry["versions"][-1]["tag"] == "v1.0.0" and entry["versions"][-1]["hub_commit"] == repo.tags["v1.0.0"]
    assert "v1.0.0" in built.synth("registry").stdout
    assert "v1.0.0" in built.synth("registry", "show", "tiny").stdout

    again = built.synth("publish", "tiny")
    assert "already published" in again.stdout and commits(hub) == 1  # identical content: no new commit
    assert TOKEN in hub.state.tokens_seen  # the client did authenticate with it ...
    for text in (result.stdout, result.stderr, again.stdout, again.stderr):
        assert TOKEN not in text  # ... and it was never printed
    for path in built.root.rglob("*"):
        if path.is_file() and ".git/" not in str(path):
            assert TOKEN.encode() not in path.read_bytes(), path  # nor written to any file


@pytest.mark.parametrize("fault", ["fail_commits", "drop_commits"])
def test_failure_midway_leaves_no_tag_and_a_rerun_makes_one_commit(built, hub, fault):
    setattr(hub.state, fault, 100)  # every commit attempt of the first run fails (the client retries some)
    failed = built.synth("publish", "tiny", check=False)
    assert failed.returncode == 2 and "nothing was tagged" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    repo = hub.state.repo("dataset", "synth-org/tiny")
    assert repo.tags == {} and commits(hub) == 0
    setattr(hub.state, fault, 0)
    built.synth("publish", "tiny")
    assert list(repo.tags) == ["v1.0.0"] and commits(hub) == 1


def test_refusals(built, hub, monkeypatch):
    built.synth("publish", "tiny")
    # same version, other content: must bump the version
    recipe = tiny_recipe(hub_repo="synth-org/tiny", seeds=[{"start": 0, "stop": 50}])
    built.write_recipe(recipe)
    dirty = built.synth("publish", "tiny", check=False)
    assert dirty.returncode == 2 and "uncommitted changes" in dirty.stderr
    built.commit("more seeds")
    check = built.synth("check", check=False)
    assert check.returncode == 2 and "recipes/tiny.yaml: version: version 1.0.0 is already published" in check.stderr
    for stage in ("synthesize", "decode"):
        built.synth(stage, "tiny", "--quiet")
    built.synth("validate", "tiny")
    built.synth("build", "tiny")
    other = built.synth("publish", "tiny", check=False)
    assert (
        other.returncode == 2
        and "already published on synth-org/tiny with other content; bump the version" in other.stderr
    )
    # failed validation
    summary = built.root / "build/tiny/lineage.json"
    lineage = json.loads(summary.read_text())
    lineage["validation"]["success"] = False
    summary.write_text(json.dumps(lineage))
    invalid = built.synth("publish", "tiny", check=False)
    assert invalid.returncode == 2 and "validation failed" in invalid.stderr
    # missing token
    monkeypatch.delenv("HF_TOKEN")
    lineage["validation"]["success"] = True
    summary.write_text(json.dumps(lineage))
    no_token = built.synth("publish", "tiny", check=False)
    assert no_token.returncode == 2
    assert (
        no_token.stderr.strip()
        == "HF_TOKEN: not set and no stored Hugging Face login; set HF_TOKEN or run `hf auth login`"
    )


def test_every_config_goes_up_in_the_same_commit(tmp_path, tiny_variants, hub):
    """A recipe with variants: the one commit holds the default config and every variant config, byte for byte
    what build/tiny holds, and the Hub serves a variant config by name at the tag."""
    project = clone_project(tiny_variants, tmp_path / "project")  # every variant made and validated
    project.write_recipe(variant_recipe(hub_repo="synth-org/tiny"))
    project.commit("hub repo")
    project.synth("build", "tiny")
    project.synth("publish", "tiny")

    repo = hub.state.repo("dataset", "synth-org/tiny")
    assert commits(hub) == 1 and list(repo.tags) == ["v1.0.0"]
    build = project.root / "build/tiny"
    local = {p.relative_to(build).as_posix(): p.read_bytes() for p in build.rglob("*") if p.is_file()}
    remote = {k: v for k, v in repo.resolve("v1.0.0").files.items() if k != ".gitattributes"}
    assert remote == local
    assert {name.split("/")[0] for name in remote if "/" in name} == {"data", "mixed", "stylized"}

    script = LOAD.replace("revision=sys.argv[2]", "sys.argv[3], revision=sys.argv[2]")
    loaded = subprocess.run(
        [sys.executable, "-c", script, "synth-org/tiny", "v1.0.0", "stylized"],
        env=project.env,
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    rows = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert sum(len(split) for split in rows.values()) == 40
    local_script = LOAD.replace(
        "load_dataset(sys.argv[1], revision=sys.argv[2])", "load_dataset(sys.argv[1], sys.argv[3])"
    )
    here = subprocess.run(
        [sys.executable, "-c", local_script, str(build), "-", "stylized"],
        env=project.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(here.stdout.strip().splitlines()[-1]) == rows


def test_dry_run_lists_files_and_tag(built, hub):
    result = built.synth("publish", "tiny", "--dry-run")
    assert "synth-org/tiny@v1.0.0: dry run" in result.stdout and "README.md" in result.stdout
    assert hub.state.repo("dataset", "synth-org/tiny") is None


def test_review_shows_the_semantic_diff(project):
    base = project.git("rev-parse", "HEAD").stdout.strip()
    recipe = tiny_recipe(version="1.1.0", seeds=[{"start": 0, "stop": 60}])
    recipe["taxonomy"]["classes"][2]["name"] = "oak"
    recipe["taxonomy"]["classes"].append({"id": 4, "name": "dog", "color": "#ffe119"})
    recipe["prompts"]["templates"].append("{classes} at night")
    recipe["generator"]["max_scale"] = 0.4
    recipe["validation"]["max_class_kl"] = 1.0
    project.write_recipe(recipe)
    project.commit("change tiny")
    text = project.synth("review", "--base", base).stdout
    for expected in [
        "### `tiny`",
        "version bumped: `1.0.0` → `1.1.0`",
        "class renamed: 3 `tree` → `oak`",
        "class added: 4 `dog`",
        "prompt template added: “{classes} at night”",
        "seeds: [0, 40) → [0, 60) (40 → 60 samples)",
        "generator setting `generator.max_scale`: `0.3` → `0.4`",
        "validation `validation.max_class_kl`: `2.0` → `1.0`",
        "#### Params by field",
        "| `validation.max_class_kl` | 2 | 1 |",
    ]:
        assert expected in text, expected
