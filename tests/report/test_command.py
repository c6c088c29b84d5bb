"""``driftline report`` as a command: its progress bar, its page files, its missing extra."""

from __future__ import annotations

import io
import sys

from streams.adapters.files.report.progress import progress_lines
from streams.cli import main
from streams.simulation import StreamConfig, write_jsonl


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    terminal, log = _Terminal(), io.StringIO()
    with lines.open("rb") as file:
        assert list(progress_lines(file, terminal)) == lines.read_bytes().splitlines(True)
    with lines.open("rb") as file:
        assert list(progress_lines(file, log)) == lines.read_bytes().splitlines(True)
    assert log.getvalue() == ""
    drawn = terminal.getvalue()
    assert drawn.startswith("\rreading events [") and drawn.endswith("100% (0 MiB)\n")
    assert "[" + "#" * 30 + "]" in drawn


def test_several_versions_get_a_page_each_and_an_index(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    for model in ("alpha", "beta"):
        part = tmp_path / f"{model}.jsonl"
        write_jsonl(part, StreamConfig(model_id=model, seed=1), 1_500)
        with events.open("ab") as out:
            out.write(part.read_bytes())
    out = tmp_path / "out" / "report.html"
    argv = ["report", str(events), "--out", str(out), "--window", "200", "--reference-events",
            "1000"]  # fmt: skip
    assert main(argv) == 0
    pages = sorted(p.name for p in out.parent.iterdir())
    assert pages == ["report-alpha-v1.html", "report-beta-v1.html", "report.html"]
    index = out.read_text()
    assert 'href="report-alpha-v1.html"' in index and 'href="report-beta-v1.html"' in index
    assert "Plotly" not in index  # the index has no charts, so no 5 MB of JavaScript
    assert "Drift report: beta v1" in (out.parent / "report-beta-v1.html").read_text()
    assert "replayed 3000 lines" in capsys.readouterr().err


def test_too_short_a_file_writes_nothing_and_says_so(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    write_jsonl(events, StreamConfig(seed=1), 100)
    out = tmp_path / "report.html"
    assert main(["report", str(events), "--out", str(out)]) == 1
    assert not out.exists()
    assert "no model version got past its reference" in capsys.readouterr().err


def test_without_plotly_it_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    # None in sys.modules makes the import fail, as on a machine without the extra.
    monkeypatch.setitem(sys.modules, "plotly", None)
    for name in ("charts", "render"):
        monkeypatch.delitem(sys.modules, f"streams.adapters.files.report.{name}", raising=False)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"")
    assert main(["report", str(events), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["driftline report needs Plotly (plotly): pip install 'driftline[report]'"]


def test_exactly_one_source_or_a_one_line_usage_error(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    write_jsonl(events, StreamConfig(seed=1), 100)
    out = tmp_path / "report.html"
    both = ["report", str(events), "--from-redis", "m", "v1", "--out", str(out)]
    labelled = ["report", "--from-redis", "m", "v1", "--labels", str(events), "--out", str(out)]
    for argv in (["report", "--out", str(out)], both, labelled):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("driftline report: "), err
    assert not out.exists()
