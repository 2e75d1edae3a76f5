"""The data readers: what they accept, and for each kind of bad input the error that names the
file and line (DataCorrupt) or the absence (DataUnavailable). Tiny files written here; the real
data set's shape is checked once against ../shared/data when it is present."""

import re
from pathlib import Path

import pytest

from harness.data import (
    FLORES_LANGUAGES,
    FLORES_LINES,
    SST2_ROWS,
    STSB_ROWS,
    DataCorrupt,
    DataUnavailable,
    Flores,
    missing_subdirs,
    read_sst2,
    read_stsb,
    require_dir,
)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
STS_ROW = "main-captions\tMSRvid\t2012test\t0001\t{score}\tA man plays.\tA man is playing."
SMALL = {"languages_expected": 2, "lines_expected": (("dev", 3), ("devtest", 2))}


def small_flores(root: Path) -> Path:
    for folder, lines in (("dev", 3), ("devtest", 2)):
        (root / folder).mkdir(parents=True)
        for language in ("eng_Latn", "mar_Deva"):
            text = "".join(f"{language} sentence {i}\n" for i in range(lines))
            (root / folder / f"{language}.{folder}").write_text(text, encoding="utf-8")
    return root


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_flores_reads_dev_then_devtest(tmp_path):
    flores = Flores(small_flores(tmp_path), **SMALL)
    assert flores.languages == ["eng_Latn", "mar_Deva"]
    assert flores.sentences("eng_Latn") == [f"eng_Latn sentence {i}" for i in (0, 1, 2, 0, 1)]
    assert len(Flores(tmp_path, "devtest", **SMALL).sentences("mar_Deva")) == 2


def test_flores_splits_on_newlines_only(tmp_path):
    """U+2028 inside a sentence must not shift the alignment (str.splitlines would split there)."""
    root = small_flores(tmp_path)
    (root / "dev" / "eng_Latn.dev").write_text("a\u2028b\r\nc\x85d\r\ne\r\n", encoding="utf-8")
    assert Flores(root, "dev", **SMALL).sentences("eng_Latn") == ["a\u2028b", "c\x85d", "e"]


def test_flores_invalid_utf8_names_file_and_line(tmp_path):
    root = small_flores(tmp_path)
    path = root / "dev" / "mar_Deva.dev"
    path.write_bytes(b"ok\nstill ok\nbad \xff byte\n")
    with pytest.raises(DataCorrupt, match=rf"^{re.escape(str(path))}:3: invalid UTF-8"):
        Flores(root, **SMALL).sentences("mar_Deva")


def test_flores_empty_file_is_corrupt(tmp_path):
    root = small_flores(tmp_path)
    path = root / "dev" / "eng_Latn.dev"
    path.write_bytes(b"")
    with pytest.raises(DataCorrupt, match=rf"^{re.escape(str(path))}: empty file; FLORES-200 dev has 3 lines"):
        Flores(root, **SMALL)


@pytest.mark.parametrize("lines, message", [
    (["a", "b"], r":3: file ends after 2 lines; FLORES-200 dev .* has 3 \(truncated\?\)"),
    (["a", "b", "c", "d"], r":4: 4 lines; FLORES-200 dev .* has 3"),
    (["a", " ", "c"], r":2: empty sentence"),
])
def test_flores_line_count_and_empty_lines(tmp_path, lines, message):
    root = small_flores(tmp_path)
    path = write(root / "dev" / "eng_Latn.dev", lines)
    with pytest.raises(DataCorrupt, match=f"^{re.escape(str(path))}{message}"):
        Flores(root, **SMALL).sentences("eng_Latn")


def test_flores_languages_must_match_across_splits_and_in_number(tmp_path):
    root = small_flores(tmp_path)
    (root / "devtest" / "mar_Deva.devtest").rename(root / "devtest" / "hin_Deva.devtest")
    with pytest.raises(DataCorrupt, match=r"devtest: languages differ from dev/: \['hin_Deva', 'mar_Deva'\]"):
        Flores(root, **SMALL)
    with pytest.raises(DataCorrupt, match=rf"2 language files \(\*.dev\); FLORES-200 has {FLORES_LANGUAGES}"):
        Flores(root)
    (root / "devtest").rename(root / "elsewhere")
    with pytest.raises(DataCorrupt, match="devtest: FLORES-200 split folder missing"):
        Flores(root, **SMALL)


def test_flores_absent_is_unavailable(tmp_path):
    with pytest.raises(DataUnavailable, match="FLORES-200 not found"):
        Flores(tmp_path / "flores200")


