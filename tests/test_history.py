"""`python -m harness history CLAIM_ID`: the claim's measured value in every saved run, with a plot."""

from results_fakes import FakeRecord, FakeRecorder, catalogs, run_info

from harness.history import main
from harness.report import write_results

CATS = catalogs("demo.a", "demo.tokens")


def write(tmp_path, run_id, profile, records):
    recorder = FakeRecorder(run_id, profile, "packaged", records)
    write_results(tmp_path, recorder, run_info(run_id, run_id, profile), CATS)


def test_history_prints_every_run_and_plots(tmp_path, capsys):
    for day, profile, value in (("01", "ci", 1.0), ("02", "cpu", 1.05), ("03", "ci", {"x": 1.0, "y": 2.0})):
        write(tmp_path, f"202601{day}-000000-{profile}-1", profile, [FakeRecord("demo.a", measured=value)])
    assert main(["demo.a", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "demo.a: 3 run(s)" in out
    assert "| 20260101-000000-ci-1 | ci | packaged |" in out and "| 1.05 | holds |" in out
    plot = tmp_path / "plots" / "history-demo-a.png"
    assert f"plot: {plot}" in out and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["demo.a", "--results-dir", str(tmp_path), "--profile", "cpu", "--no-plot"]) == 0
    assert "demo.a: 1 run(s)" in capsys.readouterr().out


def test_history_of_text_values_prints_without_plot(tmp_path, capsys):
    write(tmp_path, "20260101-000000-ci-1", "ci", [FakeRecord("demo.tokens", measured=["a", "b"])])
    assert main(["demo.tokens", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "['a', 'b']" in out and "no plot" in out


def test_unknown_claim_suggests_near_ids(tmp_path, capsys):
    write(tmp_path, "20260101-000000-ci-1", "ci", [FakeRecord("demo.a")])
    assert main(["demo.aa", "--results-dir", str(tmp_path)]) == 2
    assert "did you mean: demo.a" in capsys.readouterr().err
