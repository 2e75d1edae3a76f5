"""REPORT.md's benchmark table: each benchmark's headline figure (a share of the machine's limits,
seconds, a throughput) against its target, from the newest saved pytest-benchmark run of the report's
profile and model set; a benchmark-only session saves under the harness's results directory and
rewrites REPORT.md with it."""

import json

from results_fakes import FakeRecord, FakeRecorder, catalogs, run_info

from harness.benchmarks import figure_rows
from harness.report import refresh_report, write_results

pytest_plugins = ["pytester"]
CATS = catalogs("demo.a")


def claims_run(results_dir, profile="cpu"):
    run_id = f"20260101-000000-{profile}-1"
    write_results(results_dir, FakeRecorder(run_id, profile, "packaged", [FakeRecord("demo.a")]),
                  run_info(run_id, run_id, profile, "packaged"), CATS)


def saved_benchmarks(results_dir, name, profile, when, benchmarks):
    path = results_dir / "benchmarks" / "Linux-CPython-3.11-64bit" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine_info": {"harness_profile": profile, "harness_model_set": "packaged"},
                                "datetime": when, "commit_info": {"id": "0123456789abcdef"},
                                "benchmarks": benchmarks}))


def bench(name, mean, **extra):
    return {"name": name, "fullname": f"suites/x.py::{name}", "stats": {"mean": mean}, "extra_info": extra}


def test_each_benchmark_shows_its_figure_against_its_target(tmp_path):
    claims_run(tmp_path)
    saved_benchmarks(tmp_path, "0001_a_20260101.json", "cpu", "2026-01-01T00:00:00",
                     [bench("old_decoding", 1.0, share_of_bandwidth_bound=0.1, target_share=0.5)])
    saved_benchmarks(tmp_path, "0002_a_20260102.json", "cpu", "2026-01-02T00:00:00", [
        bench("decoding", 1.0, share_of_bandwidth_bound=0.6891, target_share=0.5, tokens_per_second=34.0,
              ms_per_token=29.41, compiled=True, same_tokens_as_uncompiled=True),
        bench("embedder", 0.5, share_of_matmul=0.35, target_share=0.4),
        bench("sweep", 148.2, seconds=148.2, target_seconds=60.0),
        bench("training", 0.54, examples_per_second=59.3),
        bench("plain", 0.01)])
    saved_benchmarks(tmp_path, "0003_a_20260103.json", "ci", "2026-01-03T00:00:00",  # another profile: not shown
                     [bench("ci_only", 1.0)])
    report = refresh_report(tmp_path, "cpu", "packaged", CATS)
    text = report.read_text()
    assert "## Benchmarks (newest saved run of this profile)" in text and "commit 012345678" in text
    assert ("| decoding | 1 | share of the bandwidth bound | 0.6891 | >= 0.5 | True | ms_per_token 29.41, "
            "compiled True, same_tokens_as_uncompiled True |") in text
    assert "| embedder | 0.5 | share of fp32 matmul throughput | 0.35 | >= 0.4 | False |" in text
    assert "| sweep | 148.2 | seconds | 148.2 | <= 60.0 | False |" in text
    assert "| training | 0.54 | examples/s | 59.3 |  |  |" in text and "| plain | 0.01 |  |  |  |  |" in text
    assert "old_decoding" not in text and "ci_only" not in text


def test_a_truncated_file_is_named_and_markdown_in_names_is_escaped(tmp_path):
    claims_run(tmp_path)
    saved_benchmarks(tmp_path, "0001_a_20260101.json", "cpu", "2026-01-01T00:00:00",
                     [bench("a|b<script>", 1.0, seconds=2.0, target_seconds=1.0)])
    truncated = tmp_path / "benchmarks" / "Linux-CPython-3.11-64bit" / "0002_a_20260102.json"
    truncated.write_text('{"machine_info": {"harness_profile": "cpu"}, "benchm')
    text = refresh_report(tmp_path, "cpu", "packaged", CATS).read_text()
    assert "Warning: benchmarks/Linux-CPython-3.11-64bit/0002_a_20260102.json is not a readable" in text
    assert "(benchmarks/Linux-CPython-3.11-64bit/0001_a_20260101.json)" in text  # the older run, named as shown
    assert "| a\\|b&lt;script> | 1 | seconds | 2 | <= 1.0 | False |" in text


def test_a_target_compares_in_the_figures_direction():
    rows = figure_rows({"benchmarks": [bench("fast", 1, seconds=59.0, target_seconds=60.0),
                                       bench("share", 1, share_of_matmul=0.39, target_share=0.4)]})
    assert [r["within target"] for r in rows] == [True, False]


def test_no_claims_run_of_the_profile_leaves_report_md_alone(tmp_path):
    claims_run(tmp_path, "ci")
    before = (tmp_path / "REPORT.md").read_text()
    assert refresh_report(tmp_path, "cpu", "packaged", CATS) is None
    assert (tmp_path / "REPORT.md").read_text() == before
    assert "No saved benchmark run of profile `ci`" in before


CONFTEST = 'pytest_plugins = ["harness.plugin", "fixtures.session"]\n'
BENCH = '''
def test_sum_of_squares(benchmark):
    benchmark(lambda: sum(i * i for i in range(2000)))
    benchmark.extra_info.update(seconds=1.0, target_seconds=60.0)
'''


def test_a_benchmark_only_session_saves_beside_the_results_and_refreshes_report_md(pytester, monkeypatch,
                                                                                   tmp_path_factory):
    monkeypatch.setenv("LLM_HARNESS_CACHE", str(tmp_path_factory.mktemp("harness-cache")))
    results = tmp_path_factory.mktemp("results")
    claims_run(results)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider --benchmark-storage=results/benchmarks\n")
    (pytester.mkpydir("suites") / "bench_demo.py").write_text(BENCH)
    run = pytester.runpytest_subprocess("suites/bench_demo.py", "--benchmark-only", "--benchmark-min-rounds=3",
                                        "--profile", "cpu", "--results-dir", str(results))
    run.assert_outcomes(passed=1)
    assert list((results / "benchmarks").rglob("*.json")), "not saved under --results-dir"
    assert not (pytester.path / "results").exists()
    assert f"benchmarks shown in {results / 'REPORT.md'}" in run.stdout.str()
    assert "| test_sum_of_squares |" in (results / "REPORT.md").read_text()
    assert "| seconds | 1 | <= 60.0 | True |" in (results / "REPORT.md").read_text()
