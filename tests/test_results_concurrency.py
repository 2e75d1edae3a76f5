"""Two real processes end their runs at the same instant into one results directory, 20 times:
every record of both runs is in the merged claims.json and REPORT.md afterwards."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROUNDS = 20
CLAIMS_PER_RUN = 5
SLOT_S = 0.3

CHILD = textwrap.dedent('''
    import os, random, sys, time
    from pathlib import Path
    from results_fakes import FakeRecord, FakeRecorder, catalogs, run_info
    from harness import results

    side, base = sys.argv[1], Path(sys.argv[2])
    rounds, per_run, slot = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    real_replace = os.replace

    def slow_replace(src, dst):  # renames as on a slow or network filesystem widen every race
        time.sleep(random.uniform(0, 0.02))
        real_replace(src, dst)

    results.os.replace = slow_replace
    ids = [f"demo.{s}{i}" for s in "AB" for i in range(per_run)]
    (base / f"ready-{side}").write_text("")
    while not (base / "go").exists():
        time.sleep(0.005)
    start = float((base / "go").read_text())
    for k in range(rounds):
        time.sleep(max(0.0, start + k * slot - time.time()))
        run_id = f"20260101-0000{k:02d}-ci-{side}"
        records = [FakeRecord(f"demo.{side}{i}", measured=float(k)) for i in range(per_run)]
        recorder = FakeRecorder(run_id, records=records)
        results.write_results(base / f"round-{k}", recorder, run_info(run_id, f"2026-01-01T00:00:{k:02d}"),
                              catalogs(*ids))
''')


def test_simultaneous_writers_lose_nothing(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    children = [subprocess.Popen([sys.executable, str(script), side, str(tmp_path), str(ROUNDS),
                                  str(CLAIMS_PER_RUN), str(SLOT_S)], env=env, stderr=subprocess.PIPE, text=True)
                for side in "AB"]
    deadline = time.time() + 60
    while not all((tmp_path / f"ready-{s}").exists() for s in "AB"):
        assert time.time() < deadline and all(c.poll() is None for c in children), \
            [c.stderr.read() for c in children if c.poll() is not None]
        time.sleep(0.01)
    (tmp_path / "go").write_text(str(time.time() + 0.2))
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read()

    lost = []
    for k in range(ROUNDS):
        directory = tmp_path / f"round-{k}"
        view = json.loads((directory / "claims.json").read_text())
        report = (directory / "REPORT.md").read_text()
        for side in "AB":
            run_file = directory / "runs" / "ci" / f"20260101-0000{k:02d}-ci-{side}" / "claims.json"
            run = json.loads(run_file.read_text())
            assert len(run["claims"]) == CLAIMS_PER_RUN
            for i in range(CLAIMS_PER_RUN):
                cid = f"demo.{side}{i}"
                if cid not in view["claims"] or f"| {cid} |" not in report:
                    lost.append((k, cid))
        latest = (directory / "runs" / "ci" / "LATEST").read_text().strip()
        assert (directory / "runs" / "ci" / latest / "claims.json").is_file()
    assert lost == [], f"{len(lost)} of {ROUNDS * 2 * CLAIMS_PER_RUN} records lost"
