"""Two runs of the same profile give identical non-timing measurements, and a pytest-xdist run
(-n 2) gives the same claims as a serial one. Checked on a small real subset of the suites."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBSET = "tok.split or tok.count or emb.pair or att.formula or pipe.layer"
DATA = ROOT.parent / "shared" / "data"


def run_suites(results: Path, *extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_HARNESS_RESULTS")}
    command = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:randomly", "--profile", "ci",
               "--results-dir", str(results), "-k", SUBSET, *extra]
    data = Path(os.environ.get("LLM_HARNESS_DATA") or DATA)
    # with the data present every claim of the subset must run; without it the rest still must agree
    command += ["--data-dir", str(data)] if data.is_dir() else ["--allow-missing-data"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    claims = json.loads((results / "claims.json").read_text())["claims"]
    return {cid: (c["measured"], c["verdict"], c["seed"]) for cid, c in claims.items()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run_suites(tmp_path_factory.mktemp("serial"))


def test_two_runs_measure_the_same(serial, tmp_path):
    assert len(serial) >= 10
    assert run_suites(tmp_path) == serial


def test_xdist_run_matches_serial_run(serial, tmp_path):
    assert run_suites(tmp_path, "-n", "2") == serial
