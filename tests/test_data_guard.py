"""The data guard end to end (pytester child runs on a synthetic data directory of the published
shape): missing data fails the run and is listed, unless --allow-missing-data; corrupt data errors
the tests that need it with `file:line`, never a skip and never a traceback."""

from pathlib import Path

import pytest

from harness.data import FLORES_LINES, SST2_ROWS, STSB_ROWS

pytest_plugins = ["pytester"]

CONFTEST = 'pytest_plugins = ["harness.plugin", "harness.data_guard", "fixtures.session", "fixtures.data"]\n'
SUITE = '''
from harness.data import read_sst2

def test_english(flores):
    assert len(flores.sentences("eng_Latn")) == 2009

def test_stsb(stsb_test):
    assert len(stsb_test) == 1379

def test_sst2(sst2):
    assert len(sst2["dev"]) == 872

def test_sst2_read_in_the_test(harness):
    assert len(read_sst2(harness.data_dir / "sst2" / "dev.txt")) == 872

def test_needs_no_data():
    pass
'''
LANGUAGES = 204


@pytest.fixture(scope="module")
def flores_files(tmp_path_factory) -> Path:
    """Synthetic FLORES-200: 204 languages, dev 997 and devtest 1,012 lines each."""
    root = tmp_path_factory.mktemp("flores200")
    languages = ["eng_Latn"] + [f"x{i:02d}_Test" for i in range(LANGUAGES - 1)]
    for split, lines in FLORES_LINES.items():
        (root / split).mkdir()
        for language in languages:
            text = "".join(f"{language} {split} sentence {i}.\n" for i in range(lines))
            (root / split / f"{language}.{split}").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def data(tmp_path, flores_files) -> Path:
    """A valid data directory: SST-2 and STS-B written here, FLORES-200 linked file by file (so that
    a test can replace one file without touching the others)."""
    data = tmp_path / "data"
    (data / "sst2").mkdir(parents=True)
    for name, rows in SST2_ROWS.items():
        (data / "sst2" / name).write_text("".join(f"{i % 2} sentence {i} .\n" for i in range(rows)))
    (data / "stsb").mkdir()
    (data / "stsb" / "sts-test.csv").write_text("".join(
        f"main-captions\tMSRvid\t2012test\t{i:04d}\t{i % 6}.000\tSentence {i}.\tAnother {i}.\n"
        for i in range(STSB_ROWS["sts-test.csv"])))
    for split in FLORES_LINES:
        (data / "flores200" / split).mkdir(parents=True)
        for path in (flores_files / split).iterdir():
            (data / "flores200" / split / path.name).symlink_to(path)
    return data


@pytest.fixture
def suite(pytester, monkeypatch):
    for var in ("LLM_HARNESS_PROFILE", "LLM_HARNESS_RESULTS", "LLM_HARNESS_DATA"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(suite, data: Path, *options: str):
    return suite.runpytest_subprocess("test_suite.py", "--no-results", "--data-dir", str(data), *options)


def replace(path: Path, content: bytes) -> Path:
    path.unlink()
    path.write_bytes(content)
    return path


def test_valid_data_passes(suite, data):
    result = run(suite, data)
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.OK
    assert "missing data" not in result.stdout.str()


def test_empty_data_dir_fails_the_run_and_lists_what_was_skipped(suite, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(suite, empty)
    result.assert_outcomes(passed=1, skipped=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        f"harness: data directory {empty} lacks sst2/, stsb/, flores200/*exit 1 unless --allow-missing-data*",
        "*= missing data =*",
        f"data not found: {empty}/flores200 (it holds none of sst2/, stsb/, flores200/*",
        "    test_suite.py::test_english",
        f"data not found: {empty}/stsb *",
        "    test_suite.py::test_stsb",
        f"data not found: {empty}/sst2 *",
        "    test_suite.py::test_sst2",
        f"SST-2 file missing: {empty}/sst2/dev.txt*",
        "    test_suite.py::test_sst2_read_in_the_test",
        "4 test(s) skipped for missing data: the run fails (exit status 1); pass --allow-missing-data*",
    ])


def test_allow_missing_data_exits_zero_and_still_lists(suite, tmp_path):
    result = run(suite, tmp_path, "--allow-missing-data")
    result.assert_outcomes(passed=1, skipped=4)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*= missing data =*", "    test_suite.py::test_english",
                                 "4 test(s) skipped for missing data: accepted by --allow-missing-data"])


