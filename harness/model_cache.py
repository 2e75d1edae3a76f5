"""Content-verified cache entries: built once under a lock, checked by sha256 before each session uses them.

An entry is a directory (a converted GGUF model, staged vocabulary files) holding `manifest.json`
with the sha256 and size of every other file in it. It is built under a `.partial` name, its
manifest written last, then renamed into place, all while holding `<entry>.lock`; so a reader
sees either no entry or a complete one, and two first-time builders take turns. Verification
hashes each entry once per process (again only if a file's stat changes); any mismatch, missing or
unexpected file makes the entry invalid and it is rebuilt with a message through `notify`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
PARTIAL = ".partial"
LOCK_TIMEOUT_S = 3600.0  # a Gemma conversion takes minutes on a slow machine; never wait forever
Notify = Callable[[str], None]


class CacheBuildFailed(RuntimeError):
    """Building a cache entry failed; remembered so that the rest of the session does not retry."""


class FileDigestMismatch(RuntimeError):
    """A file read from an installed package is not the one whose sha256 models.toml records."""


def stderr_notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _stat_key(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _entry_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


# --- manifests ---------------------------------------------------------------------------

def write_manifest(folder: Path, source: dict[str, Any]) -> None:
    """Record size and sha256 of every file in `folder`; written last, atomically."""
    files = {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)}
             for p in _entry_files(folder)}
    tmp = folder / (MANIFEST + PARTIAL)
    tmp.write_text(json.dumps({"format": 2, "source": source, "files": files}, indent=1, sort_keys=True))
    os.replace(tmp, folder / MANIFEST)


_verified: dict[Path, tuple] = {}  # entry -> stat signature of its files when last hashed


def entry_problem(folder: Path, source: dict[str, Any] | None = None) -> str | None:
    """None if `folder` is a complete, unmodified entry (built from `source`), else what is wrong."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or not files:
            return "manifest lists no files"
    except FileNotFoundError:
        return "no manifest (an interrupted or older build)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest ({type(exc).__name__})"
    if source is not None and manifest.get("source") != source:
        return "built from a different source than models.toml now names"
    present = {p.relative_to(folder).as_posix(): p for p in _entry_files(folder)}
    extra = sorted(set(present) - set(files))
    if extra:
        return f"unexpected file {extra[0]}"
    try:
        signature = tuple((name, _stat_key(folder / name)) for name in sorted(files))
    except OSError:
        missing = sorted(set(files) - set(present))
        return f"missing file {missing[0] if missing else '?'}"
    if _verified.get(folder) == signature:
        return None
    for name, meta in sorted(files.items()):
        path = folder / name
        try:
            if path.stat().st_size != meta["size"]:
                return f"{name}: size {path.stat().st_size} instead of {meta['size']}"
            if sha256_file(path) != meta["sha256"]:
                return f"{name}: sha256 differs from the manifest (content changed)"
        except (TypeError, KeyError):
            return f"manifest entry for {name} is malformed"
    _verified[folder] = signature
    return None


# --- building under a lock ----------------------------------------------------------------

def partial_dir(folder: Path) -> Path:
    return folder.with_name(folder.name + PARTIAL)


def lock_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".lock")


@contextmanager
def entry_lock(folder: Path, notify: Notify) -> Iterator[None]:
    """Exclusive right to build `folder`; a second builder waits (and says so) instead of colliding."""
    from filelock import FileLock, Timeout

    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(folder)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        notify(f"[harness] waiting for another process that is building {folder} ...")
        try:
            lock.acquire(timeout=LOCK_TIMEOUT_S)
        except Timeout as exc:
            raise CacheBuildFailed(f"gave up after {LOCK_TIMEOUT_S:.0f} s waiting for {lock.lock_file}; "
                                   f"if no other run is building it, delete that file") from exc
    try:
        yield
    finally:
        lock.release()


def remove_orphans(folder: Path) -> list[Path]:
    """Delete what an interrupted build left beside `folder` (call only while holding its lock)."""
    removed = []
    for path in folder.parent.glob(folder.name + PARTIAL + "*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


_failed: dict[Path, CacheBuildFailed] = {}


def build_entry(folder: Path, build: Callable[[Path], None], *, source: dict[str, Any],
                notify: Notify | None = None, what: str = "") -> Path:
    """Return `folder` verified, building it with `build(partial_dir)` first if it is missing or corrupt.

    A build that failed is remembered for the rest of the process: the same error again, no retry.
    """
    notify = notify or stderr_notify
    if folder in _failed:
        raise _failed[folder]
    if entry_problem(folder, source) is None:
        return folder
    with entry_lock(folder, notify):
        problem = entry_problem(folder, source)  # another process may have built it meanwhile
        if problem is None:
            return folder
        for orphan in remove_orphans(folder):
            notify(f"[harness] removed {orphan.name}, left by an interrupted build")
        if folder.exists():
            notify(f"[harness] model cache {folder} failed verification ({problem}); rebuilding")
            shutil.rmtree(folder)
        tmp = partial_dir(folder)
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            write_manifest(tmp, source)
            os.replace(tmp, folder)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception):
                error = exc if isinstance(exc, CacheBuildFailed) else CacheBuildFailed(
                    f"building {what or folder.name} into {folder} failed: {type(exc).__name__}: {exc}")
                _failed[folder] = error
                if error is not exc:
                    raise error from exc
            raise
        problem = entry_problem(folder, source)
        if problem is not None:
            _failed[folder] = CacheBuildFailed(f"{folder} is invalid right after building it: {problem}")
            raise _failed[folder]
    return folder


# --- files read from installed packages ---------------------------------------------------

_package_files: dict[Path, tuple[tuple[int, ...], str | None]] = {}


def verify_package_files(base: Path, digests: dict[str, str], *, where: str, reinstall: str) -> None:
    """Check files of an installed package against the sha256 digests models.toml records for them.

    `where` names the models.toml table (for the message); `reinstall` is the pip command that
    restores the package. Each file is hashed once per process unless its stat changes.
    """
    for relative, expected in digests.items():
        path = base / relative
        try:
            key = _stat_key(path)
        except OSError as exc:
            raise FileDigestMismatch(f"{path} ({where}) cannot be read ({exc.strerror}); "
                                     f"reinstall: {reinstall}") from exc
        cached = _package_files.get(path)
        if cached is None or cached[0] != key:
            actual = sha256_file(path)
            cached = (key, None if actual == expected else actual)
            _package_files[path] = cached
        if cached[1] is not None:
            raise FileDigestMismatch(
                f"{path} is not the file harness/models.toml [{where}] records: sha256 {cached[1][:16]}... "
                f"instead of {expected[:16]}...; it was modified or the package version differs. "
                f"Reinstall it: {reinstall}")
