"""Fixtures that build a throw-away copy of the project, as a user's checkout would look, and drive it through
the real CLI and DVC. Tiny recipes (64 px, a few dozen seeds) keep every end-to-end test to seconds, and the
states many tests start from (the tiny recipe synthesized and decoded, validated, built, or through `dvc repro`)
are made once per test worker by the real commands and copied into each test's own folder."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    "recipes",
    "synth",
    "validation",
    "annotations",
    ".dvc/config",
    ".dvcignore",
    "pyproject.toml",
    "models/README.md",  # the stages depend on models/; the weights stay behind (tests build tiny models)
    "real/fashion-mnist/README.md",  # evaluate depends on real/; the labeled sets stay behind (tests write their own)
]

TINY_RECIPE = {
    "name": "tiny",
    "version": "1.0.0",
    "description": "A tiny recipe for tests.",
    "license": "cc-by-4.0",
    "generator": {"type": "scenes", "instances": {"min": 1, "max": 2}, "min_scale": 0.15, "max_scale": 0.3},
    "taxonomy": {
        "classes": [
            {"id": 1, "name": "car", "color": "#e6194b"},
            {"id": 2, "name": "wheel", "color": "#3cb44b", "parent": "car", "weight": 0.5},
            {"id": 3, "name": "tree", "color": "#4363d8", "prompt": "big tree"},
        ]
    },
    "prompts": {"templates": ["a photo of {classes}"], "negative": "blurry"},
    "hub_repo": None,
    "seeds": [{"start": 0, "stop": 40}],
    "image_size": 64,
    "samples_per_shard": 10,
    "image_format": "png",
    "splits": {"train": 0.8, "validation": 0.1, "test": 0.1},
    "decode": {"type": "exact"},
    "validation": {"min_class_presence": 0.05, "max_class_kl": 2.0, "max_ignore_fraction": 0.0},
    "evaluate": None,
}


def tiny_recipe(**changes) -> dict:
    recipe = copy.deepcopy(TINY_RECIPE)
    recipe.update(changes)
    return recipe


NIGHT = {"background_palette": "night", "tint": [0.6, 0.8, 1.3], "gamma": 1.4}


def variant_recipe(**changes) -> dict:
    """The tiny recipe with small mix and stylize sections (the settings tests/test_mixing.py and
    tests/test_adaptation.py use), so a whole pipeline stays to seconds."""
    data = tiny_recipe()
    data["mix"] = {"count": 12, "samples_per_shard": 5, "seed": 7, "pairing": "cross-class"}
    data["target"] = {"images": {"type": "scenes", "seeds": {"start": 1000, "stop": 1008}, "generator": NIGHT}}
    data["stylize"] = {"method": "reinhard", "strength": 1.0}
    data.update(changes)
    return data


def cli_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    # `pytest -n 2` already keeps every core busy: a command's own worker processes (synthesize, decode and
    # train-decoder default to one per core) would only oversubscribe them. Tests of the workers pass --workers.
    env.setdefault("SYNTH_WORKERS", "1")
    return env


@dataclass
class Project:
    root: Path

    @property
    def env(self) -> dict[str, str]:
        return cli_env(self.root)

    def synth(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run([sys.executable, "-m", "synth", *args], check)

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run([sys.executable, "-m", "dvc", *args], check)

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run(["git", *args], check)

    def _run(self, argv: list[str], check: bool) -> subprocess.CompletedProcess:
        result = subprocess.run(argv, cwd=self.root, env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv[1:])} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def write_recipe(self, recipe: dict, name: str | None = None) -> Path:
        path = self.root / "recipes" / f"{name or recipe['name']}.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        return path

    def read_recipe(self, name: str) -> dict:
        return yaml.safe_load((self.root / "recipes" / f"{name}.yaml").read_text())

    def use_recipes(self, *names: str, **lists: list[str]) -> None:
        """``recipes`` = names; other ``*_recipes`` lists of params.yaml (optional stages) are emptied unless
        given, e.g. ``use_recipes("tiny", adapt=["tiny"])`` sets ``adapt_recipes``."""
        path = self.root / "params.yaml"
        params = yaml.safe_load(path.read_text()) if path.exists() else {}
        params = {key: [] if key.endswith("_recipes") else value for key, value in (params or {}).items()}
        params["recipes"] = list(names)
        params.update({f"{key}_recipes": list(value) for key, value in lists.items()})
        path.write_text(yaml.safe_dump(params))

    def commit(self, message: str = "update") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


def copy_project(dest: Path) -> Project:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    shutil.copy2(REPO / ".gitignore", dest / ".gitignore")  # reports/NAME/*.json versioned, as in the repository
    # The frozen train-generator stage trains the committed fashion model, which test projects do not copy:
    # left in, `dvc status` would list its missing output in every test.
    stages = yaml.safe_load((dest / "dvc.yaml").read_text())
    stages["stages"].pop("train-generator", None)
    (dest / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    project = Project(dest)
    project.git("init", "-q")
    project.git("config", "user.email", "tests@example.invalid")
    project.git("config", "user.name", "tests")
    return project


def tiny_project(dest: Path) -> Project:
    """A copy of this repository with only the tiny recipe in params.yaml, committed to a fresh git repo."""
    proj = copy_project(dest)
    proj.write_recipe(tiny_recipe())
    proj.use_recipes("tiny")
    proj.commit("initial")
    return proj


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """This test's own ``tiny_project``: nothing made yet."""
    return tiny_project(tmp_path / "project")


