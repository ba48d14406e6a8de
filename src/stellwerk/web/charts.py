"""Server-side SVG charts with the same numbers as a table beside them (no JavaScript needed).

Any area can use them: `daily_bars` for counts per day, `bar_list` for a ranking.
The SVG is decorative for screen readers (`aria-hidden`); the table carries the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 180
AXIS = 24  # room under the bars for day labels


def fill_days(
    counts: Mapping[dt.date, int], *, start: dt.date, end: dt.date
) -> list[tuple[dt.date, int]]:
    """Every day from `start` to `end` (inclusive), with 0 where nothing happened."""
    days = (end - start).days + 1
    return [
        (day, counts.get(day, 0))
        for day in (start + dt.timedelta(days=offset) for offset in range(max(days, 0)))
    ]


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:,.1f}"


def _table(caption: str, head: tuple[str, str], rows: Sequence[tuple[str, float]]) -> str:
    body = "".join(
        f"<tr><td>{escape(label)}</td><td>{_number(value)}</td></tr>" for label, value in rows
    )
    return (
        f'<details class="chart-table"><summary>{escape(caption)} as a table</summary>'
        f"<table><thead><tr><th>{escape(head[0])}</th><th>{escape(head[1])}</th></tr></thead>"
        f"<tbody>{body}</tbody></table></details>"
    )


def daily_bars(
    counts: Mapping[dt.date, int],
    *,
    start: dt.date,
    end: dt.date,
    title: str,
    unit: str = "count",
) -> Markup:
    """A bar per day from `start` to `end`; days without data are drawn as zero."""
    days = fill_days(counts, start=start, end=end)
    peak = max((value for _, value in days), default=0)
    total = sum(value for _, value in days)
    slot = WIDTH / max(len(days), 1)
    bar_width = max(slot * 0.8, 1.0)
    plot_height = HEIGHT - AXIS
    label_every = max(1, len(days) // 8)
    parts: list[str] = []
    for index, (day, value) in enumerate(days):
        height = 0.0 if peak == 0 else plot_height * value / peak
        x = index * slot + (slot - bar_width) / 2
        y = plot_height - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
            f'height="{height:.1f}"><title>{day.isoformat()}: {value}</title></rect>'
        )
        if index % label_every == 0:
            # The first label starts at the left edge so it is not cut off.
            anchor, label_x = ("start", x) if index == 0 else ("middle", x + bar_width / 2)
            parts.append(
                f'<text x="{label_x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
                f"{day.strftime('%m-%d')}</text>"
            )
    parts.append(
        f'<line class="axis" x1="0" y1="{plot_height}" x2="{WIDTH}" y2="{plot_height}"></line>'
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-hidden="true" focusable="false">{"".join(parts)}</svg>'
    )
    summary = f"{total} in {len(days)} days, at most {peak} a day"
    table = _table(title, ("Day", unit), [(day.isoformat(), value) for day, value in days])
    # Every interpolated text is escaped above; the rest are numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<figure class="chart-figure"><figcaption>{escape(title)} '
        f'<span class="muted">{escape(summary)}</span></figcaption>{svg}{table}</figure>'
    )


def bar_list(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "count") -> Markup:
    """Horizontal bars, one per labelled value, longest first as given."""
    peak = max((value for _, value in rows), default=0)
    items = []
    for label, value in rows:
        share = 0.0 if peak == 0 else 100 * value / peak
        items.append(
            f'<li><span class="bar-label">{escape(label)}</span>'
            f'<svg class="hbar" viewBox="0 0 100 10" preserveAspectRatio="none" '
            f'aria-hidden="true" focusable="false"><rect class="bar" x="0" y="0" '
            f'width="{share:.1f}" height="10"></rect></svg>'
            f'<span class="bar-value">{_number(value)}</span></li>'
        )
    listing = "".join(items) or '<li class="empty">Nothing yet.</li>'
    # Every interpolated text is escaped above; the rest are numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<figure class="chart-figure"><figcaption>{escape(title)}</figcaption>'
        f'<ul class="bar-list" aria-hidden="true">{listing}</ul>'
        f"{_table(title, ('Name', unit), list(rows))}</figure>"
    )


def hourly_bars(
    counts: Sequence[tuple[dt.datetime, int]], *, title: str, unit: str = "count"
) -> Markup:
    """A bar per hour (UTC), labelled every few hours, like `daily_bars` for short windows."""
    peak = max((value for _, value in counts), default=0)
    total = sum(value for _, value in counts)
    slot = WIDTH / max(len(counts), 1)
    bar_width = max(slot * 0.8, 1.0)
    plot_height = HEIGHT - AXIS
    label_every = max(1, len(counts) // 8)
    parts: list[str] = []
    for index, (hour, value) in enumerate(counts):
        height = 0.0 if peak == 0 else plot_height * value / peak
        x = index * slot + (slot - bar_width) / 2
        stamp = hour.strftime("%Y-%m-%d %H:00")
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{plot_height - height:.1f}" '
            f'width="{bar_width:.1f}" height="{height:.1f}"><title>{stamp}: {value}</title></rect>'
        )
        if index % label_every == 0:
            anchor, label_x = ("start", x) if index == 0 else ("middle", x + bar_width / 2)
            parts.append(
                f'<text x="{label_x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
                f"{hour.strftime('%d. %H:00')}</text>"
            )
    parts.append(
        f'<line class="axis" x1="0" y1="{plot_height}" x2="{WIDTH}" y2="{plot_height}"></line>'
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-hidden="true" focusable="false">{"".join(parts)}</svg>'
    )
    summary = f"{total} in {len(counts)} hours, at most {peak} an hour"
    table = _table(
        title, ("Hour (UTC)", unit), [(h.strftime("%Y-%m-%d %H:00"), v) for h, v in counts]
    )
    # Every interpolated text is escaped or a number; the rest is fixed markup.
    return Markup(  # noqa: S704
        f'<figure class="chart-figure"><figcaption>{escape(title)} '
        f'<span class="muted">{escape(summary)}</span></figcaption>{svg}{table}</figure>'
    )


# --- small charts for figures (the dashboard) ------------------------------------------------

# The colour class of a state: settled and good, changing, bad, or switched off.
STATE_COLOURS = {
    **dict.fromkeys(("running", "active", "live", "completed"), "c-ok"),
    **dict.fromkeys(
        (
            "provisioning",
            "starting",
            "stopping",
            "rebooting",
            "initializing",
            "deleting",
            "pending",
            "queued",
            "draft",
        ),
        "c-warn",
    ),
    **dict.fromkeys(("failed", "error", "dns_error"), "c-bad"),
    **dict.fromkeys(("off", "stopped", "suspended", "archived", "unknown"), "c-muted"),
}


def state_bar(counts: Mapping[str, int], *, link: str | None = None) -> Markup:
    """One bar split by state (largest first) with a legend that carries the numbers; with
    `link`, each legend entry links to `link?state=<state>`."""
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    parts: list[str] = []
    x = 0.0
    for state, count in ordered:
        width = 0.0 if total == 0 else 100 * count / total
        parts.append(
            f'<rect class="{STATE_COLOURS.get(state, "c-accent")}" x="{x:.2f}" y="0" '
            f'width="{width:.2f}" height="10"></rect>'
        )
        x += width
    legend = []
    for state, count in ordered:
        colour = STATE_COLOURS.get(state, "c-accent")
        name = escape(state)
        label = f'<a href="{escape(link)}?state={name}">{name}</a>' if link else name
        legend.append(f'<li><span class="swatch {colour}"></span>{label} {count}</li>')
    # Every interpolated text is escaped above; the rest are numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="stack" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" '
        f'focusable="false">{"".join(parts)}</svg><ul class="legend">{"".join(legend)}</ul>'
    )


def sparkline(days: Sequence[tuple[dt.date, int]], *, title: str, unit: str = "count") -> Markup:
    """A bar per day, small, with the numbers in a table below it."""
    peak = max((value for _, value in days), default=0)
    slot = 100 / max(len(days), 1)
    parts = []
    for index, (day, value) in enumerate(days):
        height = max(1.0, 0.0 if peak == 0 else 30 * value / peak)  # a day without hits: a line
        parts.append(
            f'<rect class="{"bar" if value else "bar zero"}" '
            f'x="{index * slot + slot * 0.1:.2f}" y="{30 - height:.2f}" '
            f'width="{slot * 0.8:.2f}" height="{height:.2f}">'
            f"<title>{day.isoformat()}: {value}</title></rect>"
        )
    table = _table(title, ("Day", unit), [(day.isoformat(), value) for day, value in days])
    # Every interpolated text is escaped above; the rest are numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true" '
        f'focusable="false">{"".join(parts)}</svg>{table}'
    )


def paired_bars(
    rows: Sequence[tuple[str, float, float]], *, names: tuple[str, str], title: str
) -> Markup:
    """Two bars per label (e.g. cost and revenue) on one scale, with the numbers beside them
    and in a table."""
    peak = max((max(a, b) for _, a, b in rows), default=0)
    items = []
    for label, first, second in rows:
        bars = "".join(
            f'<svg class="hbar" viewBox="0 0 100 10" preserveAspectRatio="none" '
            f'aria-hidden="true" focusable="false"><rect class="{colour}" x="0" y="0" '
            f'width="{0.0 if peak == 0 else 100 * value / peak:.1f}" height="10"></rect></svg>'
            for value, colour in ((first, "c-accent"), (second, "c-second"))
        )
        items.append(
            f'<li><span class="bar-label">{escape(label)}</span><span class="pair">{bars}</span>'
            f'<span class="bar-value">{first:,.2f}<br>{second:,.2f}</span></li>'
        )
    legend = (
        f'<ul class="legend"><li><span class="swatch c-accent"></span>{escape(names[0])}</li>'
        f'<li><span class="swatch c-second"></span>{escape(names[1])}</li></ul>'
    )
    body = "".join(
        f"<tr><td>{escape(label)}</td><td>{first:,.2f}</td><td>{second:,.2f}</td></tr>"
        for label, first, second in rows
    )
    table = (
        f'<details class="chart-table"><summary>{escape(title)} as a table</summary>'
        f"<table><thead><tr><th>Provider</th><th>{escape(names[0])}</th>"
        f"<th>{escape(names[1])}</th></tr></thead><tbody>{body}</tbody></table></details>"
    )
    listing = "".join(items) or '<li class="empty">Nothing yet.</li>'
    # Every interpolated text is escaped above; the rest are numbers and fixed markup.
    return Markup(  # noqa: S704
        f'{legend}<ul class="bar-list pair-list" aria-hidden="true">{listing}</ul>{table}'
    )
