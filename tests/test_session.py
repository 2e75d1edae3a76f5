"""The plugin end to end on a tiny demo suite (pytester): profiles, verdicts, results that
survive partial and interrupted runs, bad input, and models let go of between experiments."""

import json
import textwrap

import pytest

pytest_plugins = ["pytester"]

CONFTEST = 'pytest_plugins = ["harness.plugin", "fixtures.session", "fixtures.models", "fixtures.data"]\n'
CATALOG = '''
experiment = "demo"
section = "9"
title = "Demo"

[[claim]]
id = "demo.holds"
statement = "two and two make four"
source = "a self-test's own arithmetic"
measure = "sum"
check = "exact"
expected = 4
args = { a = 2, b = 2 }

[[claim]]
id = "demo.known-wrong"
statement = "two and two make five"
source = "a self-test's own arithmetic"
measure = "sum"
check = "exact"
expected = 5
args = { a = 2, b = 2 }
refuted = "arithmetic"
'''
SUITE = '''
import pytest

@pytest.mark.claims("sum")
def test_sum(claim, check):
    check(claim.args["a"] + claim.args["b"])
'''


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One cache for every child run: the host's limits are measured once, not per run."""
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture
def demo(pytester, tmp_path, monkeypatch, shared_cache):
    monkeypatch.setenv("LLM_HARNESS_CACHE", str(shared_cache))
    for var in ("LLM_HARNESS_PROFILE", "LLM_HARNESS_MODEL_SET", "LLM_HARNESS_RESULTS", "LLM_HARNESS_DATA"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    suite = pytester.mkpydir("suites")
    (suite / "demo").mkdir()
    (suite / "demo" / "catalog.toml").write_text(CATALOG)
    (suite / "demo" / "test_demo.py").write_text(SUITE)
    return pytester


def results(pytester):
    return json.loads((pytester.path / "results" / "claims.json").read_text())


def test_verdicts_and_results(demo):
    run = demo.runpytest_subprocess("suites")
    run.assert_outcomes(passed=1, xfailed=1)
    claims = results(demo)["claims"]
    assert claims["demo.holds"]["verdict"] == "holds"
    assert claims["demo.known-wrong"]["verdict"] == "refuted (known)"
    assert claims["demo.known-wrong"]["measured"] == 4
    assert claims["demo.holds"]["seed"] == 0 and claims["demo.holds"]["profile"] == "cpu"
    report = (demo.path / "results" / "REPORT.md").read_text()
    assert "two and two make five" in report and "arithmetic" in report


def test_a_refuted_claim_that_starts_to_hold_fails(demo):
    (demo.path / "suites" / "demo" / "catalog.toml").write_text(
        CATALOG.replace('expected = 5', 'expected = 4'))
    run = demo.runpytest_subprocess("suites")
    run.assert_outcomes(passed=1, failed=1)
    assert "XPASS(strict)" in run.stdout.str()


def test_an_unknown_refutation_fails_with_both_values(demo):
    (demo.path / "suites" / "demo" / "catalog.toml").write_text(
        CATALOG.replace('refuted = "arithmetic"\n', ''))
    run = demo.runpytest_subprocess("suites")
    run.assert_outcomes(passed=1, failed=1)
    run.stdout.fnmatch_lines(["*report's value:  5*", "*measured:        expected exactly 5, measured 4*"])


UNDECIDED = '''

[[claim]]
id = "demo.undecided"
statement = "a coin lands heads more often than tails"
source = "a self-test's own coin"
measure = "coin"
check = "established"
alpha = 0.05
'''


def test_an_inconclusive_comparison_skips_with_its_record(demo):
    (demo.path / "suites" / "demo" / "catalog.toml").write_text(CATALOG + UNDECIDED)
    (demo.path / "suites" / "demo" / "test_demo.py").write_text(SUITE + (
        '\n@pytest.mark.claims("coin")\ndef test_coin(claim, check):\n'
        '    check({"p": 0.4, "p_reverse": 0.6})\n'))
    run = demo.runpytest_subprocess("suites", "-rs", "-p", "harness.summary")
    run.assert_outcomes(passed=1, xfailed=1, skipped=1)
    run.stdout.fnmatch_lines(["*inconclusive: claim demo.undecided: expected one-sided p < 0.05*"])
    table = next(line for line in run.stdout.lines if line.startswith("demo "))
    # demo.known-wrong cites a source, so it is "reference differs"; the inconclusive one is not also "skipped"
    assert table.split()[1:] == ["1", "0", "0", "0", "1", "1", "0", "0", "0", "0"]
    assert results(demo)["claims"]["demo.undecided"]["verdict"] == "inconclusive"
    assert "Inconclusive at this run's sample size" in (demo.path / "results" / "REPORT.md").read_text()


def test_partial_run_keeps_other_claims(demo):
    demo.runpytest_subprocess("suites").assert_outcomes(passed=1, xfailed=1)
    demo.runpytest_subprocess("suites", "-k", "demo.holds").assert_outcomes(passed=1, deselected=1)
    assert set(results(demo)["claims"]) == {"demo.holds", "demo.known-wrong"}


def test_interrupted_run_leaves_results_intact(demo):
    demo.runpytest_subprocess("suites").assert_outcomes(passed=1, xfailed=1)
    before = (demo.path / "results" / "claims.json").read_bytes()
    (demo.path / "suites" / "demo" / "test_stop.py").write_text(
        "def test_zz_interrupt(recorder):\n    raise KeyboardInterrupt\n")
    run = demo.runpytest_subprocess("suites")
    assert run.ret == pytest.ExitCode.INTERRUPTED
    assert "results not written" in run.stdout.str()
    assert (demo.path / "results" / "claims.json").read_bytes() == before


def test_sigint_during_a_suite_leaves_results_intact(demo):
    import signal
    import subprocess
    import sys
    import time

    demo.runpytest_subprocess("suites").assert_outcomes(passed=1, xfailed=1)
    before = (demo.path / "results" / "claims.json").read_bytes()
    marker = demo.path / "started"
    (demo.path / "suites" / "demo" / "test_slow.py").write_text(
        "import time, pathlib\n"
        "def test_zz_slow(recorder):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('x')\n"
        "    time.sleep(60)\n")
    # a child inherits an ignored SIGINT (a CI job started in the background ignores it), and Python then
    # installs no KeyboardInterrupt handler; restore the default so the child sees Ctrl-C as a user's terminal does
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider"], cwd=demo.path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300  # a loaded machine may take minutes to import torch and collect
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not marker.exists():
        proc.kill()
        pytest.fail(f"the child session never reached its slow test: {proc.communicate()[0][-2000:]}")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-2000:]
    assert "results not written" in out
    assert (demo.path / "results" / "claims.json").read_bytes() == before