def test_stsb_rows(tmp_path):
    path = write(tmp_path / "sts.csv", [STS_ROW.format(score="2.500"), STS_ROW.format(score="5") + "\tnote\tnote"])
    pairs = read_stsb(path)
    assert [p.score for p in pairs] == [2.5, 5.0] and pairs[0].sentence2 == "A man is playing."
    assert read_stsb(path, expected_rows=2) == pairs


@pytest.mark.parametrize("row, message", [
    ("main-captions\tMSRvid\t2012test", r":2: expected at least 7 tab-separated fields .*got 3"),
    (STS_ROW.format(score="high"), r":2: score \(field 5\) is not a number: 'high'"),
    (STS_ROW.format(score="5.2"), r":2: score \(field 5\) '5.2' is outside 0-5"),
    (STS_ROW.format(score="nan"), r":2: score \(field 5\) 'nan' is outside 0-5"),
    (STS_ROW.format(score="1").replace("A man plays.", ""), r":2: empty sentence"),
])
def test_stsb_bad_rows_name_file_and_line(tmp_path, row, message):
    path = write(tmp_path / "sts.csv", [STS_ROW.format(score="1.0"), row])
    with pytest.raises(DataCorrupt, match=f"^{re.escape(str(path))}{message}"):
        read_stsb(path)


def test_stsb_test_split_must_have_every_pair(tmp_path):
    path = write(tmp_path / "sts-test.csv", [STS_ROW.format(score="1.0")] * 10)
    rows = STSB_ROWS["sts-test.csv"]
    with pytest.raises(DataCorrupt, match=rf"^{re.escape(str(path))}:11: file ends after 10 lines; .* {rows}"):
        read_stsb(path)


def test_sst2(tmp_path):
    path = write(tmp_path / "small.txt", ["0 a bad film .", "1 a good one ."])
    assert [(e.label, e.text) for e in read_sst2(path)] == [(0, "a bad film ."), (1, "a good one .")]
    with pytest.raises(DataCorrupt, match=rf"^{re.escape(str(path))}: empty file; SST-2 small has 5 lines"):
        read_sst2(write(path, []), expected_rows=5)


@pytest.mark.parametrize("line, message", [
    ("2 too positive", r":2: label '2' is not 0 or 1"),
    ("positive great", r":2: label 'positive' is not 0 or 1"),
    ("1", r":2: no sentence after the label"),
])
def test_sst2_bad_lines(tmp_path, line, message):
    path = write(tmp_path / "dev.txt", ["0 fine", line])
    with pytest.raises(DataCorrupt, match=f"^{re.escape(str(path))}{message}"):
        read_sst2(path, expected_rows=2)


def test_sst2_known_split_sizes(tmp_path):
    path = write(tmp_path / "dev.txt", ["0 fine"] * 871)
    where = re.escape(str(path))
    with pytest.raises(DataCorrupt, match=rf"^{where}:872: file ends after 871 lines; SST-2 dev has 872 \(truncated"):
        read_sst2(path)


def test_missing_files_and_folders_are_unavailable(tmp_path):
    with pytest.raises(DataUnavailable, match="SST-2 file missing"):
        read_sst2(tmp_path / "train.txt")
    with pytest.raises(DataUnavailable, match="STS Benchmark file missing"):
        read_stsb(tmp_path / "sts-test.csv")
    with pytest.raises(DataUnavailable, match="holds none of sst2/, stsb/, flores200/"):
        require_dir(tmp_path, "stsb")
    (tmp_path / "sst2").mkdir()
    with pytest.raises(DataUnavailable, match="holds only sst2"):
        require_dir(tmp_path, "stsb")
    with pytest.raises(DataUnavailable, match="does not exist"):
        require_dir(tmp_path / "nowhere", "stsb")
    assert missing_subdirs(tmp_path) == ["stsb", "flores200"]
    (tmp_path / "stsb").write_text("a file")
    with pytest.raises(DataCorrupt, match="expected a folder"):
        require_dir(tmp_path, "stsb")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"no shared data at {SHARED}")
def test_shared_data_has_the_published_shape():
    flores = Flores(SHARED / "flores200")
    assert len(flores.languages) == FLORES_LANGUAGES
    assert len(flores.sentences("eng_Latn")) == sum(FLORES_LINES.values())
    assert len(read_stsb(SHARED / "stsb" / "sts-test.csv")) == STSB_ROWS["sts-test.csv"]
    for name, rows in SST2_ROWS.items():
        assert len(read_sst2(SHARED / "sst2" / name)) == rows
