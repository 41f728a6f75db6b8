"""The report's HTML: one page, inline CSS, no script, links only to files beside it and anchors within it."""

from __future__ import annotations

import json
from html import escape

from synth.core.fonts import CSS_FONT_STACK
from validation.outcome import verdict as verdict_of

CSS = f"""
body{{font-family:{CSS_FONT_STACK};margin:0 auto;max-width:1200px;padding:16px 24px;color:#222;background:#fafafa}}
h1{{margin:0 0 4px}}h2{{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}}
nav a{{margin-right:12px}}table{{border-collapse:collapse;margin:8px 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}}
th{{background:#eee}}td.num{{text-align:right;font-variant-numeric:tabular-nums}}
.swatch{{display:inline-block;width:14px;height:14px;border:1px solid #555;vertical-align:middle;margin-right:4px}}
.pass{{background:#2e7d32;color:#fff;padding:2px 8px;border-radius:4px}}
.fail{{background:#c62828;color:#fff;padding:2px 8px;border-radius:4px}}
.warn{{background:#ef6c00;color:#fff;padding:2px 8px;border-radius:4px}}
.charts{{display:flex;flex-wrap:wrap;gap:24px}}.gallery{{display:flex;flex-wrap:wrap;gap:12px}}
figure.sample{{margin:0;background:#fff;border:1px solid #ddd;padding:6px;border-radius:4px}}
figure.sample img{{width:128px;height:128px;margin-right:2px;image-rendering:pixelated;border:1px solid #eee}}
figure.sample figcaption{{font-size:12px;max-width:530px;color:#444}}
.row{{margin:8px 0 16px}}.row h3{{margin:4px 0;font-size:15px}}.muted{{color:#777}}
code{{background:#eee;padding:0 3px;border-radius:3px}}td.examples{{font-size:12px;color:#333;max-width:900px}}
"""


def swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{escape(colour)}"></span>'


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>" if headers else ""
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def sample_card(card: dict, anchor: str | None = None) -> str:
    """``card``: seed, prompt, files (kind -> relative path), note."""
    ident = f' id="{escape(anchor)}"' if anchor else ""
    tiles = "".join(
        f'<img src="{escape(path)}" alt="{escape(kind)} of seed {card["seed"]}" title="{escape(kind)}" loading="lazy">'
        for kind, path in card["files"].items()
    )
    note = f" — {escape(card['note'])}" if card.get("note") else ""
    kinds = " | ".join(card["files"])
    return (
        f'<figure class="sample"{ident}><div>{tiles}</div><figcaption><b>seed {card["seed"]}</b>{note}<br>'
        f'<span class="muted">{escape(kinds)}</span><br>{escape(card["prompt"])}</figcaption></figure>'
    )


