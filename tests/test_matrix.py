"""`python -m harness matrix`: each claim per profile/model set side by side, benchmark means per
profile; REPORT.md carries the claims table once more than one profile has runs."""

import json

from results_fakes import FakeRecord, FakeRecorder, catalogs, run_info

from harness.matrix import main
from harness.report import write_results

CATS = catalogs("demo.a", "demo.b")


def write(tmp_path, run_id, profile, records, model_set="packaged"):
    recorder = FakeRecorder(run_id, profile, model_set, records)
    write_results(tmp_path, recorder, run_info(run_id, run_id, profile, model_set), CATS)


def bench(tmp_path, name, profile, when, mean):
    path = tmp_path / "benchmarks" / "Linux-CPython-3.11-64bit" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine_info": {"harness_profile": profile}, "datetime": when,
                                "benchmarks": [{"fullname": "bench_tok", "stats": {"mean": mean}}]}))


def test_matrix_side_by_side(tmp_path, capsys):
    write(tmp_path, "20260101-000000-ci-1", "ci", [FakeRecord("demo.a", measured=1.0),
                                                    FakeRecord("demo.b", measured=5.0, verdict="refuted")])
    assert "Claims across profiles" not in (tmp_path / "REPORT.md").read_text()  # one profile so far
    write(tmp_path, "20260102-000000-cpu-1", "cpu", [FakeRecord("demo.a", measured=1.02)])
    write(tmp_path, "20260103-000000-cpu-2", "cpu", [FakeRecord("demo.b", measured=1.0)], model_set="hub")
    bench(tmp_path, "0001_abc_20260101.json", "ci", "2026-01-01T00:00:00", 0.5)
    bench(tmp_path, "0002_abc_20260102.json", "ci", "2026-01-02T00:00:00", 0.25)
    bench(tmp_path, "0003_abc_20260102.json", "cpu", "2026-01-02T00:00:00", 1.5)
    (tmp_path / "benchmarks" / "broken.json").write_text("[]")
    assert main(["--results-dir", str(tmp_path), "--catalogs", ""]) == 0
    out = capsys.readouterr().out
    assert "| claim | report | ci / packaged | cpu / hub | cpu / packaged | verdicts differ |" in out
    assert "| demo.a | 1 | 1 (holds) | - | 1.02 (holds) |  |" in out
    assert "| demo.b | 1 | 5 (refuted) | 1 (holds) | - | yes |" in out
    assert "| benchmark | ci mean (s) | cpu mean (s) |" in out and "| bench_tok | 0.25 | 1.5 |" in out
    assert (tmp_path / "MATRIX.md").read_text().strip() == out.strip()
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Claims across profiles and model sets" in report and "| demo.b | 1 | 5 (refuted) |" in report


def test_matrix_without_runs_is_a_clear_error(tmp_path, capsys):
    assert main(["--results-dir", str(tmp_path)]) == 2
    assert "no saved runs" in capsys.readouterr().err
