"""Inline SVG bar charts: no script, no external file, readable in any browser and in a diff of the HTML."""

from __future__ import annotations

from html import escape

from synth.core.fonts import CSS_FONT_STACK

ROW = 22
LABEL_W = 170
BAR_W = 380
VALUE_W = 120


def bar_chart(
    title: str,
    rows: list[tuple[str, str, list[float]]],
    series: list[tuple[str, str]],
    scale_max: float | None = None,
    marker: tuple[float, str] | None = None,
    fmt: str = "{:.3f}",
) -> str:
    """Horizontal bars, one group per row.

    ``rows``: (label, colour of the first series, values per series); ``series``: (name, colour; "" = row colour);
    ``marker``: (value, label) of a vertical threshold line.
    """
    n = len(series)
    group = ROW * n + 6
    top = 42 if marker is not None else 28  # room for the threshold label under the title
    height = top + group * len(rows) + 24
    width = LABEL_W + BAR_W + VALUE_W
    peak = scale_max or max([v for _, _, values in rows for v in values] + [marker[0] if marker else 0, 1e-9])

    def x(v: float) -> float:
        return LABEL_W + BAR_W * min(max(v, 0.0), peak) / peak

    parts = [
        (
            f'<svg role="img" aria-label="{escape(title)}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family=\'{escape(CSS_FONT_STACK)}\' font-size="12">'
        ),
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    for k, (name, colour) in enumerate(series):
        lx = LABEL_W + 150 * k
        fill = colour or "#888"
        parts.append(
            f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{fill}" stroke="#555"/>'
            f'<text x="{lx + 14}" y="{height - 7}">{escape(name)}</text>'
        )
    for i, (label, colour, values) in enumerate(rows):
        y0 = top + i * group
        parts.append(f'<text x="{LABEL_W - 6}" y="{y0 + ROW * n / 2 + 4}" text-anchor="end">{escape(label)}</text>')
        for k, value in enumerate(values):
            fill = series[k][1] or colour
            y = y0 + k * ROW
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 3}" width="{x(value) - LABEL_W:.1f}" height="{ROW - 6}" fill="{fill}" '
                f'stroke="#444" stroke-width="0.5">'
                f"<title>{escape(label)} {escape(series[k][0])}: {fmt.format(value)}</title></rect>"
                f'<text x="{x(value) + 4:.1f}" y="{y + ROW / 2 + 4}">{fmt.format(value)}</text>'
            )
    if marker is not None:
        mx = x(marker[0])
        parts.append(
            f'<line x1="{mx:.1f}" y1="{top - 4}" x2="{mx:.1f}" y2="{top + group * len(rows)}" stroke="#c00" '
            f'stroke-dasharray="4 3"/><text x="{mx + 3:.1f}" y="{top - 6}" fill="#c00">{escape(marker[1])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
