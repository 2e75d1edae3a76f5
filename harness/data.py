"""Readers for the reference data sets (FLORES-200, SST-2, STS Benchmark) in a data directory.

The data directory is never written to. Two failures are kept apart:
- DataUnavailable: a file or folder is absent (the fixtures turn it into a missing-data skip,
  which harness.data_guard makes a failing run unless --allow-missing-data is given);
- DataCorrupt: a file is present but wrong (bad UTF-8, wrong line count, a malformed row). Its
  message starts with `path:line:` and the test errors with it; it is never a skip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

DATA_SUBDIRS = ("sst2", "stsb", "flores200")
REMEDY = "pass --data-dir DIR (a folder holding sst2/, stsb/, flores200/) or set LLM_HARNESS_DATA"

FLORES_SPLITS = {"dev": "dev", "devtest": "devtest"}  # folder -> file suffix
FLORES_LINES = {"dev": 997, "devtest": 1012}  # every language, line-aligned across languages
FLORES_LANGUAGES = 204
STSB_ROWS = {"sts-test.csv": 1379}
STSB_SCORE_RANGE = (0.0, 5.0)
SST2_ROWS = {"train.txt": 6920, "dev.txt": 872, "test.txt": 1821}


class DataUnavailable(RuntimeError):
    """A data file or folder is absent."""


class DataCorrupt(ValueError):
    """A data file is present but malformed; the message names the file and, where there is one, the line."""

    def __init__(self, path: Path, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")


def read_lines(path: Path, what: str) -> list[str]:
    """The file's lines (no line ends; a CRLF file reads as LF), decoded as strict UTF-8.

    Splits on "\\n" only: str.splitlines() would also split on U+2028, U+0085, ... inside a
    sentence and so shift the line alignment that FLORES relies on."""
    if not path.is_file():
        raise DataUnavailable(f"{what} file missing: {path} ({REMEDY})")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataCorrupt(path, line, f"invalid UTF-8 ({exc.reason}, byte 0x{raw[exc.start]:02x})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def check_count(path: Path, lines: list[str], expected: int | None, what: str) -> None:
    if expected is None or len(lines) == expected:
        return
    if not lines:
        raise DataCorrupt(path, None, f"empty file; {what} has {expected} lines")
    if len(lines) < expected:
        raise DataCorrupt(path, len(lines) + 1, f"file ends after {len(lines)} lines; {what} has {expected} "
                                                f"(truncated?)")
    raise DataCorrupt(path, expected + 1, f"{len(lines)} lines; {what} has {expected}")


def require_dir(data_dir: Path, sub: str) -> Path:
    """data_dir/sub, which must be a folder; DataUnavailable when absent."""
    path = data_dir / sub
    if path.is_dir():
        return path
    if path.exists():
        raise DataCorrupt(path, None, "expected a folder, found a file")
    if not data_dir.is_dir():
        raise DataUnavailable(f"data not found: {path}: the data directory {data_dir} does not exist ({REMEDY})")
    present = [name for name in DATA_SUBDIRS if (data_dir / name).is_dir()]
    held = f"it holds only {', '.join(present)}" if present else "it holds none of sst2/, stsb/, flores200/"
    raise DataUnavailable(f"data not found: {path} ({held}; {REMEDY})")


def missing_subdirs(data_dir: Path) -> list[str]:
    """Which of sst2/, stsb/, flores200/ the data directory lacks (all of them when it is absent)."""
    return [name for name in DATA_SUBDIRS if not (data_dir / name).is_dir()]


@dataclass(frozen=True)
class Flores:
    """FLORES-200 under root (.../flores200). The layout (folders, the language list, equal
    languages in every split, non-empty files) is checked on construction, from directory
    listings alone; each file's lines (UTF-8, count, no empty line) when it is read."""

    root: Path
    split: str = "all"  # "dev", "devtest" or "all" (both, dev first)
    languages_expected: int | None = FLORES_LANGUAGES
    lines_expected: tuple[tuple[str, int], ...] = tuple(FLORES_LINES.items())

    def __post_init__(self) -> None:
        if self.split not in ("all", *FLORES_SPLITS):
            raise ValueError(f"unknown FLORES split {self.split!r}: use dev, devtest or all")
        if not self.root.is_dir():
            raise DataUnavailable(f"FLORES-200 not found at {self.root} ({REMEDY})")
        found = {}
        for folder, suffix in self.splits.items():
            if not (self.root / folder).is_dir():
                raise DataCorrupt(self.root / folder, None, "FLORES-200 split folder missing "
                                  "(expected dev/ and devtest/)")
            files = {p.name.removesuffix(f".{suffix}"): p for p in (self.root / folder).glob(f"*.{suffix}")}
            found[folder] = files
            for path in files.values():
                if path.stat().st_size == 0:
                    raise DataCorrupt(path, None, f"empty file; FLORES-200 {folder} has "
                                      f"{dict(self.lines_expected)[folder]} lines for every language")
        folders = list(found)
        first = set(found[folders[0]])
        if self.languages_expected is not None and len(first) != self.languages_expected:
            raise DataCorrupt(self.root / folders[0], None, f"{len(first)} language files (*.{folders[0]}); "
                              f"FLORES-200 has {self.languages_expected}")
        for folder in folders[1:]:
            if set(found[folder]) != first:
                odd = sorted(set(found[folder]) ^ first)
                raise DataCorrupt(self.root / folder, None, f"languages differ from {folders[0]}/: {odd[:10]}")

    @property
    def splits(self) -> dict[str, str]:
        return dict(FLORES_SPLITS) if self.split == "all" else {self.split: FLORES_SPLITS[self.split]}

    @cached_property
    def languages(self) -> list[str]:
        folder, suffix = next(iter(self.splits.items()))
        return sorted(p.name.removesuffix(f".{suffix}") for p in (self.root / folder).glob(f"*.{suffix}"))

    def sentences(self, language: str) -> list[str]:
        """The language's sentences, dev then devtest (per split), each file checked."""
        expected = dict(self.lines_expected)
        lines: list[str] = []
        for folder, suffix in self.splits.items():
            path = self.root / folder / f"{language}.{suffix}"
            text = read_lines(path, "FLORES-200")
            check_count(path, text, expected.get(folder), f"FLORES-200 {folder} (line-aligned across languages)")
            for number, line in enumerate(text, 1):
                if not line.strip():
                    raise DataCorrupt(path, number, "empty sentence (FLORES-200 has one sentence on every line)")
            lines += text
        return lines


