"""``synth review``: what a pull request's recipe changes change, in words a reviewer reads in a minute."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from synth.errors import UserError


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def changed_recipes(root: Path, base: str) -> list[str]:
    if _git(root, "rev-parse", "--verify", f"{base}^{{commit}}").returncode != 0:
        raise UserError(f"--base {base}: not a git revision here")
    names = set(_git(root, "diff", "--name-only", base, "--", "recipes/").stdout.split())
    names |= set(_git(root, "ls-files", "--others", "--exclude-standard", "--", "recipes/").stdout.split())
    return sorted(n for n in names if n.endswith((".yaml", ".yml")))


def _old(root: Path, base: str, path: str) -> dict | None:
    shown = _git(root, "show", f"{base}:{path}")
    return yaml.safe_load(shown.stdout) if shown.returncode == 0 else None


def _count(seeds: list[dict] | None) -> int:
    return sum(r["stop"] - r["start"] for r in seeds or [])


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _settings_changes(old: dict | None, new: dict | None, section: str) -> list[str]:
    a, b = _flat((old or {}).get(section) or {}, section), _flat((new or {}).get(section) or {}, section)
    return [f"`{k}`: `{a.get(k)}` → `{b.get(k)}`" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def semantic_diff(old: dict | None, new: dict | None) -> list[str]:
    """Bullet lines: classes added/removed/renamed/changed, prompts, seeds, generator, decode, validation."""
    if new is None:
        return ["recipe **removed**"]
    lines = [] if old is not None else ["recipe **added**"]
    old = old or {}
    old_classes = {c["id"]: c for c in (old.get("taxonomy") or {}).get("classes", [])}
    new_classes = {c["id"]: c for c in (new.get("taxonomy") or {}).get("classes", [])}
    for cid in sorted(set(old_classes) | set(new_classes)):
        a, b = old_classes.get(cid), new_classes.get(cid)
        if a is None:
            lines.append(f"class added: {cid} `{b['name']}`")
        elif b is None:
            lines.append(f"class removed: {cid} `{a['name']}`")
        else:
            if a["name"] != b["name"]:
                lines.append(f"class renamed: {cid} `{a['name']}` → `{b['name']}`")
            for key in sorted((set(a) | set(b)) - {"id", "name"}):
                if a.get(key) != b.get(key):
                    lines.append(f"class {cid} `{b['name']}` {key}: `{a.get(key)}` → `{b.get(key)}`")
    old_prompts, new_prompts = old.get("prompts") or {}, new.get("prompts") or {}
    for t in new_prompts.get("templates", []):
        if t not in old_prompts.get("templates", []) and old:
            lines.append(f"prompt template added: “{t}”")
    for t in old_prompts.get("templates", []):
        if t not in new_prompts.get("templates", []):
            lines.append(f"prompt template removed: “{t}”")
    for key in ("negative", "classes_per_sample"):
        if old and old_prompts.get(key) != new_prompts.get(key):
            lines.append(f"prompts {key}: `{old_prompts.get(key)}` → `{new_prompts.get(key)}`")
    if old.get("seeds") != new.get("seeds") and old:
        ranges = lambda s: ", ".join(f"[{r['start']}, {r['stop']})" for r in s or [])  # noqa: E731
        lines.append(f"seeds: {ranges(old.get('seeds'))} → {ranges(new.get('seeds'))} "
                     f"({_count(old.get('seeds'))} → {_count(new.get('seeds'))} samples)")
    if old:
        old_gen, new_gen = old.get("generator") or {}, new.get("generator") or {}
        for key in ("type", "model", "revision"):
            if old_gen.get(key) != new_gen.get(key):
                lines.append(f"generator {key}: `{old_gen.get(key)}` → `{new_gen.get(key)}`")
        lines += [f"generator setting {c}" for c in _settings_changes(
            {"generator": {k: v for k, v in old_gen.items() if k not in ("type", "model", "revision")}},
            {"generator": {k: v for k, v in new_gen.items() if k not in ("type", "model", "revision")}}, "generator")]
        for section in ("decode", "validation", "splits"):
            lines += [f"{section} {c}" for c in _settings_changes(old, new, section)]
        for key in ("image_size", "image_format", "samples_per_shard", "license", "hub_repo"):
            if old.get(key) != new.get(key):
                lines.append(f"{key}: `{old.get(key)}` → `{new.get(key)}`")
    return lines


def version_line(old: dict | None, new: dict | None) -> str:
    if new is None or old is None:
        return ""
    if old.get("version") == new.get("version"):
        return f"⚠️ version **not bumped** (still `{new.get('version')}`)"
    return f"version bumped: `{old.get('version')}` → `{new.get('version')}`"


def _dvc(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(["dvc", *args], cwd=root, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"_`dvc {' '.join(args)}` could not run: {error.__class__.__name__}_"
    if result.returncode != 0:
        return f"_`dvc {' '.join(args)}` failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}_"
    return result.stdout.strip() or "_no differences_"


def review_markdown(root: Path, base: str) -> str:
    root = Path(root)
    paths = changed_recipes(root, base)
    out = [f"## Recipe review against `{base}`", ""]
    if not paths:
        out.append("No recipe changed.")
    for path in paths:
        new_file = root / path
        new = yaml.safe_load(new_file.read_text()) if new_file.is_file() else None
        old = _old(root, base, path)
        name = Path(path).stem
        out += [f"### `{name}`", ""]
        version = version_line(old, new)
        if version:
            out += [version, ""]
        out += [f"- {line}" for line in semantic_diff(old, new)] or ["- no semantic change (formatting or comments only)"]
        preview = root / "reports" / name / "preview.png"
        if preview.is_file():
            out += ["", f"Preview after: `{preview.relative_to(root)}` (`dvc plots diff {base}` shows before and after)"]
        out += ["", f"Report: `reports/{name}/report/index.html` (`synth report {name}`; opens offline)", ""]
    out += ["### `dvc params diff`", "", _dvc(root, "params", "diff", base, "--md"), "",
            "### `dvc metrics diff`", "", _dvc(root, "metrics", "diff", base, "--md"), ""]
    return "\n".join(out)
