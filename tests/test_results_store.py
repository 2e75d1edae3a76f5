"""The results store keeps each run's record and builds REPORT.md/claims.json per profile and
model set from them: provenance, stale claims, bad files in the way, failed writes, file modes."""

import errno
import json
import os

import pytest
from results_fakes import FakeRecord, FakeRecorder, FakeTable, catalogs, run_info

from harness import results
from harness.report import ResultsError, write_results

CATS = catalogs("demo.a", "demo.b", "demo.c")


def write(tmp_path, run_id, records, *, profile="ci", model_set="packaged", cats=CATS, tables=()):
    recorder = FakeRecorder(run_id, profile, model_set, records, tables)
    day = run_id[:8]
    finished = f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00"
    return write_results(tmp_path, recorder, run_info(run_id, finished, profile, model_set), cats)


def view(tmp_path):
    return json.loads((tmp_path / "claims.json").read_text())


def test_partial_run_keeps_earlier_records_with_their_run(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a"), FakeRecord("demo.b", measured=2.0)])
    write(tmp_path, "20260102-000000-ci-1", [FakeRecord("demo.b", measured=1.05)])
    claims = view(tmp_path)["claims"]
    assert claims["demo.a"]["run_id"] == "20260101-000000-ci-1"
    assert claims["demo.b"]["run_id"] == "20260102-000000-ci-1" and claims["demo.b"]["measured"] == 1.05
    assert view(tmp_path)["not_measured"] == ["demo.c"]
    report = (tmp_path / "REPORT.md").read_text()
    assert "| 20260101-000000-ci-1 | demo.a |" in report
    assert "1 measured by the latest run, 1 by earlier runs" in report
    assert "not measured in ci / packaged" in report
    assert (tmp_path / "runs" / "ci" / "LATEST").read_text().strip() == "20260102-000000-ci-1"
    first = json.loads((tmp_path / "runs" / "ci" / "20260101-000000-ci-1" / "claims.json").read_text())
    assert set(first["claims"]) == {"demo.a", "demo.b"} and first["run"]["profile"] == "ci"


def test_view_never_mixes_profiles_or_model_sets(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a", measured=1.0)])
    write(tmp_path, "20260102-000000-cpu-1", [FakeRecord("demo.b")], profile="cpu")
    data = view(tmp_path)
    assert data["view"] == {"profile": "cpu", "model_set": "packaged"}
    assert set(data["claims"]) == {"demo.b"} and data["not_measured"] == ["demo.a", "demo.c"]
    assert set(data["runs"]) == {"20260102-000000-cpu-1"}
    report = (tmp_path / "REPORT.md").read_text()
    header = report.split("## Summary")[0]
    assert "Profile `cpu`" in header and "20260101-000000-ci-1" not in header
    assert "## Claims across profiles and model sets" in report  # two profiles have runs
    write(tmp_path, "20260103-000000-cpu-2", [FakeRecord("demo.a", measured=9.0)], profile="cpu", model_set="hub")
    data = view(tmp_path)
    assert set(data["claims"]) == {"demo.a"} and data["claims"]["demo.a"]["measured"] == 9.0


def test_only_claims_of_current_catalogs_are_shown(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a"), FakeRecord("demo.renamed-away")])
    assert "demo.renamed-away" not in view(tmp_path)["claims"]
    assert "demo.renamed-away" not in (tmp_path / "REPORT.md").read_text()
    # the run's own record keeps everything it measured
    own = json.loads((tmp_path / "runs" / "ci" / "20260101-000000-ci-1" / "claims.json").read_text())
    assert "demo.renamed-away" in own["claims"]


@pytest.mark.parametrize("content", ['{"schema": 1, "claims": 5, "runs": []}', "[1, 2]", "{ truncated",
                                     '{"schema": 1, "claims": {"x": 3}}'])
def test_wrong_shape_claims_json_is_kept_aside_and_the_run_written(tmp_path, content):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "claims.json").write_text(content)
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")])
    kept = list(tmp_path.glob("claims.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == content
    assert set(view(tmp_path)["claims"]) == {"demo.a"}
    assert (tmp_path / "runs" / "ci" / "20260101-000000-ci-1" / "claims.json").is_file()


def test_directory_in_place_of_claims_json_is_kept_aside(tmp_path):
    (tmp_path / "claims.json").mkdir(parents=True)
    (tmp_path / "claims.json" / "inside").write_text("keep me")
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")])
    kept = list(tmp_path.glob("claims.json.unreadable-*"))
    assert len(kept) == 1 and (kept[0] / "inside").read_text() == "keep me"
    assert set(view(tmp_path)["claims"]) == {"demo.a"}


def test_a_bad_saved_run_is_skipped_and_named(tmp_path, capsys):
    bad = tmp_path / "runs" / "ci" / "20250101-000000-ci-9" / "claims.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schema": 1, "claims": []}')
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")])
    assert set(view(tmp_path)["claims"]) == {"demo.a"}
    assert str(bad) in view(tmp_path)["unreadable_runs"][0]
    assert "skipped" in capsys.readouterr().out
    assert bad.read_text() == '{"schema": 1, "claims": []}'  # never touched


def test_failed_view_write_keeps_latest_pointing_at_a_complete_run(tmp_path, monkeypatch):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")])
    before = {name: (tmp_path / name).read_bytes() for name in ("claims.json", "REPORT.md")}
    real = results.atomic_write

    def disk_full(path, text):
        if path.name == "REPORT.md":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text)

    monkeypatch.setattr(results, "atomic_write", disk_full)
    with pytest.raises(ResultsError, match="record is complete in runs/ci/20260102-000000-ci-1"):
        write(tmp_path, "20260102-000000-ci-1", [FakeRecord("demo.b")])
    assert (tmp_path / "REPORT.md").read_bytes() == before["REPORT.md"]
    assert (tmp_path / "runs" / "ci" / "LATEST").read_text().strip() == "20260101-000000-ci-1"
    monkeypatch.setattr(results, "atomic_write", real)
    write(tmp_path, "20260103-000000-ci-1", [FakeRecord("demo.c")])
    assert set(view(tmp_path)["claims"]) == {"demo.a", "demo.b", "demo.c"}  # the failed run's record counts


def test_failed_run_record_write_names_the_directory_and_leaves_no_partial_run(tmp_path, monkeypatch):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")])

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results, "atomic_write_bytes", disk_full)
    with pytest.raises(ResultsError, match="this run's record could not be written"):
        write(tmp_path, "20260102-000000-ci-1", [FakeRecord("demo.b")])
    assert not (tmp_path / "runs" / "ci" / "20260102-000000-ci-1" / "claims.json").exists()
    assert (tmp_path / "runs" / "ci" / "LATEST").read_text().strip() == "20260101-000000-ci-1"
    assert not list(tmp_path.rglob("*.tmp"))


def test_files_follow_the_umask(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")],
          tables=[FakeTable("demo", "t", [{"a": 1}])])
    mask = os.umask(0)
    os.umask(mask)
    for path in [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".results.lock"]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_tables_keep_their_run(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a")], tables=[FakeTable("demo", "Sweep", [{"n": 1}])])
    write(tmp_path, "20260102-000000-ci-1", [FakeRecord("demo.b")])
    data = view(tmp_path)
    assert data["tables"]["demo/Sweep"]["run_id"] == "20260101-000000-ci-1"
    assert (tmp_path / "tables" / "demo__sweep.csv").read_text() == "n\n1\n"
    assert "CSV: `tables/demo__sweep.csv` (run `20260101-000000-ci-1`)" in (tmp_path / "REPORT.md").read_text()


def test_stands_for_is_shown(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [FakeRecord("demo.a", model_role="gpt2", stands_for="GPT-2 BPE")])
    assert "a model, standing in for GPT-2 BPE" in (tmp_path / "REPORT.md").read_text()


def test_report_errors_and_stand_in_differences_are_listed_apart(tmp_path):
    write(tmp_path, "20260101-000000-ci-1", [
        FakeRecord("demo.a", verdict="refuted (known)", known_refutation="the report's own vocabulary"),
        FakeRecord("demo.b", verdict="refuted (known)", known_refutation="MiniLM is not BERT", model="MiniLM",
                   stands_for="BERT-base"),
        FakeRecord("demo.c", verdict="refuted")])
    report = (tmp_path / "REPORT.md").read_text()
    wrong = report.split("### Where the report is wrong")[1].split("###")[0]
    differs = report.split("### Where a stand-in differs")[1].split("##")[0]
    assert "demo.a" in wrong and "demo.c" in wrong and "demo.b" not in wrong
    assert "demo.b" in differs and "MiniLM, standing in for BERT-base" in differs and "demo.a" not in differs
    summary_row = next(line for line in report.splitlines() if line.startswith("| demo |"))
    assert summary_row.split("|")[3:8] == [" 0 ", " 1 ", " 1 ", " 1 ", " 0 "]
