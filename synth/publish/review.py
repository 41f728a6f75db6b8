"""``synth review``: what a pull request's recipe changes change, in words a reviewer reads in a minute."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import yaml

from synth.errors import UserError
from synth.publish.review_sides import Side
from synth.recipe import Recipe


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


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
            lines.append(f"class added: {cid} `{new_classes[cid]['name']}`")
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

        def ranges(seeds: list | None) -> str:
            return ", ".join(f"[{r['start']}, {r['stop']})" for r in seeds or [])

        lines.append(
            f"seeds: {ranges(old.get('seeds'))} → {ranges(new.get('seeds'))} "
            f"({_count(old.get('seeds'))} → {_count(new.get('seeds'))} samples)"
        )
    if old:
        old_gen, new_gen = old.get("generator") or {}, new.get("generator") or {}
        for key in ("type", "model", "revision"):
            if old_gen.get(key) != new_gen.get(key):
                lines.append(f"generator {key}: `{old_gen.get(key)}` → `{new_gen.get(key)}`")
        lines += [
            f"generator setting {c}"
            for c in _settings_changes(
                {"generator": {k: v for k, v in old_gen.items() if k not in ("type", "model", "revision")}},
                {"generator": {k: v for k, v in new_gen.items() if k not in ("type", "model", "revision")}},
                "generator",
            )
        ]
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
        result = subprocess.run(["dvc", *args], cwd=root, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"_`dvc {' '.join(args)}` could not run: {error.__class__.__name__}_"
    if result.returncode != 0:
        return f"_`dvc {' '.join(args)}` failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}_"
    return result.stdout.strip() or "_no differences_"


def _base_recipe_model(side: Side, path: str) -> tuple[Recipe | None, str | None]:
    """The base recipe as a typed Recipe for the picture, or the one line saying why it is not one."""
    from synth.recipe.load import parse_recipe

    if side.recipe is None:
        return None, None
    try:
        return parse_recipe(side.recipe, path), None
    except UserError as error:
        return None, f"the base recipe does not load with this version of synth: {str(error).splitlines()[0]}"


def report_links(root: Path, name: str) -> list[str]:
    """Extra per-recipe lines (e.g. a link to an HTML report); one place, so other report kinds add one line here."""
    from synth.core.paths import DatasetPaths

    page = DatasetPaths(root, name).report_page
    return [f"Report: `{page.relative_to(root)}` (`synth report {name}`; opens offline)", ""]


def samples_section(
    root: Path, base_data: Path | None, base_model: Recipe | None, head_model: Recipe | None, fetched: str | None
) -> list[str]:
    """Seed by seed: how many samples changed bytes, which gained or lost a class; or one line saying why not."""
    from synth.publish.review_samples import compare, diff_markdown, read_states

    out = ["#### Samples, seed by seed", ""]
    if base_model is None or head_model is None:
        return out + ["> one side has no recipe: nothing to compare seed by seed", ""]
    if base_data is None:
        return out + [f"> before: {fetched or 'no data'}", ""]
    try:
        return out + diff_markdown(compare(read_states(base_data, base_model), read_states(root, head_model)))
    except UserError as error:
        return out + [f"> {error}", ""]


def data_section(root: Path, base: str, name: str, base_root: Path | None, image: bool) -> list[str]:
    """Before | after | change tables of the committed metrics, the samples seed by seed, the params by field, and
    the side-by-side picture."""
    from synth.publish.review_image import fetch_from_dvc, review_image
    from synth.publish.review_sides import load_side
    from synth.publish.review_tables import class_tables, failure_table, overview_rows, params_rows, params_table, table

    before, after = load_side(root, name, base), load_side(root, name, None)
    out = ["#### Data", ""]
    notes = [
        f"> {label}: {side.missing or side.stale}"
        for label, side in (("before", before), ("after", after))
        if side.missing or side.stale
    ]
    out += [*notes, *([""] if notes else [])]
    if before.reports or after.reports:
        out += table(overview_rows(before, after)) + [""]
        out += class_tables(before, after)
        out += ["**validation**: failing expectations", "", *failure_table(before, after), ""]
    out.append("#### Params by field")
    out.append("")
    if before.recipe is None or after.recipe is None:
        out.append(f"Every field is {'new' if before.recipe is None else 'removed'}: see `recipes/{name}.yaml`.")
    else:
        out += params_table(params_rows(before.recipe, after.recipe))
    out.append("")
    path = f"recipes/{name}.yaml"
    base_model, why = _base_recipe_model(before, path)
    head_model = None
    if after.recipe is not None:
        from synth.recipe.load import parse_recipe

        head_model = parse_recipe(after.recipe, path)
    with tempfile.TemporaryDirectory(prefix="synth-review-") as scratch:
        base_data, fetched = base_root, None
        if base_data is None and base_model is not None and why is None:  # every base shard, once, through DVC
            fetched = fetch_from_dvc(
                root, base, name, base_model.samples_per_shard, base_model.all_seeds(), Path(scratch)
            )
            base_data = Path(scratch) if fetched is None else None
        out += samples_section(root, base_data, base_model if why is None else None, head_model, fetched)
        if image:
            picture, lines = review_image(root, name, base, base_model if why is None else None, head_model, base_data)
            if why:
                lines.append(f"before: {why}")
            out.append("#### Preview, same seeds: before | after")
            out.append("")
            if picture is not None:
                out.append(f"`{picture.relative_to(root).as_posix()}` ({lines[0]})" if lines else f"`{picture}`")
                lines = lines[1:]
            out += [f"> {line}" for line in lines]
            out.append("")
    out += report_links(root, name)
    return out


def review_markdown(root: Path, base: str, base_root: Path | None = None, image: bool = True) -> str:
    """The whole review: per changed recipe the semantic diff, the data before and after, params by field and the
    side-by-side picture; then params.yaml by field and DVC's own metrics diff, folded."""
    from synth.publish.review_sides import short_rev
    from synth.publish.review_tables import params_rows, params_table

    root = Path(root)
    paths = changed_recipes(root, base)
    out = [f"## Recipe review against `{base}` ({short_rev(root, base)})", ""]
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
        out += [f"- {line}" for line in semantic_diff(old, new)] or [
            "- no semantic change (formatting or comments only)"
        ]
        out.append("")
        out += data_section(root, base, name, base_root, image)
    shown = _git(root, "show", f"{base}:params.yaml")
    old_params = yaml.safe_load(shown.stdout) if shown.returncode == 0 else None
    new_params = yaml.safe_load((root / "params.yaml").read_text()) if (root / "params.yaml").is_file() else None
    rows = params_rows(old_params, new_params)
    if rows:
        out += ["### `params.yaml` by field", "", *params_table(rows), ""]
    out += [
        "<details><summary><code>dvc metrics diff</code> (DVC's own view of the same metrics)</summary>",
        "",
        _dvc(root, "metrics", "diff", base, "--md"),
        "",
        "</details>",
        "",
    ]
    return "\n".join(out)
