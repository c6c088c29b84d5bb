"""The report's charts: Plotly figures drawn from the page model (needs the ``report`` extra)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from streams.adapters.files.report.page_model import (
    ColumnSection,
    Episode,
    PerformanceSection,
    RuleSeries,
    VersionPage,
)

__all__ = ["column_histogram", "fairness_chart", "live_ratios", "overview_heatmap",
           "performance_chart", "rule_chart"]  # fmt: skip

_EPISODE_FILL = "rgba(214, 39, 40, 0.15)"
_THRESHOLD = {"color": "#d62728", "dash": "dash", "width": 1.5}
_HOVER = "window %{x}<br>%{text}<extra></extra>"
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 40, "b": 40}}


def overview_heatmap(page: VersionPage) -> go.Figure | None:
    """Each column's drift statistic per window as a share of its threshold, most troubled
    column on top: the page's map of where and when things moved."""
    rows = [(c.name, s) for c in page.columns for s in c.series if s.rule == "drift"]
    if not rows or not page.window_starts_ms:
        return None
    windows = len(page.window_starts_ms)
    z = []
    for _, series in rows:
        line: list[float | None] = [None] * windows
        for w, v, t in zip(series.windows, series.values, series.thresholds, strict=True):
            line[w] = v / t if t > 0 else None
        z.append(line)
    figure = go.Figure(
        go.Heatmap(
            z=z[::-1], x=list(range(windows)), y=[name for name, _ in rows][::-1],
            zmin=0, zmax=2, colorscale="YlOrRd",
            colorbar={"title": {"text": "statistic / threshold"}},
            hovertemplate="window %{x}<br>%{y}: %{z:.2f} x threshold<extra></extra>",
        )
    )  # fmt: skip
    height = max(220, 40 + 22 * len(rows))
    figure.update_layout(**_LAYOUT, height=height, title="Drift by feature and window",
                         xaxis_title="window")  # fmt: skip
    return figure


def column_histogram(section: ColumnSection, current: str = "after the reference") -> go.Figure:
    """Shares per reference bin: reference, the monitored events (``current`` names them),
    the most drifted window."""
    hist = section.histogram
    figure = go.Figure()
    figure.add_bar(name="reference", x=list(hist.labels), y=list(hist.reference))
    figure.add_bar(name=current, x=list(hist.labels), y=list(hist.monitored))
    if hist.peak is not None:
        figure.add_bar(name=f"window {hist.peak_window} (most drifted)", x=list(hist.labels),
                       y=list(hist.peak))  # fmt: skip
    figure.update_layout(**_LAYOUT, barmode="group", height=360, yaxis_tickformat=".0%",
                         title=f"{section.name}: reference vs current",
                         legend={"orientation": "h", "y": -0.45})  # fmt: skip
    figure.update_xaxes(tickangle=-40, tickfont={"size": 10})
    return figure


def live_ratios(columns: Sequence[tuple[str, float, bool]]) -> go.Figure:
    """Each column's worst statistic on the open window as a multiple of its threshold (the
    line at 1), firing columns red: ``(name, ratio, firing)`` rows, worst first."""
    figure = go.Figure()
    figure.add_bar(
        x=[name for name, _, _ in columns], y=[ratio for _, ratio, _ in columns],
        marker_color=["#d62728" if firing else "#1f77b4" for _, _, firing in columns],
        hovertemplate="%{x}: %{y:.2f} x threshold<extra></extra>",
    )  # fmt: skip
    figure.add_hline(y=1.0, line=_THRESHOLD)
    figure.update_layout(**_LAYOUT, height=340, yaxis_title="statistic / threshold",
                         title="Open window: each column's worst rule (red: firing)")  # fmt: skip
    return figure