def gallery(cards: list[dict], anchor_prefix: str | None = None) -> str:
    if not cards:
        return '<p class="muted">none</p>'
    return (
        '<div class="gallery">'
        + "".join(sample_card(c, f"{anchor_prefix}{c['seed']}" if anchor_prefix else None) for c in cards)
        + "</div>"
    )


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return escape(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return escape(str(value))


def observed(value) -> str:
    if isinstance(value, dict) and "unexpected_count" in value:
        share = value.get("unexpected_percent")
        pct = f" ({share:.1f}%)" if isinstance(share, (int, float)) else ""
        return f"{value['unexpected_count']} of {value.get('element_count')} rows unexpected{pct}"
    return _fmt(value)


def example_links(failure: dict, linked_seeds: set[int], class_anchor: dict[str, str]) -> str:
    """Each example row of a failure; a seed links to its sample below, a class name to its example row."""
    links = []
    for example in failure.get("examples", []):
        key = "seed" if "seed" in example else "class_name" if "class_name" in example else None
        rest = ", ".join(f"{k}={_fmt(v)}" for k, v in example.items() if k != key)
        name = f"{key.replace('_name', '')} {_fmt(example[key])}" if key else ""
        text = f"{name} ({rest})" if name and rest else name or rest
        if key == "seed" and example["seed"] in linked_seeds:
            links.append(f'<a href="#fail-{example["seed"]}">{text}</a>')
        elif key == "class_name" and example["class_name"] in class_anchor:
            links.append(f'<a href="#{class_anchor[example["class_name"]]}">{text}</a>')
        else:
            links.append(text)
    return ", ".join(links) or '<span class="muted">no row examples (a check of the whole column)</span>'


def failure_rows(failures: list[dict], linked_seeds: set[int], class_anchor: dict[str, str]) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("severity", "suite", "expectation", "recipe field: thresholds", "observed")
    )
    body = []
    for f in failures:
        badge = "fail" if f["severity"] == "error" else "warn"
        status = f" ({escape(f['status'])})" if f.get("status") != "failed" else ""
        body.append(
            f'<tr><td><span class="{badge}">{escape(f["severity"])}</span>{status}</td>'
            f"<td>{escape(f.get('suite') or '')}</td>"
            f"<td><code>{escape(str(f.get('expectation')))}</code><br>"
            f"column <code>{escape(str(f.get('column') or '-'))}</code></td>"
            f"<td><code>{escape(str(f.get('recipe_field') or ''))}</code>: {_fmt(f.get('thresholds', {}))}</td>"
            f"<td>{observed(f.get('observed'))}</td></tr>"
            f'<tr><td></td><td colspan="4" class="examples">examples: {example_links(f, linked_seeds, class_anchor)}'
            + (f"<br>exception: {escape(f['exception'])}" if f.get("exception") else "")
            + "</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def render(ctx: dict) -> str:
    """The whole page from the context the report stage gathered (see ``synth.stages.report``)."""
    v = ctx["validation"]
    said = verdict_of(bool(v.get("success")), v.get("expectations", {}))
    verdict = f'<span class="{"pass" if v.get("success") else "fail"}">validation {escape(said)}</span>'
    sections = [
        ("lineage", "Version and lineage"),
        ("classes", "Classes"),
        ("validation", "Validation"),
        ("gallery", "Gallery"),
        ("per-class", "Per-class examples"),
        ("failing", "Samples named by failing expectations"),
        ("excluded", "Excluded and lowest-confidence"),
        ("likely-wrong", "Most likely wrong"),
        ("evaluate", "Usefulness (evaluate)"),
    ]
    nav = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in sections)
    lineage_rows = [[escape(k), f"<code>{_fmt(val)}</code>"] for k, val in ctx["lineage"]]

    class_rows = [
        [
            str(c["id"]),
            swatch(c["color"]) + escape(c["name"]),
            escape(c["parent"] or ""),
            f"{c['weight']:g}",
            f"{c['target']:.3f}",
            f"{c['frequency']:.3f}",
            f"{c['presence']:.3f}",
            f"{c['pixel_share']:.4f}",
        ]
        for c in ctx["classes"]
    ]
    counts = v.get("expectations", {})
    count_rows = [
        [escape(sev), *(str(c.get(k, 0)) for k in ("evaluated", "passed", "failed", "errored"))]
        for sev, c in sorted(counts.items())
    ]
    failures = failure_rows(ctx["failures"], ctx["failing_seeds"], ctx["class_anchor"]) if ctx["failures"] else ""
    absent = "".join(f"<li>{escape(line)}</li>" for line in ctx["absent"])
    per_class = "".join(
        f'<div class="row" id="{ctx["class_anchor"][row["name"]]}">'
        f"<h3>{swatch(row['color'])}{row['id']}: {escape(row['name'])}"
        f"</h3>{gallery(row['cards'])}</div>"
        for row in ctx["per_class"]
    )
    evaluate = ctx.get("evaluate")
    if evaluate:
        variants = sorted(evaluate.get("miou", {}))
        names = sorted({n for per in evaluate.get("per_class", {}).values() for n in per})
        eval_html = (
            f"<p>{evaluate.get('eval_samples')} labeled evaluation samples; a small segmentation net trained per "
            f"variant ({evaluate.get('steps')} steps, {evaluate.get('image_size')} px); "
            f"from reports/{escape(ctx['name'])}/evaluate.json.</p>"
            + table(
                ["variant", "mIoU", *names],
                [
                    [
                        escape(var),
                        _fmt(evaluate["miou"][var]),
                        *(_fmt(evaluate.get("per_class", {}).get(var, {}).get(n)) for n in names),
                    ]
                    for var in variants
                ],
                numeric=set(range(1, len(names) + 2)),
            )
        )
    else:
        eval_html = (
            f'<p class="muted">Not scored: the recipe says <code>evaluate: null</code> '
            f"(reports/{escape(ctx['name'])}/evaluate.json is empty).</p>"
        )
    excluded = ctx["excluded"]
    excluded_html = (
        f"<p>{excluded['count']} {'sample is' if excluded['count'] == 1 else 'samples are'} left out of the build by "
        f"the decoder ({escape(excluded['rule'])}) or the label checks (each card says which; seeds and reasons in "
        "lineage.json); "
        f"showing {len(excluded['cards'])}.</p>" + gallery(excluded["cards"])
        if excluded["count"]
        else '<p class="muted">Neither the decoder nor the label checks excluded a sample.</p>'
    )
    uncertain = ctx["uncertain"]
    uncertain_html = (
        f"<p>Ranked by {escape(uncertain['by'])}: the decoder's own score, not calibrated against true masks, so "
        "it shows where the decoder hesitated, not which masks are wrong (a confident decoder can be confidently "
        "wrong).</p>" + gallery(uncertain["cards"])
        if uncertain["cards"]
        else '<p class="muted">This decoder gives no confidence: masks are exact or unranked.</p>'
    )
    headers = ["id", "name", "part of", "weight", "target share", "pixel frequency", "presence", "pixel share"]
    class_table = table(headers, class_rows, {0, 3, 4, 5, 6, 7})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(ctx["name"])} {escape(ctx["version"])} — dataset report</title>
