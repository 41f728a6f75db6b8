"""Before | after | change tables for a review, from the committed metrics of both sides.

Only rows whose value changed are shown, highlighted (bold label and values, and a change column); a line under each
table counts the rows left out because both sides hold the same value, so a reviewer's eye goes to what the pull
request does. A value a side does not have is written as a word that says
why (``absent``: a class or metric that side does not define), never as a bare dash.
"""

from __future__ import annotations

import json
import math

from synth.publish.review_sides import Side

ABSENT = "absent"


def fmt(value) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, separators=(", ", ": "), sort_keys=True).replace("|", "\\|") + "`"
    return str(value).replace("|", "\\|")


def change(before, after) -> str:
    if before == after:
        return ""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (before, after))
    if numbers:
        delta = after - before
        text = f"{delta:+.4g}"
        if before:
            text += f" ({delta / abs(before):+.0%})"
        return f"**{text}**"
    if before is None:
        return "**new**"
    if after is None:
        return "**gone**"
    return "**changed**"


def table(rows: list[tuple[str, object, object]], first: str = "") -> list[str]:
    """``rows``: (label, before, after). Markdown lines of the changed rows, in bold, and a count of the others."""
    changed = [(label, before, after) for label, before, after in rows if before != after]
    same = len(rows) - len(changed)
    note = [f"{same} {'row' if same == 1 else 'rows'} the same on both sides, left out."] if same else []
    if not changed:
        return note or ["Nothing to compare."]
    lines = [f"| {first} | before | after | change |", "|---|---:|---:|---:|"]
    for label, before, after in changed:
        lines.append(f"| **{label}** | {fmt(before)} | **{fmt(after)}** | {change(before, after)} |")
    return lines + ([""] + note if note else [])


def _get(data: dict | None, *keys):
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _verdict(validation: dict | None) -> str | None:
    """The same words as the report, the card and the Data Docs (validation/outcome.py)."""
    from validation.outcome import verdict

    if validation is None:
        return None
    return verdict(bool(validation.get("success")), validation.get("expectations") or {})


def _failed(validation: dict | None, severity: str) -> str | None:
    counts = _get(validation, "expectations", severity)
    if not counts:
        return None
    return f"{counts.get('failed', 0) + counts.get('errored', 0)} of {counts.get('evaluated', 0)}"


def _megabytes(samples: tuple[int, int] | None, masks: tuple[int, int] | None) -> float | None:
    return round((samples[1] + masks[1]) / 1e6, 2) if samples and masks else None


def overview_rows(before: Side, after: Side) -> list[tuple[str, object, object]]:
    """Counts, validation outcome and data-quality numbers of the dataset as a whole."""
    a, b = before.reports.get("validation.json"), after.reports.get("validation.json")
    shards_a, shards_b = (
        before.out_files("synthesize", f"data/{before.name}/samples"),
        after.out_files("synthesize", f"data/{after.name}/samples"),
    )
    masks_a, masks_b = (
        before.out_files("decode", f"data/{before.name}/masks"),
        after.out_files("decode", f"data/{after.name}/masks"),
    )
    rows = [
        ("samples", _get(a, "samples"), _get(b, "samples")),
        ("shards", shards_a and shards_a[0], shards_b and shards_b[0]),
        ("samples + masks (MB)", _megabytes(shards_a, masks_a), _megabytes(shards_b, masks_b)),
        ("validation", _verdict(a), _verdict(b)),
        ("error expectations failed", _failed(a, "error"), _failed(b, "error")),
        ("warning expectations failed", _failed(a, "warning"), _failed(b, "warning")),
        ("class KL (observed ‖ target)", _get(a, "class_kl"), _get(b, "class_kl")),
    ]
    for key, label in (
        ("empty_fraction", "empty samples"),
        ("duplicate_fraction", "near-duplicates"),
        ("mean_ignore_fraction", "mean ignore fraction"),
        ("mean_confidence", "mean confidence"),
    ):
        if _get(a, key) is not None or _get(b, key) is not None:
            rows.append((label, _get(a, key), _get(b, key)))
    ea, eb = before.reports.get("evaluate.json"), after.reports.get("evaluate.json")
    for variant in sorted(set(_get(ea, "miou") or {}) | set(_get(eb, "miou") or {})):
        rows.append((f"evaluate mIoU ({variant})", _get(ea, "miou", variant), _get(eb, "miou", variant)))
    sa, sb = before.reports.get("stylize.json"), after.reports.get("stylize.json")
    if sa or sb:
        rows.append(
            (
                "stylize domain distance after",
                _get(sa, "domain_distance", "after"),
                _get(sb, "domain_distance", "after"),
            )
        )
    return rows


