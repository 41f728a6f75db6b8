"""``synth publish``: one Hub commit per version, then a tag; nothing half-visible, nothing twice.

The whole ``build/NAME`` folder goes up in a single ``create_commit`` (additions plus deletions of files that
are no longer there, such as old shards). The tag ``v<version>`` is created only after that commit succeeded, so
a failure midway leaves no tagged version; a rerun finds the commit (or makes it) and tags it. The token comes
only from huggingface_hub's own lookup (``HF_TOKEN`` or ``hf auth login``) and is never printed or written.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.publish.registry import data_hash, record_version
from synth.recipe import Recipe, recipe_hash, recipe_path

REPO_TYPE = "dataset"


@dataclass
class PublishReport:
    repo: str
    tag: str
    action: str  # "published", "already published", "tagged existing commit", "dry run"
    commit: str | None = None
    files: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"publish: {self.repo}@{self.tag}: {self.action}" + (f" (commit {self.commit})" if self.commit else "")
        return [head] + [f"  + {f}" for f in self.files] + [f"  - {f}" for f in self.deleted]


def _local_lineage(paths: DatasetPaths, recipe: Recipe) -> dict:
    lineage_file = paths.lineage
    if not lineage_file.is_file():
        raise UserError(f"{paths.build}: no build; run `synth build {recipe.name}` (or `dvc repro`) first")
    lineage = json.loads(lineage_file.read_text())
    if lineage.get("recipe_hash") != recipe_hash(recipe):
        raise UserError(
            f"{paths.build}: built from another version of the recipe; run `synth build {recipe.name}` first"
        )
    return lineage


def _refuse_dirty(root: Path, recipe: Recipe) -> None:
    path = recipe_path(recipe.name, root)
    status = subprocess.run(["git", "status", "--porcelain", "--", str(path)], cwd=root, capture_output=True, text=True)
    if status.returncode != 0:
        raise UserError(f"{path.relative_to(root)}: not in a git repository; publish needs the recipe committed")
    if status.stdout.strip():
        raise UserError(
            f"recipes/{recipe.name}.yaml: has uncommitted changes; commit the recipe, rebuild, then publish"
        )


def _token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise UserError("HF_TOKEN: not set and no stored Hugging Face login; set HF_TOKEN or run `hf auth login`")
    return token


def publish(recipe: Recipe, root: Path = Path("."), force: bool = False, dry_run: bool = False) -> PublishReport:
    root = Path(root)
    paths = DatasetPaths(root, recipe.name)
    if not recipe.hub_repo:
        raise UserError(f"recipes/{recipe.name}.yaml: hub_repo: not set; name the org/name to publish to")
    _refuse_dirty(root, recipe)
    lineage = _local_lineage(paths, recipe)
    if str(lineage.get("git_commit", "")).endswith("+dirty"):
        raise UserError(f"{paths.build}: built from an uncommitted recipe; commit it and rebuild")
    if not lineage.get("validation", {}).get("success") and not force:
        raise UserError(
            f"{paths.build}: validation failed; fix the data, or pass --force to publish it marked unvalidated"
        )
    failed = [v for v, info in lineage.get("variants", {}).items() if not info["validation"].get("success")]
    if failed and not force:
        raise UserError(
            f"{paths.build}: config {failed[0]} failed validation; fix the data, or pass --force to publish it marked "
            "unvalidated"
        )
    tag = f"v{recipe.version}"
    files = sorted(str(p.relative_to(paths.build)) for p in paths.build.rglob("*") if p.is_file())
    if dry_run:
        return PublishReport(recipe.hub_repo, tag, "dry run", files=files)

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # its retry chatter would break the one-line error contract

    api = HfApi(token=_token())
    repo = recipe.hub_repo
    try:
        api.create_repo(repo, repo_type=REPO_TYPE, exist_ok=True)
        refs = api.list_repo_refs(repo, repo_type=REPO_TYPE)
        tags = {t.name: t.target_commit for t in refs.tags}
        if tag in tags:
            remote = _remote_lineage(api, repo, tag)
            if remote.get("content_hash") == lineage["content_hash"]:
                _record(root, recipe, repo, tag, tags[tag], lineage)
                return PublishReport(repo, tag, "already published", commit=tags[tag])
            raise UserError(
                f"recipes/{recipe.name}.yaml: version {recipe.version} is already published on {repo} with other "
                "content; bump the version"
            )
        remote_main = _remote_lineage(api, repo, "main")
        if remote_main.get("content_hash") == lineage["content_hash"] and remote_main.get("version") == recipe.version:
            commit = next(b.target_commit for b in refs.branches if b.name == "main")  # committed before, tag missing
            action = "tagged existing commit"
        else:
            remote_files = set(api.list_repo_files(repo, repo_type=REPO_TYPE, revision="main"))
            deleted = sorted(remote_files - set(files) - {".gitattributes"})
            operations: list[CommitOperationAdd | CommitOperationDelete] = [
                CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(paths.build / f)) for f in files
            ]
            operations += [CommitOperationDelete(path_in_repo=f) for f in deleted]
            info = api.create_commit(
                repo,
                operations=operations,
                repo_type=REPO_TYPE,
                commit_message=f"{recipe.name} {tag}",
                commit_description=f"recipe {lineage['recipe_hash'][:12]}, git {lineage['git_commit']}",
            )
            commit, action = info.oid, "published"
        api.create_tag(repo, tag=tag, revision=commit, repo_type=REPO_TYPE, tag_message=f"{recipe.name} {tag}")
    except HfHubHTTPError as error:
        status = getattr(error.response, "status_code", "?")
        raise UserError(f"{repo}: the Hub answered HTTP {status}; nothing was tagged, rerun to complete") from None
    except Exception as error:
        if not _is_network_error(error):
            raise
        raise UserError(
            f"{repo}: connection failed ({error.__class__.__name__}); nothing was tagged, rerun to complete"
        ) from None
    _record(root, recipe, repo, tag, commit, lineage)
    report = PublishReport(repo, tag, action, commit=commit)
    if action == "published":
        report.files, report.deleted = files, deleted
    return report


def _is_network_error(error: Exception) -> bool:
    """Transport failures of the Hub client's HTTP stack (httpx and its relatives, sockets)."""
    if isinstance(error, (OSError, ConnectionError, TimeoutError)):
        return True
    return any(
        cls.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "requests", "urllib3")
        for cls in type(error).__mro__
    )


def _remote_lineage(api, repo: str, revision: str) -> dict:
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        path = api.hf_hub_download(repo, "lineage.json", repo_type=REPO_TYPE, revision=revision)
    except (EntryNotFoundError, RevisionNotFoundError):
        return {}
    return json.loads(Path(path).read_text())


def _record(root: Path, recipe: Recipe, repo: str, tag: str, commit: str, lineage: dict) -> None:
    record_version(
        root,
        recipe.name,
        repo,
        {
            "version": recipe.version,
            "tag": tag,
            "hub_commit": commit,
            "content_hash": lineage["content_hash"],
            "recipe_hash": lineage["recipe_hash"],
            "data_hash": data_hash(recipe),
            "git_commit": lineage["git_commit"],
            "generator": lineage["generator"],
            "splits": lineage["splits"],
            "validated": bool(lineage.get("validation", {}).get("success")),
        },
    )