def test_cuda_profile_without_a_gpu_skips_with_the_reason(demo):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    run = demo.runpytest_subprocess("suites", "--profile", "cuda", "-rs")
    run.assert_outcomes(skipped=2)
    run.stdout.fnmatch_lines(["*profile 'cuda' needs a CUDA GPU and torch sees none*"])


def test_unknown_profile_lists_the_valid_ones(demo):
    run = demo.runpytest_subprocess("suites", "--profile", "gpu")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*unknown profile 'gpu'; valid profiles: cpu, ci*"])


def test_profile_from_environment(demo, monkeypatch):
    monkeypatch.setenv("LLM_HARNESS_PROFILE", "ci")
    demo.runpytest_subprocess("suites").assert_outcomes(passed=1, xfailed=1)
    assert results(demo)["claims"]["demo.holds"]["profile"] == "ci"


def test_missing_data_directory(demo):
    run = demo.runpytest_subprocess("suites", "--data-dir", "no/such/dir")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*data directory*no/such/dir does not exist*"])


def test_unwritable_results_directory(demo):
    (demo.path / "a-file").write_text("not a directory")
    run = demo.runpytest_subprocess("suites", "--results-dir", "a-file/results")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*results directory*is not writable*"])


def test_results_directory_lost_at_session_end_fails_with_the_reason(demo):
    (demo.path / "suites" / "demo" / "test_zz_lose.py").write_text(
        "import pathlib, shutil\n"
        "def test_zz_lose_results(recorder):\n"
        "    out = pathlib.Path('out')\n"
        "    shutil.rmtree(out)\n"
        "    out.write_text('no longer a directory')\n")
    run = demo.runpytest_subprocess("suites", "--results-dir", "out")
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(["*[[]harness[]] results not written: *out*"])
    assert "INTERNALERROR" not in run.stdout.str() + run.stderr.str()


def test_malformed_catalog_stops_before_running(demo):
    demo.runpytest_subprocess("suites").assert_outcomes(passed=1, xfailed=1)
    before = (demo.path / "results" / "claims.json").read_bytes()
    bad = CATALOG.replace('check = "exact"', 'check = "roughly"', 1)
    (demo.path / "suites" / "demo" / "catalog.toml").write_text(bad)
    run = demo.runpytest_subprocess("suites")
    assert run.ret == pytest.ExitCode.INTERRUPTED  # collection error
    run.stdout.fnmatch_lines(["*catalog error in *catalog.toml: claim 'demo.holds': field 'check': "
                              "unknown check kind 'roughly'*"])
    assert "Traceback" not in run.stdout.str()
    assert (demo.path / "results" / "claims.json").read_bytes() == before


def test_unreadable_results_file_is_kept_aside(demo):
    (demo.path / "results").mkdir()
    (demo.path / "results" / "claims.json").write_text("{ truncated")
    demo.runpytest_subprocess("suites").assert_outcomes(passed=1, xfailed=1)
    kept = list((demo.path / "results").glob("claims.json.unreadable-*"))
    assert kept and kept[0].read_text() == "{ truncated"


