"""Server-rendered SVG charts for the statistics page: no script, no external assets.

Accessibility: every chart is ``role="img"`` with a ``<title>`` and a ``<desc>`` (which
repeats the data in words) referenced by ``aria-labelledby``; the page shows a data table
beside each chart. Bars have at least 3:1 contrast against white, text at least 4.5:1;
colour is never the only difference: the second series is hatched, the legend names each
series next to its swatch, and bars carry their values wherever they are wide enough.

Presentation attributes only (no ``<style>``, no ``style=``), so the SVG can be inlined under
the site's ``style-src 'self'`` Content-Security-Policy. Pure: the same input gives the same
output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

__all__ = ["BarSeries", "grouped_bar_chart", "horizontal_bar_chart"]

FONT_FAMILY = "Liberation Sans, Arial, sans-serif"
INK = "#0b0c0c"  # text and axes: 19.8:1 on white
MUTED = "#484949"  # tick labels: 9.3:1
GRID = "#b1b4b6"  # decorative grid lines
WHITE = "#ffffff"
BLUE = "#1d4f91"  # 8.6:1 on white
GREEN = "#00703c"  # 5.9:1 on white
NAVY = "#003064"  # 13.7:1 on white
CHAR_EM = 0.56  # approximate advance of one character, in em


@dataclass(frozen=True)
class BarSeries:
    name: str
    values: Sequence[int]
    colour: str
    hatched: bool = False


def _n(x: float) -> str:
    """Short, stable number formatting for coordinates."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _num(value: int) -> str:
    """German digit grouping: 12.345."""
    return f"{value:,}".replace(",", ".")


def _text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_EM


def _nice_scale(peak: int, ticks: int = 4) -> tuple[int, int]:
    """(top of the axis, tick step): whole numbers in 1-2-5 steps."""
    if peak <= 0:
        return 1, 1
    raw = peak / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return math.ceil(peak / step) * step, step