def test_missing_data_is_recognised_under_xdist(suite, tmp_path):
    pytest.importorskip("xdist", reason="pip install pytest-xdist")
    result = run(suite, tmp_path, "-n", "2")
    result.assert_outcomes(passed=1, skipped=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["4 test(s) skipped for missing data: the run fails*"])


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def test_corrupt_files_error_with_file_and_line(suite, data):
    """Invalid UTF-8 in FLORES, a 3-field STS-B row, a bad SST-2 label: one run, three files."""
    flores = lines_of(data / "flores200" / "dev" / "eng_Latn.dev")
    flores[41] = b"caf\xe9 latin-1"
    flores = replace(data / "flores200" / "dev" / "eng_Latn.dev", b"\n".join(flores))
    stsb = lines_of(data / "stsb" / "sts-test.csv")
    stsb[99] = b"main-captions\tMSRvid\t2012test"
    stsb = replace(data / "stsb" / "sts-test.csv", b"\n".join(stsb))
    sst2 = lines_of(data / "sst2" / "dev.txt")
    sst2[0] = b"neutral sentence ."
    sst2 = replace(data / "sst2" / "dev.txt", b"\n".join(sst2))
    result = run(suite, data)
    result.assert_outcomes(passed=1, failed=2, errors=2)  # FLORES lines are checked when read, in the test
    reported(result, "test_english", f"{flores}:42: invalid UTF-8 (invalid continuation byte, byte 0xe9)")
    reported(result, "test_sst2_read_in_the_test", f"{sst2}:1: label 'neutral' is not 0 or 1*")
    reported(result, "ERROR at setup of test_stsb", f"{stsb}:100: expected at least 7 tab-separated fields*got 3")
    reported(result, "ERROR at setup of test_sst2", f"{sst2}:1: label 'neutral' is not 0 or 1*")
    no_traceback_no_skip(result)


def test_empty_truncated_and_non_numeric_error(suite, data):
    """An empty eng_Latn file, a non-numeric STS-B score, a truncated SST-2 split."""
    flores = replace(data / "flores200" / "devtest" / "eng_Latn.devtest", b"")
    stsb = lines_of(data / "stsb" / "sts-test.csv")
    stsb[6] = stsb[6].replace(b"\t0.000\t", b"\tn/a\t")
    stsb = replace(data / "stsb" / "sts-test.csv", b"\n".join(stsb))
    sst2 = replace(data / "sst2" / "dev.txt", b"\n".join(lines_of(data / "sst2" / "dev.txt")[:500]))
    result = run(suite, data)
    result.assert_outcomes(passed=1, failed=1, errors=3)
    reported(result, "ERROR at setup of test_english", f"{flores}: empty file; FLORES-200 devtest has 1012 lines*")
    reported(result, "ERROR at setup of test_stsb", f"{stsb}:7: score (field 5) is not a number: 'n/a'")
    reported(result, "ERROR at setup of test_sst2", f"{sst2}:501: file ends after 500 lines; SST-2 dev has 872*")
    reported(result, "test_sst2_read_in_the_test", f"{sst2}:501: file ends after 500 lines*")
    no_traceback_no_skip(result)


def reported(result, heading: str, message: str) -> None:
    """The test's section in the failure report is the one-line message, nothing else."""
    result.stdout.fnmatch_lines([f"_* {heading} _*", f"corrupt data: {message}", "[=_]*"], consecutive=True)


def no_traceback_no_skip(result) -> None:
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "Traceback" not in out and "missing data" not in out and "harness/data.py" not in out
