"""HTML from the page model: one self-contained file per model version (Plotly's JavaScript
inlined, no request at view time), and an index when the file held several versions."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from string import Template

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from streams.adapters.files.report import charts
from streams.adapters.files.report.live import LivePage
from streams.adapters.files.report.page_model import ColumnSection, Episode, VersionPage
from streams.core.alerts.alert import format_time

__all__ = ["render_live_page", "render_page", "write_pages"]

_CONFIG = {"displaylogo": False, "responsive": True}


def write_pages(pages: Sequence[VersionPage], out: Path, *, source: str) -> list[Path]:
    """Write each page; one version goes to ``out`` itself, several to
    ``<out stem>-<model>-<version>.html`` beside it with ``out`` an index linking them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(pages) == 1:
        out.write_text(render_page(pages[0], source=source), encoding="utf-8")
        return [out]
    written = []
    for page in pages:
        name = _safe(f"{out.stem}-{page.model_id}-{page.model_version}") + ".html"
        path = out.with_name(name)
        path.write_text(render_page(page, source=source), encoding="utf-8")
        written.append(path)
    out.write_text(_index(pages, written, source), encoding="utf-8")
    return [out, *written]


def render_page(page: VersionPage, *, source: str) -> str:
    """The whole page of one model version."""
    title = f"Drift report: {page.model_id} {page.model_version}"
    subtitle = (
        f"{source} · {page.task} · {page.events} events watched, the first "
        f"{page.reference_events} as the reference" if page.reference_events else
        f"{source} · {page.task} · {page.events} events watched against a given profile"
    )  # fmt: skip
    body = "\n".join(
        [_summary(page), _overview(page), _quality(page), _performance(page),
         *_columns(page), _model(page)]
    )  # fmt: skip
    return _fill(title, subtitle, body)


def render_live_page(page: LivePage, *, source: str) -> str:
    """The live page of one model version: the open window its worker holds now."""
    window = page.window
    title = f"Live drift report: {page.model_id} {page.model_version}"
    since = f" since {format_time(window.start_ms)}" if window.events else ""
    subtitle = (
        f"{source} · {page.task} · window {window.index} open: {window.events} of "
        f"{page.window_events} events{since} · reference of {page.reference_events} events"
    )
    body = "\n".join(
        [_live_summary(page), _live_rules(page),
         f"<section><h2>Data quality (open window)</h2>{_quality_table(page.columns)}</section>",
         _live_performance(page), *_live_columns(page)]
    )  # fmt: skip
    return _fill(title, subtitle, body)


def _live_summary(page: LivePage) -> str:
    tiles = [("windows closed", page.window.index), ("events in the open window",
             page.window.events), ("episodes firing now", len(page.firing))]  # fmt: skip
    tile_html = "".join(f'<div class="tile"><b>{v}</b>{html.escape(k)}</div>' for k, v in tiles)
    rows = [
        [j.column or "(whole model)", j.rule, f"window {j.firing_since}", j.verdict.statistic,
         f"{j.verdict.value:.4g}", f"{j.verdict.threshold:.4g}"]
        for j in page.firing
    ]  # fmt: skip
    table = (
        _table(["column", "rule", "firing since", "statistic", "now", "threshold"], rows)
        if rows else '<p class="muted">No episode is firing now.</p>'
    )  # fmt: skip
    return (
        f'<section><h2>Firing now</h2><div class="tiles">{tile_html}</div>{table}'
        '<p class="muted">Redis holds the current state only: statistics are the open '
        "window's so far, as if it closed now (noisy while it holds few events: the worker "
        "judges full windows only); for history, see the alerts topic or Grafana.</p>"
        "</section>"
    )


def _live_rules(page: LivePage) -> str:
    ratios = [(c.section.name, c.worst_ratio, c.firing) for c in page.live]
    rows = [
        [j.column or "(whole model)", j.rule, j.verdict.detector, j.verdict.statistic,
         f"{j.verdict.value:.4g}", f"{j.verdict.threshold:.4g}",
         "over" if j.over else "under",
         "" if j.firing_since is None else f"window {j.firing_since}"]
        for j in (*(j for c in page.live for j in c.judgements), *page.model)
    ]  # fmt: skip
    head = ["column", "rule", "detector", "statistic", "now", "threshold", "", "firing since"]
    chart = _div(charts.live_ratios(ratios)) if ratios else ""
    return f"<section><h2>Statistics vs thresholds</h2>{chart}{_table(head, rows)}</section>"


def _live_performance(page: LivePage) -> str:
    section = page.performance
    if section is None:
        return ""
    windows = list(section.metrics)
    names = sorted({n for metrics in section.metrics.values() for n in metrics})
    rows = [[n, *(_number(section.metrics[w].get(n)) for w in windows)] for n in names]
    return (
        f"<section><h2>Performance (labels)</h2><p>{section.labels} labels joined, "
        f"{section.evaluations} evaluations.</p>{_table(['metric', *windows], rows)}</section>"
    )


def _live_columns(page: LivePage) -> Iterable[str]:
    for column in page.live:
        section = column.section
        alerting = ' <span class="alerting">firing</span>' if column.firing else ""
        figure = charts.column_histogram(section, current=f"window {page.window.index} so far")
        yield (
            f"<section><h2>{html.escape(section.kind)}: {html.escape(section.name)}{alerting}"
            f"</h2>{_div(figure)}</section>"
        )


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4g}"


