"""Two real pytest sessions of a demo suite end at the same instant into one results directory:
both runs' records are in claims.json and REPORT.md, and each prints its verdict summary."""

import json
import os
import subprocess
import sys
import time

pytest_plugins = ["pytester"]

CONFTEST = ('pytest_plugins = ["harness.plugin", "harness.summary", "fixtures.session", "fixtures.models", '
            '"fixtures.data"]\n')
CATALOG = '''
experiment = "demo"
section = "9"
title = "Demo"

[[claim]]
id = "demo.first"
statement = "two and two make four"
source = "a self-test's own arithmetic"
measure = "sum"
check = "exact"
expected = 4
args = { a = 2, b = 2 }

[[claim]]
id = "demo.second"
statement = "one and one make two"
source = "a self-test's own arithmetic"
measure = "sum"
check = "exact"
expected = 2
args = { a = 1, b = 1 }

[[claim]]
id = "demo.wrong"
statement = "two and two make five"
source = "a self-test's own arithmetic"
measure = "sum"
check = "exact"
expected = 5
args = { a = 2, b = 2 }
refuted = "arithmetic"
'''
SUITE = '''
import os, time
import pytest

@pytest.mark.claims("sum")
def test_sum(claim, check):
    check(claim.args["a"] + claim.args["b"])

def test_zz_wait_for_the_other_session():  # runs last: both sessions end at END_AT
    time.sleep(max(0.0, float(os.environ["END_AT"]) - time.time()))
'''


def test_two_sessions_ending_together_keep_both_runs(pytester, monkeypatch):
    for var in ("LLM_HARNESS_PROFILE", "LLM_HARNESS_MODEL_SET", "LLM_HARNESS_RESULTS", "LLM_HARNESS_DATA"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    suite = pytester.mkpydir("suites")
    (suite / "demo").mkdir()
    (suite / "demo" / "catalog.toml").write_text(CATALOG)
    (suite / "demo" / "test_demo.py").write_text(SUITE)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "END_AT": str(time.time() + 40),
           "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    sessions = [subprocess.Popen([sys.executable, "-m", "pytest", "suites", "--profile", "ci", "-k", selection],
                                 cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
                for selection in ("first or wrong or wait", "second or wait")]
    outputs = [s.communicate(timeout=180)[0] for s in sessions]
    assert [s.returncode for s in sessions] == [0, 0], outputs
    view = json.loads((pytester.path / "results" / "claims.json").read_text())
    assert set(view["claims"]) == {"demo.first", "demo.second", "demo.wrong"}
    assert len(view["runs"]) == 2 and view["not_measured"] == []
    report = (pytester.path / "results" / "REPORT.md").read_text()
    assert all(f"| {cid} |" in report for cid in view["claims"])
    runs = list((pytester.path / "results" / "runs" / "ci").glob("*/claims.json"))
    assert len(runs) == 2
    first, second = outputs
    assert "harness claims: profile ci, model set packaged: 2 claims" in first
    listed = first.split("claims that do not hold")[1]
    # the demo's claims take their values from a `source`, not the report: a wrong one is a reference that differs
    assert "reference differs" in listed and "demo.wrong" in listed
    assert "harness claims: profile ci, model set packaged: 1 claims" in second
    assert "every claim of this run holds" in second
