"""``driftline report``'s page renders in headless Chromium: no console message, every chart
drawn, and a screenshot that is not blank."""

from __future__ import annotations

from streams.cli import main
from tests.report.browser import distinct_bytes, render

# A blank page's pixel stream has a handful of byte values; the report's has ~256.
NOT_BLANK = 64


def test_the_report_renders_in_chromium_without_console_errors(
    chromium, every_alert_files, tmp_path, capsys
):
    events, labels, spec = every_alert_files
    out = tmp_path / "report.html"
    assert main(["report", str(events), "--labels", str(labels), "--spec", str(spec),
                 "--out", str(out)]) == 0  # fmt: skip
    assert f"wrote {out}" in capsys.readouterr().err
    html = out.read_text()
    assert "<script src=" not in html  # nothing fetched at view time
    charts = html.count('class="plotly-graph-div"')
    assert charts > 10

    page = render(chromium, out, tmp_path)

    assert page.console == []
    assert page.dom.count("plotly-graph-div js-plotly-plot") == charts  # every chart drawn
    for heading in ("Summary", "Data quality", "Performance and fairness", "Whole model"):
        assert f"<h2>{heading}</h2>" in page.dom
    assert page.screenshot.stat().st_size > 0
    assert distinct_bytes(page.screenshot) >= NOT_BLANK


def test_the_checks_catch_console_errors_and_blank_pages(chromium, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><script>console.error("boom"); null.x;</script></body></html>')
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")

    seen = render(chromium, broken, tmp_path).console
    assert len(seen) == 2 and '"boom"' in seen[0] and "TypeError" in seen[1]
    assert distinct_bytes(render(chromium, blank, tmp_path, height=600).screenshot) < NOT_BLANK
