"""pytest-benchmark's own tools keep working on what the harness saves: autosaved files carry
pytest-benchmark's own names (counter, commit id, date), `pytest-benchmark compare` reads two saved
runs, and its histogram is drawn from them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = 'pytest_plugins = ["harness.plugin", "fixtures.session"]\n'
BENCH = '''
def test_sum_of_squares(benchmark):
    benchmark(lambda: sum(i * i for i in range(2000)))
'''
# pytest-benchmark's tag: NNNN_<commit id or "unversioned">_<YYYYmmdd_HHMMSS>[_uncommitted-changes].json
SAVED_NAME = re.compile(r"^\d{4}_[0-9a-z]+_\d{8}_\d{6}(_uncommitted-changes)?\.json$")


def cli() -> str:
    script = Path(sys.executable).with_name("pytest-benchmark")
    if not script.exists():
        pytest.skip("pytest-benchmark's command-line script is not installed beside this Python")
    return str(script)


def test_saved_benchmarks_work_with_pytest_benchmarks_own_tools(pytester, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("LLM_HARNESS_CACHE", str(tmp_path_factory.mktemp("harness-cache")))
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider --benchmark-storage=results/benchmarks\n")
    suite = pytester.mkpydir("suites")
    (suite / "bench_demo.py").write_text(BENCH)
    for _ in range(2):
        run = pytester.runpytest_subprocess("suites/bench_demo.py", "--benchmark-only",
                                            "--benchmark-min-rounds=3", "--no-results")
        run.assert_outcomes(passed=1)
    saved = sorted((pytester.path / "results" / "benchmarks").rglob("*.json"))
    assert [p.name[:4] for p in saved] == ["0001", "0002"], saved
    for path in saved:
        assert SAVED_NAME.match(path.name), f"{path.name} is not named as pytest-benchmark names it"
        data = json.loads(path.read_text())
        assert data["machine_info"]["harness_profile"] == "cpu"  # the harness's machine info is kept
        assert data["commit_info"]["id"]

    storage = f"file://{pytester.path / 'results' / 'benchmarks'}"
    histogram = pytester.path / "hist"
    done = subprocess.run([cli(), "--storage", storage, "compare", f"--histogram={histogram}", "0001", "0002"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "test_sum_of_squares" in done.stdout
    assert "0001" in done.stdout and "0002" in done.stdout
    assert list(pytester.path.glob("hist*.svg")), "no histogram was drawn"
