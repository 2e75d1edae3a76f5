"""FLORES-200 token counts by the procedure of Petrov, La Malfa, Torr and Bibi (NeurIPS 2023),
"Language Model Tokenizers Introduce Unfairness Between Languages".

Their code (github.com/AleksandarPetrov/tokenization-fairness, compute/compute_tokenizations.py,
lines 31-35 and 38-48) reads each language's dev and devtest files whole, splits each on "\\n"
(so each file's final newline leaves an empty string), joins all pieces with one space and
encodes that single text once without special tokens; the count is the length of the result.
The premium of a language is its count over English's (prepare_tables.ipynb: total over total,
never an average of per-sentence ratios). `joined_text` rebuilds that text byte for byte.

The published counts of the tokenizers this harness also runs are in
harness/reference/petrov2023_flores_token_counts.csv.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SOURCE = ("Petrov, La Malfa, Torr, Bibi (NeurIPS 2023), 'Language Model Tokenizers Introduce Unfairness "
          "Between Languages', github.com/AleksandarPetrov/tokenization-fairness")
PROCEDURE = ("Petrov et al. 2023: dev + devtest lines (split on '\\n') joined with one space into one text "
             "per language, encoded once without special tokens; premium = tokens / English tokens")
SPLITS = (("dev", "dev"), ("devtest", "devtest"))  # folder, file suffix; dev first, as theirs
ENGLISH = "eng_Latn"
REFERENCE_FILE = Path(__file__).with_name("reference") / "petrov2023_flores_token_counts.csv"


def joined_text(root: Path, language: str, splits: Sequence[tuple[str, str]] = SPLITS) -> str:
    """The one text per language that Petrov et al. encode. Text mode (universal newlines) and
    str.split("\\n") as theirs, so a file's final newline adds an empty piece: two spaces between
    the dev and devtest parts, one space at the end."""
    pieces: list[str] = []
    for folder, suffix in splits:
        path = Path(root) / folder / f"{language}.{suffix}"
        try:
            with path.open(encoding="utf-8") as file:
                pieces += file.read().split("\n")
        except OSError as exc:
            raise FileNotFoundError(f"FLORES-200 file unreadable: {path} ({exc.strerror})") from exc
    return " ".join(pieces)


@dataclass(frozen=True)
class TextCounts:
    """One text's tokens, and those that are the unknown token or carry part of a character."""

    tokens: int
    unk_tokens: int = 0
    sub_character_tokens: int = 0


@contextmanager
def unpadded(backend: Any) -> Iterator[Any]:
    """The `tokenizers.Tokenizer` with its padding and truncation lifted, put back afterwards.

    sentence-transformers' tokenizer.json pads and truncates to 128; lifting the settings for the
    call spares a copy of the backend (hundreds of MB for Gemma's vocabulary)."""
    padding, truncation = backend.padding, backend.truncation
    backend.no_padding()
    backend.no_truncation()
    try:
        yield backend
    finally:
        if padding:
            backend.enable_padding(**padding)
        if truncation:
            backend.enable_truncation(**truncation)


def encode_batch(backend: Any, texts: list[str]) -> list[Any]:
    """One batch call without special tokens, so the Rust side spreads the texts over the cores."""
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
    return encode(texts, add_special_tokens=False)


def encode_counts(backend: Any, texts: list[str], *, unk_id: int | None = None,
                  sub_character: np.ndarray | None = None) -> list[TextCounts]:
    """Count the tokens of each text with a `tokenizers.Tokenizer`, no special tokens, no padding
    or truncation (lifted for the call and put back). One batch call, so the Rust side spreads the
    texts over the cores; ids are read only when unknown or sub-character tokens are counted."""
    with unpadded(backend):
        encodings = encode_batch(backend, texts)
    if unk_id is None and (sub_character is None or not sub_character.any()):
        return [TextCounts(len(e)) for e in encodings]
    counts = []
    for encoding in encodings:
        ids = np.array(encoding.ids, dtype=np.int64)
        unk = int(np.count_nonzero(ids == unk_id)) if unk_id is not None else 0
        sub = int(np.count_nonzero(sub_character[ids])) if sub_character is not None else 0
        counts.append(TextCounts(len(ids), unk, sub))
    return counts


def premium(tokens: Mapping[str, int], language: str, reference: str = ENGLISH) -> float:
    """Petrov et al.'s premium: the language's token count over the reference language's."""
    return tokens[language] / tokens[reference]


class ReferenceError(ValueError):
    """A reference file that cannot be used; the message names the file, line and field."""


def load_published(path: Path = REFERENCE_FILE) -> dict[str, dict[str, int]]:
    """Published counts: column (tokenizer as the paper names it) -> FLORES code -> tokens.
    Lines starting with '#' name the source."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReferenceError(f"{path}: cannot read the published counts ({exc.strerror})") from exc
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line and not line.startswith("#")]
    if not numbered:
        raise ReferenceError(f"{path}: no header line")
    header_no, header = numbered[0]
    fields = next(csv.reader([header]))
    if fields[0] != "language" or len(fields) < 2:
        raise ReferenceError(f"{path}:{header_no}: header must be 'language,<tokenizer>,...', got {header!r}")
    table: dict[str, dict[str, int]] = {column: {} for column in fields[1:]}
    for number, line in numbered[1:]:
        row = next(csv.reader([line]))
        if len(row) != len(fields):
            raise ReferenceError(f"{path}:{number}: {len(row)} fields, the header has {len(fields)}")
        language = row[0]
        for column, value in zip(fields[1:], row[1:]):
            if not value.isdigit():
                raise ReferenceError(f"{path}:{number}: field '{column}' of {language}: "
                                     f"not a token count: {value!r}")
            if language in table[column]:
                raise ReferenceError(f"{path}:{number}: language {language} listed twice")
            table[column][language] = int(value)
    return table


@dataclass(frozen=True)
class Agreement:
    """Measured counts against published ones, language by language."""

    languages: int
    equal: int
    max_abs_difference: int
    worst_language: str | None
    differences: Mapping[str, int]  # language -> measured - published, non-zero only

    @property
    def all_equal(self) -> bool:
        return self.languages > 0 and self.equal == self.languages


def compare(measured: Mapping[str, int], published: Mapping[str, int],
            languages: Iterable[str] | None = None) -> Agreement:
    """Compare on `languages` (default: every published language); a language missing from the
    measurement is an error, never left out."""
    languages = list(published if languages is None else languages)
    missing = [lang for lang in languages if lang not in measured or lang not in published]
    if missing:
        raise KeyError(f"no measured or published count for {missing[:10]}")
    differences = {lang: measured[lang] - published[lang] for lang in languages
                   if measured[lang] != published[lang]}
    worst = max(differences, key=lambda lang: abs(differences[lang]), default=None)
    return Agreement(languages=len(languages), equal=len(languages) - len(differences),
                     max_abs_difference=abs(differences[worst]) if worst else 0,
                     worst_language=worst, differences=differences)