def _fill(title: str, subtitle: str, body: str, *, charts: bool = True) -> str:
    template = resources.files(__package__).joinpath("templates/report.html").read_text("utf-8")
    return Template(template).substitute(
        title=html.escape(title), subtitle=html.escape(subtitle), body=body,
        plotlyjs=get_plotlyjs() if charts else "",
    )  # fmt: skip


def _summary(page: VersionPage) -> str:
    tiles = [("windows judged", len(page.window_starts_ms)),
             ("alerts fired", sum(page.alerts.values())), *page.alerts.items(),
             ("rejected events", sum(page.rejected.values()))]  # fmt: skip
    tile_html = "".join(
        f'<div class="tile"><b>{v}</b>{html.escape(str(k))}</div>' for k, v in tiles
    )
    rows = [
        [e.alert_type, e.column or "(whole model)", e.rule, _when(page, e), _end(e),
         f"{e.value:.4g}", f"{e.threshold:.4g}"]
        for e in page.episodes
    ]  # fmt: skip
    table = (
        _table(["type", "column", "rule", "started", "ended", "value", "threshold"], rows)
        if rows else '<p class="muted">No alert episodes: nothing crossed its threshold.</p>'
    )  # fmt: skip
    return f'<section><h2>Summary</h2><div class="tiles">{tile_html}</div>{table}</section>'


def _when(page: VersionPage, episode: Episode) -> str:
    label = (
        "evaluation"
        if episode.alert_type in ("performance", "concept_drift", "fairness")
        else "window"
    )
    return f"{label} {episode.start} ({format_time(episode.start_ms)})"


def _end(episode: Episode) -> str:
    return "still firing" if episode.end is None else str(episode.end)


def _overview(page: VersionPage) -> str:
    figure = charts.overview_heatmap(page)
    return "" if figure is None else f"<section>{_div(figure)}</section>"


def _quality(page: VersionPage) -> str:
    columns = _quality_table(page.columns)
    rejected = [[reason, n] for reason, n in page.rejected.items()]
    rejected += [
        [f"{reason} (no known model)", n] for reason, n in page.rejected_unattributed.items()
    ]
    rejections = (
        _table(["rejected by reason", "records"], rejected) if rejected
        else '<p class="muted">No record was rejected.</p>'
    )  # fmt: skip
    return (
        '<section><h2>Data quality</h2><p class="muted">Out of range: outside the reference\'s '
        f"[min, max].</p>{columns}{rejections}</section>"
    )


def _quality_table(sections: Sequence[ColumnSection]) -> str:
    rows = [
        [c.name, c.quality.count, _percent(c.quality.reference_missing),
         _percent(c.quality.missing),
         "n/a" if c.quality.out_of_range is None else _percent(c.quality.out_of_range)]
        for c in sorted(sections, key=_quality_order)
    ]  # fmt: skip
    return _table(["column", "events", "missing (reference)", "missing", "out of range"], rows)


def _quality_order(column: ColumnSection) -> tuple[float, str]:
    """Columns with more missing (than in the reference) or out-of-range values first."""
    quality = column.quality
    worse = quality.missing - quality.reference_missing + (quality.out_of_range or 0)
    return (-worse, column.name)


def _performance(page: VersionPage) -> str:
    section = page.performance
    if section is None:
        return ""
    parts = [_div(charts.performance_chart(section))]
    parts += [_div(charts.fairness_chart(section, a)) for a in section.fairness]
    return f"<section><h2>Performance and fairness</h2>{''.join(parts)}</section>"


def _columns(page: VersionPage) -> Iterable[str]:
    for column in page.columns:
        alerting = ' <span class="alerting">alerting</span>' if column.episodes else ""
        yield (
            f"<section><h2>{html.escape(column.kind)}: {html.escape(column.name)}{alerting}</h2>"
            f'<div class="pair"><div>{_div(charts.column_histogram(column))}</div>'
            f"<div>{_div(charts.rule_chart('Statistic by window', column.series))}</div></div>"
            "</section>"
        )


def _model(page: VersionPage) -> str:
    if not page.model_series:
        return ""
    figure = charts.rule_chart("Whole model: anomalous events", page.model_series)
    return f"<section><h2>Whole model</h2>{_div(figure)}</section>"


def _index(pages: Sequence[VersionPage], paths: Sequence[Path], source: str) -> str:
    rows = [
        [f'<a href="{html.escape(path.name)}">{html.escape(p.model_id)}</a>',
         html.escape(p.model_version), p.events, sum(p.alerts.values())]
        for p, path in zip(pages, paths, strict=True)
    ]  # fmt: skip
    table = _table(["model", "version", "events", "alerts"], rows, raw=True)
    body = f"<section><h2>Model versions</h2>{table}</section>"
    return _fill("Drift report", source, body, charts=False)


def _div(figure: go.Figure) -> str:
    return str(figure.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG))


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], *, raw: bool = False) -> str:
    def cell(value: object) -> str:
        text = str(value) if raw else html.escape(str(value))
        numeric = isinstance(value, int | float) or (
            str(value).rstrip("%").replace(".", "").isdigit()
        )
        return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"

    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(f"<tr>{''.join(cell(v) for v in row)}</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _percent(share: float) -> str:
    return "n/a" if math.isnan(share) else f"{100 * share:.2f}%"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