def clone_project(template: Project, dest: Path) -> Project:
    """A copy of a project a session fixture prepared: git history, data, reports, dvc.lock and DVC cache, so a
    test gets the state those commands left without running them again. DVC's state database (.dvc/tmp) stays
    behind: it keys file hashes by inode, and every copied file has a new one."""
    shutil.copytree(template.root, dest, symlinks=True, ignore=_dvc_tmp)
    return Project(dest)


def _dvc_tmp(folder: str, names: list[str]) -> list[str]:
    return ["tmp"] if Path(folder).name == ".dvc" and "tmp" in names else []


@pytest.fixture(scope="session")
def tiny_decoded(tmp_path_factory) -> Project:
    """Template (no test changes it): ``tiny_project`` then `synth synthesize` and `synth decode`."""
    proj = tiny_project(tmp_path_factory.mktemp("tiny-decoded") / "project")
    proj.synth("synthesize", "tiny", "--quiet")
    proj.synth("decode", "tiny", "--quiet")
    return proj


@pytest.fixture(scope="session")
def tiny_validated(tmp_path_factory, tiny_decoded: Project) -> Project:
    """Template: ``tiny_decoded`` then `synth validate` (it passes)."""
    proj = clone_project(tiny_decoded, tmp_path_factory.mktemp("tiny-validated") / "project")
    proj.synth("validate", "tiny")
    return proj


@pytest.fixture(scope="session")
def tiny_built(tmp_path_factory, tiny_validated: Project) -> Project:
    """Template: ``tiny_validated`` then `synth build`."""
    proj = clone_project(tiny_validated, tmp_path_factory.mktemp("tiny-built") / "project")
    proj.synth("build", "tiny")
    return proj


@pytest.fixture(scope="session")
def tiny_reproduced(tmp_path_factory) -> Project:
    """Template: ``tiny_project`` after a whole `dvc repro` (not committed)."""
    proj = tiny_project(tmp_path_factory.mktemp("tiny-reproduced") / "project")
    proj.dvc("repro")
    return proj


@pytest.fixture(scope="session")
def tiny_variants_base(tmp_path_factory, tiny_decoded: Project) -> Project:
    """Template: ``tiny_decoded`` with ``variant_recipe()`` committed (its generator is the tiny recipe's, so the
    decoded samples are its own), validated and built before any variant exists."""
    proj = clone_project(tiny_decoded, tmp_path_factory.mktemp("tiny-variants-base") / "project")
    proj.write_recipe(variant_recipe())
    proj.commit("variants")
    proj.synth("validate", "tiny")
    proj.synth("build", "tiny")
    return proj


@pytest.fixture(scope="session")
def tiny_variants(tmp_path_factory, tiny_variants_base: Project) -> Project:
    """Template: ``tiny_variants_base`` after `synth mix`, `target`, `stylize` and `validate-variants`."""
    proj = clone_project(tiny_variants_base, tmp_path_factory.mktemp("tiny-variants") / "project")
    proj.synth("mix", "tiny", "--quiet")
    proj.synth("target", "tiny")
    proj.synth("stylize", "tiny", "--quiet")
    result = proj.synth("validate-variants", "tiny")
    assert "mixed passed" in result.stderr and "stylized passed" in result.stderr
    return proj


def _own_copy_of(template: str) -> object:
    """A function-scoped fixture giving each test its own copy of the session template ``template``."""

    def own_copy(tmp_path: Path, request: pytest.FixtureRequest) -> Project:
        return clone_project(request.getfixturevalue(template), tmp_path / "project")

    own_copy.__doc__ = f"This test's own copy of ``{template}``."
    return pytest.fixture(own_copy, name=template.replace("tiny_", "") + "_project")


decoded_project = _own_copy_of("tiny_decoded")
validated_project = _own_copy_of("tiny_validated")
built_project = _own_copy_of("tiny_built")
reproduced_project = _own_copy_of("tiny_reproduced")