def class_tables(before: Side, after: Side) -> list[str]:
    """Per class: presence, pixel share, and frequency against the recipe's target, each before | after | change."""
    a = _get(before.reports.get("validation.json"), "classes") or {}
    b = _get(after.reports.get("validation.json"), "classes") or {}
    names = list(b) + [n for n in a if n not in b]
    if not names:
        return []
    out: list[str] = []
    for stat, title in (("presence", "share of samples with the class"), ("pixel_share", "share of labeled pixels")):
        out += [f"**{stat.replace('_', ' ')}** ({title})", ""]
        out += table([(f"`{n}`", _get(a, n, stat), _get(b, n, stat)) for n in names], "class") + [""]
    out += ["**frequency vs target** (how often the class is drawn, against the recipe's `weight`)", ""]
    rows = []
    for n in names:
        ta, tb = _get(a, n, "target"), _get(b, n, "target")
        target = fmt(tb if tb is not None else ta) if ta == tb or None in (ta, tb) else f"{fmt(ta)} → {fmt(tb)}"
        rows.append((f"`{n}` (target {target})", _get(a, n, "frequency"), _get(b, n, "frequency")))
    out += table(rows, "class") + [""]
    return out


def _failure_key(item: dict) -> str:
    target = f"{item.get('expectation')}({item.get('column')})" if item.get("column") else str(item.get("expectation"))
    return f"{item.get('severity')}: {item.get('suite')}: {target}"


def _observed(value) -> str:
    if isinstance(value, dict) and "unexpected_count" in value:
        return f"{value['unexpected_count']} of {value['element_count']} rows outside"
    return f"{value:.4g}" if isinstance(value, float) else fmt(value)


def _failure_cell(item: dict | None, side: Side, column: str | None) -> str:
    """The outcome on one side; an expectation about a class that side does not have is ``absent`` there."""
    if "validation_details.json" not in side.reports:
        return ABSENT
    classes = _get(side.reports.get("validation.json"), "classes") or {}
    if item is None and column and "__" in column and column.split("__", 1)[1] not in classes:
        return ABSENT
    if item is None:
        return "passed"
    if item.get("status") == "errored":
        return f"**errored**: {item.get('exception')}"
    observed = _observed(item.get("observed"))
    limits = ", ".join(f"{k} {fmt(v)}" for k, v in (item.get("thresholds") or {}).items())
    field = f" ({item['recipe_field']}: {limits})" if item.get("recipe_field") else f" ({limits})" if limits else ""
    return f"**failed**: observed {observed}{field}"


def failure_table(before: Side, after: Side) -> list[str]:
    """Every expectation that fails on either side, named, with its outcome before and after."""
    a = {_failure_key(f): f for f in (_get(before.reports.get("validation_details.json"), "failures") or [])}
    b = {_failure_key(f): f for f in (_get(after.reports.get("validation_details.json"), "failures") or [])}
    keys = list(b) + [k for k in a if k not in b]
    if not keys:
        return ["No expectation fails, before or after."]
    lines = ["| failing expectation | before | after |", "|---|---|---|"]
    same = 0
    for key in keys:
        column = (b.get(key) or a.get(key) or {}).get("column")
        cells = _failure_cell(a.get(key), before, column), _failure_cell(b.get(key), after, column)
        if cells[0] == cells[1]:  # fails the same way on both sides: not what this change does
            same += 1
            continue
        lines.append(f"| `{key}` | {cells[0]} | {cells[1]} |")
    note = f"{same} {'expectation fails' if same == 1 else 'expectations fail'} the same way on both sides, left out."
    if len(lines) == 2:
        return [note]
    return lines + (["", note] if same else [])


def flatten_params(value, prefix: str = "") -> dict[str, object]:
    """Leaf fields by path. A list of mappings with an ``id`` (taxonomy classes) is keyed by id, so a changed class
    is its changed fields and an added or removed class is one line; other lists stay one value."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(flatten_params(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) and "id" in v for v in value):
        out = {}
        for item in value:
            out[f"{prefix}[id={item['id']}]"] = item
        return out
    return {prefix: value}


def params_rows(before: dict | None, after: dict | None) -> list[tuple[str, object, object]]:
    """One row per changed field; inside a class present on both sides, one row per changed class field."""
    a, b = flatten_params(before or {}), flatten_params(after or {})
    rows = []
    for key in sorted(set(a) | set(b), key=lambda k: (k.split("[")[0], k)):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if isinstance(va, dict) and isinstance(vb, dict):  # the same class on both sides: its changed fields
            for sub in sorted(set(va) | set(vb)):
                if va.get(sub) != vb.get(sub):
                    rows.append((f"{key}.{sub}", va.get(sub), vb.get(sub)))
        else:
            rows.append((key, va, vb))
    return rows


def params_table(rows: list[tuple[str, object, object]]) -> list[str]:
    if not rows:
        return ["No parameter changed."]
    lines = ["| field | before | after |", "|---|---|---|"]
    lines += [f"| `{key}` | {fmt(va)} | {fmt(vb)} |" for key, va, vb in rows]
    return lines
