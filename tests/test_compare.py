"""`python -m harness compare` names the claims that moved or changed verdict."""

import json

import pytest

from harness.compare import main


def run_file(path, claims, run_id):
    path.mkdir(parents=True)
    (path / "claims.json").write_text(json.dumps({"schema": 1, "run": {"run_id": run_id}, "claims": claims}))
    return path


def claim(measured, verdict="holds", **spec):
    return {"measured": measured, "verdict": verdict, "check": "approx", "spec": spec, "duration_s": 1.0}


def test_compare_names_moved_and_changed_claims(tmp_path, capsys):
    a = run_file(tmp_path / "runs" / "ci" / "A", {
        "x.same": claim(0.5, expected=0.5, tolerance=0.1),
        "x.small-move": claim(0.50, expected=0.5, tolerance=0.1),
        "x.big-move": claim(0.50, expected=0.5, tolerance=0.1),
        "x.verdict": claim(3, verdict="holds", expected=3),
        "x.tokens": claim(["a", "b"], expected=["a", "b"]),
    }, "A")
    run_file(tmp_path / "runs" / "ci" / "B", {
        "x.same": claim(0.5, expected=0.5, tolerance=0.1),
        "x.small-move": claim(0.55, expected=0.5, tolerance=0.1),
        "x.big-move": claim(0.75, expected=0.5, tolerance=0.1),
        "x.verdict": claim(4, verdict="refuted", expected=3),
        "x.tokens": claim(["a", "c"], expected=["a", "b"]),
    }, "B")
    status = main(["A", "B", "--results-dir", str(tmp_path), "--fail-on-change"])
    out = capsys.readouterr().out
    assert status == 1
    assert "x.big-move" in out and "+0.25" in out
    assert "x.verdict" in out and "verdict changed" in out
    assert "x.tokens" in out
    assert "x.small-move" not in out and "x.same" not in out
    assert (tmp_path / "compare-A-vs-B.md").is_file()
    assert a.is_dir()


def test_identical_runs_compare_clean(tmp_path, capsys):
    claims = {"x.one": claim(1.0, expected=1.0, tolerance=0.0)}
    run_file(tmp_path / "runs" / "ci" / "20260101-000000-ci-1", claims, "20260101-000000-ci-1")
    run_file(tmp_path / "runs" / "ci" / "20260102-000000-ci-1", claims, "20260102-000000-ci-1")
    assert main(["--profile", "ci", "--results-dir", str(tmp_path), "--fail-on-change"]) == 0
    assert "Nothing changed" in capsys.readouterr().out


def test_unknown_run_is_a_clear_error(tmp_path, capsys):
    assert main(["nope", "nada", "--results-dir", str(tmp_path)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_claims_in_one_run_only_are_listed_apart_and_do_not_fail(tmp_path, capsys):
    run_file(tmp_path / "runs" / "ci" / "A", {"x.both": claim(1.0, expected=1.0, tolerance=0.1),
                                              "x.gone": claim(2.0, expected=2.0)}, "A")
    run_file(tmp_path / "runs" / "ci" / "B", {"x.both": claim(1.0, expected=1.0, tolerance=0.1),
                                              "x.new": claim(float("nan"), expected=3.0)}, "B")
    assert main(["A", "B", "--results-dir", str(tmp_path), "--fail-on-change"]) == 0
    out = capsys.readouterr().out
    assert "1 claims in both runs; 0 moved or changed verdict; 1 only in A, 1 only in B" in out
    assert "## Only in A" in out and "x.gone" in out and "## Only in B" in out and "x.new" in out
    assert "Nothing changed" in out


@pytest.mark.parametrize("content", ['{"schema": 1, "claims": 5}', '{"schema": 1, "claims": {"x": 3}}', "[]",
                                     '{"schema": 1, "run": [], "claims": {}}', "not json", '{"claims": {}}'])
def test_run_file_of_the_wrong_shape_is_a_clear_error(tmp_path, capsys, content):
    run_file(tmp_path / "runs" / "ci" / "A", {"x.one": claim(1.0)}, "A")
    bad = tmp_path / "runs" / "ci" / "B"
    bad.mkdir(parents=True)
    (bad / "claims.json").write_text(content)
    assert main(["A", "B", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad / "claims.json") in err and "Traceback" not in err


def test_directory_in_place_of_a_run_file_is_a_clear_error(tmp_path, capsys):
    run_file(tmp_path / "runs" / "ci" / "A", {"x.one": claim(1.0)}, "A")
    (tmp_path / "runs" / "ci" / "B" / "claims.json").mkdir(parents=True)
    assert main(["A", "B", "--results-dir", str(tmp_path)]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_bad_threshold_is_a_usage_error(tmp_path, capsys):
    run_file(tmp_path / "runs" / "ci" / "A", {"x.one": claim(1.0)}, "A")
    run_file(tmp_path / "runs" / "ci" / "B", {"x.one": claim(1.0)}, "B")
    assert main(["A", "B", "--results-dir", str(tmp_path), "--max-slowdown", "lots"]) == 2
    assert "--max-slowdown 'lots'" in capsys.readouterr().err
