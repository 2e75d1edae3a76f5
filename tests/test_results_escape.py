"""Hostile text from catalogs and records cannot inject headings, table rows or markup into REPORT.md."""

import re

import pytest
from results_fakes import FakeCatalog, FakeClaim, FakeRecord, FakeRecorder, FakeTable, run_info

from harness.escape import escape_html, md_code, md_line, md_text
from harness.report import write_results

HOSTILE = [
    "reason\n\n# Injected heading\n\n| a | b |\n|---|---|\n| x | y |",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "![tracker](http://evil.example/p.png) and [link](javascript:alert(1))",
    "pipe | in | text",
    "<!-- hidden",
    "`code` ``` fence\r\n> quote\u2028- item",
]


def structure_ok(markdown: str) -> None:
    """No raw HTML tags, no links, no headings but ours, every table row as wide as its header."""
    assert not re.search(r"<\s*(script|img|a|iframe|!--)", markdown, re.I)
    assert not re.search(r"(?<!\\)\]\((http|javascript)", markdown)
    assert "\\\\[" not in markdown  # an escaped backslash would leave the bracket live
    assert not re.search(r"^#+\s*Injected", markdown, re.M)  # hostile text inside our headings is fine
    width = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        width = width or cells
        assert cells == width, line


@pytest.mark.parametrize("text", HOSTILE)
def test_inline_escapes(text):
    for out in (md_text(text), md_line(text)):
        assert "\n" not in out and "\r" not in out and "\u2028" not in out
        assert "<" not in out
        assert not re.search(r"(?<!\\)\|", out)
    assert "\n" not in md_code(text)
    assert escape_html(text).count("<") == 0 and '"' not in escape_html(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_report_from_hostile_catalog_and_records(tmp_path, text):
    claim_id = "demo.hostile"
    record = FakeRecord(claim_id, statement=text, report_value=text, verdict="refuted (known)",
                        known_refutation=text, detail=text, measured={text: 1.0}, table=text,
                        labels={text: text, "Plain": "x"}, model_role=text, stands_for=text)
    table = FakeTable("demo", text, [{text: text, "n": 1}], note=text)
    recorder = FakeRecorder("20260101-000000-ci-1", records=[record], tables=[table])
    recorder.artifacts = {"demo": {text: "plots/x (1).png", "view": f"attention_{text[:5]}.html"}}
    catalog = FakeCatalog("demo", (FakeClaim(claim_id), FakeClaim("demo.unmeasured", statement=text, table=text)),
                          title=text, not_checkable=({"statement": text, "why": text},))
    write_results(tmp_path, recorder, run_info(recorder.run_id, "2026-01-01T00:00:00"), {"demo": catalog})
    report = (tmp_path / "REPORT.md").read_text()
    structure_ok(report)
    assert "demo.unmeasured" in report and "20260101-000000-ci-1" in report


def test_harmless_text_stays_readable():
    assert md_text("<= 1e-05, AT&T, a > b") == "<= 1e-05, AT&T, a > b"
    assert md_text("&lt;b&gt;") == "&amp;lt;b&amp;gt;"  # shown as written, not decoded
    assert md_line("1. The Full Pipeline") == "1\\. The Full Pipeline"
