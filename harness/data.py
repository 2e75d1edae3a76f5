"""Readers for the reference data sets (FLORES-200, SST-2, STS Benchmark) in a data directory.

The data directory is never written to. Readers raise DataUnavailable with the path and the
remedy when a file is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

FLORES_SPLITS = {"dev": "dev", "devtest": "devtest"}


class DataUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Flores:
    root: Path  # .../flores200
    split: str = "all"  # "dev", "devtest" or "all" (both, dev first)

    def __post_init__(self) -> None:
        if not (self.root / "dev").is_dir():
            raise DataUnavailable(f"FLORES-200 not found at {self.root} (expected dev/ and devtest/); "
                                  f"pass --data-dir DIR with DIR/flores200 or set LLM_HARNESS_DATA")
        if self.split not in ("all", *FLORES_SPLITS):
            raise DataUnavailable(f"unknown FLORES split {self.split!r}: use dev, devtest or all")

    @cached_property
    def languages(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "dev").glob("*.dev"))

    def sentences(self, language: str) -> list[str]:
        splits = FLORES_SPLITS if self.split == "all" else {self.split: FLORES_SPLITS[self.split]}
        lines: list[str] = []
        for folder, suffix in splits.items():
            path = self.root / folder / f"{language}.{suffix}"
            if not path.is_file():
                raise DataUnavailable(f"FLORES-200 file missing: {path}")
            lines += path.read_text(encoding="utf-8").splitlines()
        return lines


def require_dir(data_dir: Path, sub: str) -> Path:
    path = data_dir / sub
    if not path.exists():
        raise DataUnavailable(f"data not found: {path} (pass --data-dir DIR or set LLM_HARNESS_DATA; "
                              f"CI uses ../shared/data)")
    return path


@dataclass(frozen=True)
class StsPair:
    genre: str
    score: float  # gold similarity, 0-5
    sentence1: str
    sentence2: str


def read_stsb(path: Path) -> list[StsPair]:
    """STS Benchmark CSV: tab separated, no header, no quoting; only the first seven fields count
    (some rows carry trailing source notes, and a '"' inside a sentence is just a character)."""
    if not path.is_file():
        raise DataUnavailable(f"STS Benchmark file missing: {path}")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 7:
            raise DataUnavailable(f"{path}:{number}: expected at least 7 tab-separated fields, "
                                  f"got {len(fields)}")
        pairs.append(StsPair(fields[0], float(fields[4]), fields[5], fields[6]))
    return pairs


@dataclass(frozen=True)
class Sst2Example:
    label: int  # 0 negative, 1 positive
    text: str


def read_sst2(path: Path) -> list[Sst2Example]:
    """One example a line: `LABEL SENTENCE` (label 0 or 1, one space, lower-cased sentence)."""
    if not path.is_file():
        raise DataUnavailable(f"SST-2 file missing: {path}")
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        label, _, text = line.partition(" ")
        if label not in ("0", "1") or not text:
            raise DataUnavailable(f"{path}:{number}: expected 'LABEL SENTENCE' with label 0 or 1")
        examples.append(Sst2Example(int(label), text))
    return examples