def _id(chart_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", chart_id):
        raise ValueError(f"chart id {chart_id!r} is not a valid XML id")
    return chart_id


def _open(cid: str, width: float, height: float, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" id="{cid}"'
        f' viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}"'
        f' role="img" aria-labelledby="{cid}-title {cid}-desc"'
        f' font-family={quoteattr(FONT_FAMILY)} lang="de">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _hatch(pid: str, colour: str) -> str:
    """Diagonal white stripes on the series colour."""
    return (
        f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6"'
        f' patternTransform="rotate(45)">'
        f'<rect x="0" y="0" width="6" height="6" fill="{colour}"/>'
        f'<rect x="0" y="0" width="2" height="6" fill="{WHITE}"/>'
        "</pattern>"
    )


def _fill(series: BarSeries, cid: str, index: int) -> str:
    return f"url(#{cid}-pattern-{index})" if series.hatched else series.colour


def grouped_bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[tuple[str, str]],
    series: Sequence[BarSeries],
    width: float = 720,
    height: float = 320,
) -> str:
    """Vertical bars per category, one bar per series side by side, a legend on top.

    ``categories`` are (first line, second line) labels, e.g. ("Jan", "2026"); the second
    line is drawn only where it differs from the last one drawn."""
    cid = _id(chart_id)
    left, right, top, bottom = 52.0, 12.0, 48.0, 48.0
    plot_w, plot_h = width - left - right, height - top - bottom
    base_y = top + plot_h
    peak = max((v for s in series for v in s.values), default=0)
    axis_top, step = _nice_scale(peak)

    out = _open(cid, width, height, title, desc)
    hatched = [i for i, s in enumerate(series) if s.hatched]
    if hatched:
        out.append("<defs>")
        out += [_hatch(f"{cid}-pattern-{i}", series[i].colour) for i in hatched]
        out.append("</defs>")
    out.append(f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="{WHITE}"/>')

    # legend: swatch (with the bar's fill and outline) and the series name
    x = left
    out.append('<g class="legend" font-size="13">')
    for i, s in enumerate(series):
        out.append(
            f'<rect x="{_n(x)}" y="14" width="16" height="16" fill="{_fill(s, cid, i)}"'
            f' stroke="{s.colour}" stroke-width="1.5"/>'
        )
        out.append(f'<text x="{_n(x + 22)}" y="27" fill="{INK}">{escape(s.name)}</text>')
        x += 22 + _text_width(s.name, 13) + 24
    out.append("</g>")

    # y axis: grid lines and tick labels
    out.append('<g class="y-axis" font-size="12">')
    for value in range(0, axis_top + 1, step):
        y = base_y - plot_h * value / axis_top
        if value:
            out.append(
                f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(width - right)}" y2="{_n(y)}"'
                f' stroke="{GRID}" stroke-width="1"/>'
            )
        out.append(
            f'<text x="{_n(left - 8)}" y="{_n(y + 4)}" fill="{MUTED}"'
            f' text-anchor="end">{_num(value)}</text>'
        )
    out.append("</g>")

    n = max(len(categories), 1)
    group_w = plot_w / n
    bar_w = min(36.0, group_w * 0.8 / max(len(series), 1))
    gap = 2.0 if bar_w > 6 else 0.0
    bars_w = len(series) * bar_w + (len(series) - 1) * gap
    # value labels above the bars only where the widest fits over its bar (else the table)
    labelled = _text_width(_num(peak), 11) <= bar_w + gap + 2

    out.append('<g class="bars">')
    for c in range(len(categories)):
        x0 = left + c * group_w + (group_w - bars_w) / 2
        for i, s in enumerate(series):
            value = s.values[c]
            h = plot_h * value / axis_top
            bx = x0 + i * (bar_w + gap)
            if value:
                out.append(
                    f'<rect x="{_n(bx)}" y="{_n(base_y - h)}" width="{_n(bar_w)}"'
                    f' height="{_n(h)}" fill="{_fill(s, cid, i)}" stroke="{s.colour}"'
                    f' stroke-width="1.5"/>'
                )
            if labelled:
                out.append(
                    f'<text x="{_n(bx + bar_w / 2)}" y="{_n(base_y - h - 5)}" font-size="11"'
                    f' fill="{INK}" text-anchor="middle">{_num(value)}</text>'
                )
    out.append("</g>")

    # x axis: base line and category labels (every k-th when they would collide)
    out.append(
        f'<line x1="{_n(left)}" y1="{_n(base_y)}" x2="{_n(width - right)}" y2="{_n(base_y)}"'
        f' stroke="{INK}" stroke-width="1.5"/>'
    )
    # Every k-th label when they would collide, k from 1, 2, 3, 4, 6, 12, 24, ... and counted
    # from the first change of the second line (a January), so that the labels shown keep
    # falling on the same months; a second line is shown where it changes (the year).
    widest = max((_text_width(t, 12) for pair in categories for t in pair), default=0)
    steps = [1, 2, 3, 4, 6, *(12 * 2**k for k in range(10))]
    every = next((k for k in steps if k * group_w >= widest + 6), steps[-1])
    anchor = next(
        (c for c in range(1, len(categories)) if categories[c][1] != categories[c - 1][1]), 0
    )
    shown_line2 = None
    out.append('<g class="x-axis" font-size="12" text-anchor="middle">')
    for c, (line1, line2) in enumerate(categories):
        if (c - anchor) % every:
            continue
        cx = left + c * group_w + group_w / 2
        out.append(f'<text x="{_n(cx)}" y="{_n(base_y + 18)}" fill="{INK}">{escape(line1)}</text>')
        if line2 and line2 != shown_line2:
            out.append(
                f'<text x="{_n(cx)}" y="{_n(base_y + 34)}" fill="{MUTED}">{escape(line2)}</text>'
            )
            shown_line2 = line2
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def horizontal_bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, int]],
    colour: str = NAVY,
    width: float = 720,
) -> str:
    """One horizontal bar per row: its label on the left, its value at the bar's end."""
    cid = _id(chart_id)
    size, row_h, bar_h, pad = 14.0, 32.0, 20.0, 8.0
    label_w = min(max((_text_width(label, size) for label, _ in rows), default=0) + 12, 300)
    left = pad + label_w
    value_room = _text_width(_num(max((v for _, v in rows), default=0)), size) + 12
    plot_w = width - left - pad - value_room
    height = pad * 2 + max(len(rows), 1) * row_h
    peak = max((v for _, v in rows), default=0) or 1

    out = _open(cid, width, height, title, desc)
    out.append(f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="{WHITE}"/>')
    out.append(f'<g class="bars" font-size="{_n(size)}">')
    for r, (label, value) in enumerate(rows):
        y = pad + r * row_h + (row_h - bar_h) / 2
        text_y = y + bar_h / 2 + size * 0.35
        w = plot_w * value / peak
        out.append(
            f'<text x="{_n(left - 10)}" y="{_n(text_y)}" fill="{INK}"'
            f' text-anchor="end">{escape(label)}</text>'
        )
        if value:
            out.append(
                f'<rect x="{_n(left)}" y="{_n(y)}" width="{_n(w)}" height="{_n(bar_h)}"'
                f' fill="{colour}"/>'
            )
        out.append(
            f'<text x="{_n(left + w + 6)}" y="{_n(text_y)}" fill="{INK}"'
            f' font-weight="700">{_num(value)}</text>'
        )
    out.append("</g>")
    out.append(
        f'<line x1="{_n(left)}" y1="{_n(pad)}" x2="{_n(left)}" y2="{_n(height - pad)}"'
        f' stroke="{INK}" stroke-width="1.5"/>'
    )
    out.append("</svg>")
    return "\n".join(out)