@dataclass(frozen=True)
class StsPair:
    genre: str
    score: float  # gold similarity, 0-5
    sentence1: str
    sentence2: str


def read_stsb(path: Path, expected_rows: int | None = None) -> list[StsPair]:
    """STS Benchmark CSV: tab separated, no header, no quoting; only the first seven fields count
    (some rows carry trailing source notes, and a '"' inside a sentence is just a character).
    expected_rows defaults to the published size of a known file name (sts-test.csv: 1,379)."""
    lines = read_lines(path, "STS Benchmark")
    check_count(path, lines, expected_rows or STSB_ROWS.get(path.name), "the STS Benchmark split")
    low, high = STSB_SCORE_RANGE
    pairs = []
    for number, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) < 7:
            raise DataCorrupt(path, number, f"expected at least 7 tab-separated fields (genre, file, year, id, "
                              f"score, sentence1, sentence2), got {len(fields)}")
        try:
            score = float(fields[4])
        except ValueError:
            raise DataCorrupt(path, number, f"score (field 5) is not a number: {fields[4]!r}") from None
        if not (math.isfinite(score) and low <= score <= high):
            raise DataCorrupt(path, number, f"score (field 5) {fields[4]!r} is outside {low:g}-{high:g}")
        if not fields[5].strip() or not fields[6].strip():
            raise DataCorrupt(path, number, "empty sentence (fields 6 and 7 must hold the pair)")
        pairs.append(StsPair(fields[0], score, fields[5], fields[6]))
    return pairs


@dataclass(frozen=True)
class Sst2Example:
    label: int  # 0 negative, 1 positive
    text: str


def read_sst2(path: Path, expected_rows: int | None = None) -> list[Sst2Example]:
    """One example a line: `LABEL SENTENCE` (label 0 or 1, one space, lower-cased sentence).
    expected_rows defaults to the published size of a known file name (train 6,920, dev 872, test 1,821)."""
    lines = read_lines(path, "SST-2")
    check_count(path, lines, expected_rows or SST2_ROWS.get(path.name), f"SST-2 {path.stem}")
    examples = []
    for number, line in enumerate(lines, 1):
        label, _, text = line.partition(" ")
        if label not in ("0", "1"):
            raise DataCorrupt(path, number, f"label {label[:20]!r} is not 0 or 1 (expected 'LABEL SENTENCE')")
        if not text.strip():
            raise DataCorrupt(path, number, "no sentence after the label (expected 'LABEL SENTENCE')")
        examples.append(Sst2Example(int(label), text))
    return examples