<link rel="icon" href="icon.png" type="image/png">
<style>{CSS}</style></head>
<body>
<h1>{escape(ctx["name"])} <span class="muted">v{escape(ctx["version"])}</span></h1>
<p>{verdict} · {v.get("samples", 0)} samples · generator <code>{escape(ctx["generator"])}</code> · decoder
<code>{escape(ctx["decoder"])}</code></p>
<p>{escape(ctx["description"])}</p>
<nav>{nav}</nav>

<h2 id="lineage">Version and lineage</h2>
{table([], lineage_rows)}

<h2 id="classes">Classes</h2>
<p>Mask values: 0 background (black), 255 ignore (white); the mask PNGs carry these colours as their palette.</p>
{class_table}
<div class="charts">{"".join(ctx["charts"])}</div>

<h2 id="validation">Validation</h2>
<p>{verdict}</p>
{table(["severity", "evaluated", "passed", "failed", "errored"], count_rows, {1, 2, 3, 4})}
<p>KL(observed class pixel frequencies ‖ target weights) = {_fmt(v.get("class_kl", "n/a"))} nats;
empty masks {_fmt(v.get("empty_fraction"))}; near-duplicates {_fmt(v.get("duplicate_fraction"))};
mean ignore fraction {_fmt(v.get("mean_ignore_fraction"))}.</p>
<h3>Failing expectations ({len(ctx["failures"])})</h3>
{failures or '<p class="muted">Every expectation passed.</p>'}
{f"<h3>Classes in no mask</h3><ul>{absent}</ul>" if absent else ""}

<h2 id="gallery">Gallery</h2>
<p>Evenly spaced over the seeds: image | overlay | mask{" | confidence" if ctx["has_confidence"] else ""}.</p>
{gallery(ctx["gallery"])}

<h2 id="per-class">Per-class examples</h2>
<p>For each class, the samples where it covers the most pixels.</p>
{per_class}

<h2 id="failing">Samples named by failing expectations</h2>
{gallery(ctx["failing"], "fail-")}

<h2 id="excluded">Excluded and lowest-confidence</h2>
<h3>Excluded by the decoder or the label checks</h3>
{excluded_html}
<h3>Lowest decoder confidence</h3>
{uncertain_html}

<h2 id="likely-wrong">Most likely wrong (label checks)</h2>
{ctx.get("likely_wrong", "")}

<h2 id="evaluate">Usefulness (evaluate)</h2>
{eval_html}

<p class="muted">Written by <code>synth report {escape(ctx["name"])}</code>
(synth-datasets {escape(ctx["synth_version"])}).
Everything on this page is in this folder; it opens offline.</p>
</body></html>
"""