def rule_chart(title: str, series: Sequence[RuleSeries]) -> go.Figure:
    """One row per rule: its statistic by window, its threshold, its episodes shaded."""
    figure = make_subplots(
        rows=len(series), cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=[f"{s.rule} ({', '.join(sorted(set(s.statistics)))})" for s in series],
    )  # fmt: skip
    last = max((max(s.windows, default=0) for s in series), default=0)
    for row, rule in enumerate(series, start=1):
        values, thresholds = _scaled(rule)
        judged = zip(rule.detectors, rule.statistics, rule.values, rule.thresholds, strict=True)
        hover = [f"{d}: {st} = {v:.4g} (threshold {t:.4g})" for d, st, v, t in judged]
        figure.add_scatter(x=list(rule.windows), y=values, mode="lines+markers",
                           name=rule.rule, text=hover, showlegend=False, row=row, col=1,
                           hovertemplate=_HOVER)  # fmt: skip
        figure.add_scatter(x=list(rule.windows), y=thresholds, mode="lines",
                           line=_THRESHOLD, line_shape="hv", name="threshold",
                           showlegend=False, row=row, col=1, hoverinfo="skip")  # fmt: skip
        if len(set(rule.detectors)) > 1:
            figure.update_yaxes(title_text="x threshold", row=row, col=1)
        _shade(figure, rule.episodes, last, row)
    figure.update_xaxes(title_text="window", row=len(series), col=1)
    figure.update_layout(**_LAYOUT, height=80 + 170 * len(series), title=title)
    return figure


def _scaled(rule: RuleSeries) -> tuple[list[float], list[float]]:
    """The rule's values and thresholds; when several detectors spoke for it (PSI and ADWIN
    judge drift on scales of their own) each value as a multiple of its threshold, the
    threshold then 1: what the alert rule compares either way."""
    if len(set(rule.detectors)) == 1:
        return list(rule.values), list(rule.thresholds)
    ratios = [v / t if t > 0 else 0.0 for v, t in zip(rule.values, rule.thresholds, strict=True)]
    return ratios, [1.0] * len(ratios)


def performance_chart(section: PerformanceSection) -> go.Figure:
    """Realised metrics after each batch of labels, their reference dashed."""
    figure = go.Figure()
    x = list(section.evaluations)
    for name, values in section.metrics.items():
        figure.add_scatter(x=x, y=list(values), mode="lines+markers", name=name,
                           legendgroup=name)  # fmt: skip
        if name in section.reference:
            figure.add_scatter(x=[x[0], x[-1]], y=[section.reference[name]] * 2, mode="lines",
                               line={"dash": "dot", "width": 1}, legendgroup=name,
                               name=f"{name} (reference)", showlegend=False)  # fmt: skip
    _shade(figure, section.episodes, x[-1] if x else 0, None)
    figure.update_layout(**_LAYOUT, height=380, title="Performance over time (label window)",
                         xaxis_title="evaluation")  # fmt: skip
    return figure


def fairness_chart(section: PerformanceSection, attribute: str) -> go.Figure:
    """Disparate impact against its bound, the parity gaps, each group's selection rate."""
    figure = go.Figure()
    x = list(section.evaluations)
    for name, values in section.fairness[attribute].items():
        figure.add_scatter(x=x, y=list(values), mode="lines+markers", name=name)
    bound = section.fairness_bounds.get(attribute)
    if bound is not None and x:
        figure.add_scatter(x=[x[0], x[-1]], y=[bound, bound], mode="lines", line=_THRESHOLD,
                           name=f"disparate impact bound ({bound:g})")  # fmt: skip
    own = [e for e in section.episodes if e.alert_type == "fairness" and e.column == attribute]
    _shade(figure, own, x[-1] if x else 0, None)
    figure.update_layout(**_LAYOUT, height=340, title=f"Fairness: {attribute}",
                         xaxis_title="evaluation")  # fmt: skip
    return figure


def _shade(figure: go.Figure, episodes: Sequence[Episode], last: int, row: int | None) -> None:
    where = {} if row is None else {"row": row, "col": 1}
    for episode in episodes:
        end = last if episode.end is None else episode.end
        figure.add_vrect(x0=episode.start - 0.5, x1=end + 0.5, fillcolor=_EPISODE_FILL,
                         line_width=0, layer="below", **where)  # fmt: skip