def test_missing_model_package_skips_with_install_command(demo, monkeypatch, tmp_path):
    registry = tmp_path / "models.toml"
    registry.write_text(textwrap.dedent('''
        [ghost]
        display = "Ghost"
        family = "none"
        [ghost.packaged]
        loader = "package_dir"
        package = "no_such_package_xyz"
        pip = "no-such-package-xyz"
        path = "model"
        name = "a model nobody packaged"
    '''))
    monkeypatch.setenv("LLM_HARNESS_MODELS", str(registry))
    (demo.path / "suites" / "demo" / "test_ghost.py").write_text(
        "def test_ghost(models):\n    models.tokenizer('ghost')\n")
    run = demo.runpytest_subprocess("suites", "-rs", "-k", "ghost")
    run.assert_outcomes(skipped=1, deselected=2)
    run.stdout.fnmatch_lines(["*package 'no_such_package_xyz' is not installed; "
                              "install it with: pip install no-such-package-xyz*"])


def test_each_model_loads_once_per_session(demo):
    for name in ("test_a.py", "test_b.py"):
        (demo.path / "suites" / "demo" / name).write_text(
            "import pytest\n"
            "@pytest.mark.parametrize('text', ['I love AI', 'hello world'])\n"
            "def test_uses_bert(models, text):\n"
            "    assert models.tokenizer('bert').tokenize(text)\n")
    demo.runpytest_subprocess("suites").assert_outcomes(passed=5, xfailed=1)
    run = results(demo)["runs"][results(demo)["latest_run"]]
    loads = {(m["role"], m["kind"]): m["loads"] for m in run["model_loads"]}
    assert loads == {("bert", "tokenizer"): 1}


def test_a_measure_no_test_declares_is_an_error(demo):
    (demo.path / "suites" / "demo" / "catalog.toml").write_text(
        CATALOG + '\n[[claim]]\nid = "demo.orphan"\nstatement = "s"\nsource = "self-test"\nmeasure = "product"\n'
                  'check = "exact"\nexpected = 4\n')
    run = demo.runpytest_subprocess("suites")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*catalog.toml: claim 'demo.orphan': field 'measure': no test declares measure "
                              "'product'*"])
    # a subset of the folder's modules does not know every measure: no error then
    (demo.path / "suites" / "demo" / "test_other.py").write_text("def test_other():\n    pass\n")
    demo.runpytest_subprocess("suites/demo/test_other.py").assert_outcomes(passed=1)


def test_duplicate_ids_across_catalogs_stop_collection(demo):
    other = demo.path / "suites" / "other"
    other.mkdir()
    (other / "catalog.toml").write_text(CATALOG.replace('experiment = "demo"', 'experiment = "other"'))
    (other / "test_other.py").write_text(SUITE)
    run = demo.runpytest_subprocess("suites")
    assert run.ret == pytest.ExitCode.INTERRUPTED
    run.stdout.fnmatch_lines(["*claim 'demo.holds': field 'id': duplicate id: also defined in*"])


def test_a_declared_measure_the_catalog_lacks_is_an_error(demo):
    (demo.path / "suites" / "demo" / "test_demo.py").write_text(SUITE.replace('claims("sum")', 'claims("sum", "sums")'))
    run = demo.runpytest_subprocess("suites")
    assert run.ret == pytest.ExitCode.INTERRUPTED
    run.stdout.fnmatch_lines(["*names measure(s) ?'sums'? that no claim of*catalog.toml has*"])


@pytest.mark.parametrize("seed", ["-1", "1e23", "4294967296", "abc"])
def test_bad_seed_is_a_usage_error(demo, seed):
    run = demo.runpytest_subprocess("suites", f"--seed={seed}")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines([f"*--seed {seed}: must be*"])


def test_check_records_the_claims_model(demo):
    (demo.path / "suites" / "demo" / "catalog.toml").write_text(
        CATALOG + '\n[[claim]]\nid = "demo.vocab"\nstatement = "s"\nsource = "self-test"\nmeasure = "vocab"\n'
                  'model = "bert"\ncheck = "range"\nabove = 1000\n'
                  'tolerance_source = "self-test: a real vocabulary has over 1000 entries"\n')
    (demo.path / "suites" / "demo" / "test_vocab.py").write_text(
        "import pytest\n@pytest.mark.claims('vocab')\ndef test_vocab(claim, models, check):\n"
        "    check(len(models.tokenizer(claim.model)))\n")
    demo.runpytest_subprocess("suites").assert_outcomes(passed=2, xfailed=1)
    record = results(demo)["claims"]["demo.vocab"]
    assert record["model_role"] == "bert" and record["model_package"] and record["duration_s"] is not None


def test_a_model_is_freed_when_the_next_experiment_starts(demo):
    """The store's release, end to end: after the last test of one experiment nothing holds its model."""
    demo.makepyfile(**{"suites/demo/test_hold": """
        import weakref

        class Model:
            pass

        def test_load(model_store, pytestconfig):
            model = model_store._get("gpt2", "probe", lambda source: Model())
            pytestconfig.probe = weakref.ref(model)

        def test_same_experiment_keeps_it(model_store, pytestconfig):
            assert pytestconfig.probe() is not None
        """, "suites/zz_later/test_later": """
        def test_freed(pytestconfig):
            assert pytestconfig.probe() is None
        """})
    demo.runpytest_subprocess("suites").assert_outcomes(passed=4, xfailed=1)
