"""Token counts kept on disk between sessions, keyed by what determines them.

A FLORES-200 count is a pure function of the tokenizer's whole pipeline (its `tokenizer.json`, as
`tokenizers` serialises it), the `tokenizers` version, the text, and how the harness counts
unknown and sub-character tokens. All of those go into the key, the text as its sha256, so a changed
data file, vocabulary or library is counted afresh, never served a stale figure. One JSON file per
pipeline under `<cache>/flores-counts/`; written atomically under a lock, so concurrent sessions
merge their entries instead of losing them. An unreadable or malformed file is ignored (and
rewritten), never trusted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from harness.flores_counts import PROCEDURE, TextCounts

# bump when the way the harness counts (unknown, sub-character tokens) changes
COUNTING_VERSION = 1
FOLDER = "flores-counts"


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pipeline_key(backend: Any, *, unk_id: int | None, sub_character: np.ndarray | None) -> str:
    """What a count depends on besides the text: the serialised pipeline, the library version, and
    the harness's own per-id tables and procedure."""
    import tokenizers

    # padding and truncation are lifted while counting (flores_counts.unpadded), and an earlier test
    # may have left either set on the shared backend: they must not change the key
    pipeline = json.loads(backend.to_str())
    pipeline.pop("padding", None)
    pipeline.pop("truncation", None)
    digest = hashlib.sha256()
    for part in (json.dumps(pipeline, sort_keys=True, ensure_ascii=False), tokenizers.__version__, PROCEDURE,
                 str(COUNTING_VERSION), repr(unk_id)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    if sub_character is not None:
        digest.update(np.packbits(sub_character.astype(bool)).tobytes())
    return digest.hexdigest()


def _valid(entry: Any) -> bool:
    return (isinstance(entry, list) and len(entry) == 3
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in entry)
            and entry[1] <= entry[0] and entry[2] <= entry[0])


class CountCache:
    """text digest -> TextCounts, per pipeline key, in `<root>/flores-counts/<key>.json`."""

    def __init__(self, root: Path):
        self.folder = Path(root) / FOLDER

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def _read(self, key: str) -> dict[str, list[int]]:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        entries = data.get("counts") if isinstance(data, dict) and data.get("key") == key else None
        if not isinstance(entries, dict):
            return {}
        return {digest: entry for digest, entry in entries.items() if _valid(entry)}

    def load(self, key: str) -> dict[str, TextCounts]:
        return {digest: TextCounts(*entry) for digest, entry in self._read(key).items()}

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def store(self, key: str, counts: Mapping[str, TextCounts], *, label: str = "") -> None:
        """Merge these counts into the pipeline's file (read again under the lock, written atomically)."""
        if not counts:
            return
        try:
            with self._locked(key):
                entries = self._read(key)
                entries.update({d: [c.tokens, c.unk_tokens, c.sub_character_tokens] for d, c in counts.items()})
                path = self._path(key)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"key": key, "tokenizer": label, "procedure": PROCEDURE,
                                           "counts": entries}, sort_keys=True), encoding="utf-8")
                os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full cache costs time next session, never a result
