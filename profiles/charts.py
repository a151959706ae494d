"""Server-side SVG charts for dashboard pages: horizontal bars (shares, counts) and columns or a line over days
or weeks. Views build the markup and pass it to templates; nothing runs in the browser.

- No viewBox on the outer SVG: horizontal positions are percentages of the chart's width and vertical ones
  pixels, so a chart fills its container at any width while its text keeps its size (a scaled viewBox would
  shrink the labels to nothing on a phone). Only the line of a line chart sits in a stretched inner SVG.
- Colours come from CSS classes that use the stylesheet's variables (static/css/app.css, section "Customers"),
  so charts follow the page's theme; presentation attributes are fallbacks. No style attributes: the
  Content-Security-Policy refuses them.
- Accessible: each chart has <title> and <desc> (the values in words) referenced by aria-labelledby and
  aria-describedby; every bar and column has its own <title>; bar charts print their values as text. Charts
  with links are a labelled group (links inside role="img" would be hidden from assistive technology).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_ROW_PX = 36
BAR_LABEL_CHARS = 32
COLUMN_TOP_PX = 18
COLUMN_AXIS_PX = 24
MAX_X_LABELS = 5


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str = ""  # the value as printed; the number itself when empty
    href: str = ""


def number_text(value: float) -> str:
    """1234 -> "1,234"; 12.5 -> "12.5"; 0.126 -> "0.13"."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _chart_id(prefix: str, title: str, values: Iterable) -> str:
    digest = hashlib.sha1(f"{title}|{list(values)!r}".encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


def _short(label: str, limit: int = BAR_LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _empty(text: str) -> SafeString:
    return mark_safe(f'<p class="chart-empty" data-chart-empty>{escape(text)}</p>')


def bar_chart(
    bars: Iterable[Bar | tuple[str, float]],
    *,
    title: str,
    description: str = "",
    chart_id: str = "",
    limit: int | None = None,
    empty_text: str = "Nothing to show yet.",
) -> SafeString:
    """Horizontal bars, one row each: the label and its value as text, the bar below, its length relative to the
    largest value. Bars are drawn in the order given; `limit` keeps the first ones. No bars (or none above
    zero) gives `empty_text` in a `.chart-empty` paragraph instead of an SVG."""
    rows = [bar if isinstance(bar, Bar) else Bar(label=str(bar[0]), value=float(bar[1])) for bar in bars]
    rows = rows[:limit] if limit is not None else rows
    largest = max((float(bar.value) for bar in rows), default=0.0)
    if largest <= 0:
        return _empty(empty_text)
    chart_id = chart_id or _chart_id("bars", title, [(b.label, b.value) for b in rows])
    linked = any(bar.href for bar in rows)
    spoken = "; ".join(f"{bar.label}: {bar.text or number_text(bar.value)}" for bar in rows)
    parts = [
        f'<svg class="chart-svg chart-bars" width="100%" height="{len(rows) * BAR_ROW_PX}" '
        f'role="{"group" if linked else "img"}" aria-labelledby="{chart_id}-title" '
        f'aria-describedby="{chart_id}-desc" data-chart="bars">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(" ".join(filter(None, [description, spoken + "."])))}</desc>',
    ]
    for index, bar in enumerate(rows):
        parts.append(_bar_row(bar, index, largest))
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _bar_row(bar: Bar, index: int, largest: float) -> str:
    top = index * BAR_ROW_PX
    text = bar.text or number_text(bar.value)
    # A value above zero always shows a sliver, so it reads differently from none.
    percent = 0.0 if bar.value <= 0 else max(100.0 * float(bar.value) / largest, 0.75)
    spoken = escape(f"{bar.label}: {text}")
    row = (
        f'<g class="chart-bar-row" data-label="{escape(bar.label)}" data-value="{number_text(bar.value)}">'
        f"<title>{spoken}</title>"
        f'<text class="chart-label" x="0" y="{top + 14}" font-size="13" fill="currentColor">'
        f"{escape(_short(bar.label))}</text>"
        f'<text class="chart-value" x="100%" y="{top + 14}" text-anchor="end" font-size="13" '
        f'fill="currentColor">{escape(text)}</text>'
        f'<rect class="chart-track" x="0" y="{top + 21}" width="100%" height="8" rx="4" fill="#f2f4f7"/>'
        f'<rect class="chart-bar" x="0" y="{top + 21}" width="{percent:.2f}%" height="8" rx="4" fill="#4338ca"/>'
        "</g>"
    )
    if bar.href:
        return f'<a class="chart-link" href="{escape(bar.href)}" aria-label="{spoken}">{row}</a>'
    return row


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (1 for nothing), for round gridlines."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if value <= step * power + 1e-9)


def _day_text(day: date) -> str:
    return f"{day.day} {day:%b}"


def _long_day_text(day: date, period: str) -> str:
    text = f"{day.day} {day:%b %Y}"
    return f"week of {text}" if period == "week" else f"{day:%a} {text}"


def _x_label_indexes(count: int) -> list[int]:
    if count <= MAX_X_LABELS:
        return list(range(count))
    step = (count - 1) / (MAX_X_LABELS - 1)
    return sorted({round(i * step) for i in range(MAX_X_LABELS)})


def _time_desc(points: Sequence[tuple[date, float]], units: tuple[str, str], period: str) -> str:
    total = sum(value for _, value in points)
    span = f"{len(points)} {period}{'s' if len(points) != 1 else ''}"
    if total <= 0:
        return f"No {units[1]} in these {span}."
    peak_day, peak = max(points, key=lambda point: point[1])
    quiet = sum(1 for _, value in points if value <= 0)
    unit = units[0] if total == 1 else units[1]
    text = (
        f"{number_text(total)} {unit} over {span}, {_long_day_text(points[0][0], period)} to "
        f"{_long_day_text(points[-1][0], period)}. The most, {number_text(peak)}, "
        f"{'in the' if period == 'week' else 'on'} {_long_day_text(peak_day, period)}."
    )
    if quiet:
        text += f" {quiet} {period}{'s' if quiet != 1 else ''} with none."
    return text


def time_chart(
    points: Sequence[tuple[date, float]],
    *,
    title: str,
    description: str = "",
    units: tuple[str, str] = ("event", "events"),
    period: str = "day",
    kind: str = "columns",
    chart_id: str = "",
    height: int = 160,
    empty_text: str = "Nothing to show yet.",
) -> SafeString:
    """Values over consecutive days (or weeks: `period="week"`, each point dated by its first day) as columns
    or (`kind="line"`) a line. Gridlines at a round maximum and its half; up to five date labels. All zeros
    still draw the axis and say so; no points at all give `empty_text`."""
    if not points:
        return _empty(empty_text)
    chart_id = chart_id or _chart_id(kind, title, [(d.isoformat(), v) for d, v in points])
    base = height - COLUMN_AXIS_PX
    plot = base - COLUMN_TOP_PX
    top_value = _nice_ceiling(max(float(value) for _, value in points))
    slot = 100.0 / len(points)
    summary = _time_desc(points, units, period)
    parts = [
        f'<svg class="chart-svg chart-time chart-{kind}" width="100%" height="{height}" role="img" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" data-chart="{kind}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(" ".join(filter(None, [description, summary])))}</desc>',
        '<g class="chart-grid">',
    ]
    for fraction in (1.0, 0.5):
        y = base - plot * fraction
        parts.append(
            f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6eb" stroke-dasharray="3 4"/>'
        )
    parts.append(f'<line class="chart-axis" x1="0" x2="100%" y1="{base}" y2="{base}" stroke="#cfd4dc"/></g>')
    if kind == "line":
        parts.append(_line(points, top_value, plot))
    else:
        parts.append(_columns(points, top_value, plot, base, slot))
    parts.append(_hit_areas(points, units, period, base, slot))
    for fraction in (1.0, 0.5):
        parts.append(
            f'<text class="chart-tick" x="2" y="{base - plot * fraction - 4:.1f}" font-size="11" '
            f'fill="#667085">{number_text(top_value * fraction)}</text>'
        )
    parts.append(_x_labels(points, base, slot))
    if all(value <= 0 for _, value in points):
        parts.append(
            f'<text class="chart-none" x="50%" y="{base - plot / 2:.1f}" text-anchor="middle" font-size="13" '
            f'fill="#667085">{escape(summary)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _columns(points, top_value: float, plot: float, base: float, slot: float) -> str:
    parts = ['<g class="chart-columns">']
    for index, (day, value) in enumerate(points):
        tall = plot * float(value) / top_value
        if value > 0:
            tall = max(tall, 1.5)
        parts.append(
            f'<rect class="chart-column" x="{index * slot + slot * 0.15:.3f}%" y="{base - tall:.1f}" '
            f'width="{slot * 0.7:.3f}%" height="{tall:.1f}" rx="2" fill="#4338ca" '
            f'data-day="{day.isoformat()}" data-value="{number_text(value)}"/>'
        )
    parts.append("</g>")
    return "".join(parts)


def _line(points, top_value: float, plot: float) -> str:
    width = 1000
    coords = " ".join(
        f"{(index + 0.5) * width / len(points):.1f},{plot - plot * float(value) / top_value:.1f}"
        for index, (_, value) in enumerate(points)
    )
    return (
        f'<svg x="0" y="{COLUMN_TOP_PX}" width="100%" height="{plot}" viewBox="0 0 {width} {plot}" '
        f'preserveAspectRatio="none" overflow="visible" aria-hidden="true">'
        f'<polyline class="chart-line" points="{coords}" fill="none" stroke="#4338ca" stroke-width="2.5" '
        f'stroke-linejoin="round" vector-effect="non-scaling-stroke" data-count="{len(points)}"/></svg>'
    )


def _hit_areas(points, units: tuple[str, str], period: str, base: float, slot: float) -> str:
    """A transparent full-height rectangle per point carrying its value as a tooltip, easy to hover even where
    the column is short."""
    parts = ['<g class="chart-hits">']
    for index, (day, value) in enumerate(points):
        unit = units[0] if value == 1 else units[1]
        parts.append(
            f'<rect x="{index * slot:.3f}%" y="0" width="{slot:.3f}%" height="{base}" fill="transparent">'
            f"<title>{escape(_long_day_text(day, period))}: {number_text(value)} {escape(unit)}</title></rect>"
        )
    parts.append("</g>")
    return "".join(parts)


def _x_labels(points, base: float, slot: float) -> str:
    indexes = _x_label_indexes(len(points))
    parts = ['<g class="chart-x-labels" aria-hidden="true">']
    for index in indexes:
        if index == 0 and len(points) > 1:
            x, anchor = index * slot, "start"
        elif index == len(points) - 1 and len(points) > 1:
            x, anchor = (index + 1) * slot, "end"
        else:
            x, anchor = (index + 0.5) * slot, "middle"
        parts.append(
            f'<text class="chart-tick" x="{x:.3f}%" y="{base + 16}" text-anchor="{anchor}" font-size="11" '
            f'fill="#667085">{escape(_day_text(points[index][0]))}</text>'
        )
    parts.append("</g>")
    return "".join(parts)
