"""The results store: each run's immutable record, and the merged view built from those records.

Layout of a results directory:
  runs/<profile>/<run id>/claims.json   one run's records, run info, tables' metadata (never changed)
  runs/<profile>/<run id>/tables/*.csv  that run's measured tables
  runs/<profile>/LATEST                 the newest complete run of that profile
  claims.json, REPORT.md, tables/*.csv  the merged view of the profile and model set that ran last:
                                        per claim of the current catalogs, its latest record
  plots/*.png, *.html, lora/ ...        files written by suites (the last run's)

A run's record is written first and completely (temporary name, then rename); the merged view is
then rebuilt from all run records under an exclusive lock on `.results.lock`, so two runs ending at
the same moment both end up in it. Files honour the umask (0644 by default).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

SCHEMA = 1
LOCK_NAME = ".results.lock"
LOCK_TIMEOUT_S = 300.0


class ResultsError(RuntimeError):
    """Results cannot be written or read; the message names the file."""


# files ---------------------------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same directory, then rename: readers see the old file or
    the new one, never a part. The mode follows the umask, as a plain open() would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _FILE_MODE)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(results_dir: Path) -> None:
    """Fail early (before any model loads) if results cannot be written."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=results_dir)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ResultsError(f"results directory {results_dir} is not writable ({exc.strerror}); "
                           f"pass --results-dir or fix its permissions") from exc


@contextlib.contextmanager
def results_lock(results_dir: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive lock on the results directory (fcntl; released by the OS if the holder dies)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: run records are still per run, only the view may race
        yield
        return
    path = results_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ResultsError(f"{path} stayed locked for {timeout_s:.0f} s by another run; "
                                       f"this run's records are kept under runs/") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def table_csv_name(experiment: str, name: str) -> str:
    return f"{slug(experiment)}__{slug(name)}.csv"


def keep_aside(path: Path, why: str) -> Path:
    """Move an unusable file or directory out of the way, never deleting it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.unreadable-{stamp}-{n}")
    path.rename(aside)
    print(f"[harness] {path} could not be used ({why}); kept as {aside}")
    return aside


# run records ---------------------------------------------------------------------------------

def _as_dict(item: Any) -> dict[str, Any]:
    return asdict(item) if is_dataclass(item) else dict(item)


def _plain(value: Any) -> Any:
    """Enum verdicts and other str subclasses as plain strings, for JSON and comparisons."""
    if isinstance(value, str):
        return str(getattr(value, "value", value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record_dict(record: Any) -> dict[str, Any]:
    """A claim record (a dataclass or a mapping) as plain JSON-ready data."""
    return _plain(_as_dict(record))


def run_record(recorder: Any, run_info: Mapping[str, Any]) -> dict[str, Any]:
    """What one run writes about itself: run info, every claim record, tables' metadata, artefacts."""
    info = {"run_id": recorder.run_id, "profile": recorder.profile, "model_set": recorder.model_set,
            **_plain(dict(run_info))}
    tables = {f"{t.experiment}/{t.name}": {"experiment": t.experiment, "name": t.name,
                                           "csv": f"tables/{table_csv_name(t.experiment, t.name)}",
                                           "note": t.note, "in_report": t.in_report}
              for t in recorder.tables.values()}
    return {"schema": SCHEMA, "run": info,
            "claims": {r["id"]: r for r in map(record_dict, recorder.records.values())},
            "tables": tables, "artifacts": _plain(dict(recorder.artifacts))}


def _shape_problem(data: Any) -> str | None:
    """Why a parsed claims.json is not a run record (or a view), or None when it is one."""
    if not isinstance(data, dict):
        return f"top level is {type(data).__name__}, not an object"
    if data.get("schema") != SCHEMA:
        return f"schema {data.get('schema')!r}, expected {SCHEMA}"
    if not isinstance(data.get("claims"), dict):
        return f"'claims' is {type(data.get('claims')).__name__}, not an object"
    for cid, record in data["claims"].items():
        if not isinstance(record, dict) or "verdict" not in record or "measured" not in record:
            return f"claim {cid!r} is not a record (needs 'verdict' and 'measured')"
    for key in ("run", "tables", "artifacts", "runs"):
        if key in data and not isinstance(data[key], dict):
            return f"'{key}' is {type(data[key]).__name__}, not an object"
    return None


def read_run(path: Path) -> dict[str, Any]:
    """One run's record; ResultsError naming the file and what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot be read as JSON ({exc})") from exc
    problem = _shape_problem(data)
    if problem:
        raise ResultsError(f"{path}: not a run record: {problem}")
    data.setdefault("run", {})
    data["run"].setdefault("run_id", path.parent.name)
    data["run"].setdefault("profile", path.parent.parent.name)
    data.setdefault("tables", {})
    data.setdefault("artifacts", {})
    return data


def run_order(run: Mapping[str, Any]) -> tuple[str, str]:
    """Runs sort by finish time, then id (ids begin with the start time)."""
    return (str(run.get("finished") or ""), str(run.get("run_id") or ""))


@dataclass
class SavedRuns:
    runs: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # (claims.json, record), oldest first
    unreadable: list[str] = field(default_factory=list)  # messages naming the files skipped


def load_runs(results_dir: Path, profile: str | None = None) -> SavedRuns:
    """Every complete run record under runs/ (of one profile, or all); bad ones are skipped and named."""
    saved = SavedRuns()
    pattern = f"{profile}/*/claims.json" if profile else "*/*/claims.json"
    for path in sorted((results_dir / "runs").glob(pattern)):
        try:
            saved.runs.append((path, read_run(path)))
        except ResultsError as exc:
            saved.unreadable.append(str(exc))
    saved.runs.sort(key=lambda item: run_order(item[1]["run"]))
    return saved


def views(saved: SavedRuns) -> list[tuple[str, str]]:
    """The (profile, model set) pairs that have runs, in a stable order."""
    return sorted({(str(d["run"].get("profile")), str(d["run"].get("model_set"))) for _, d in saved.runs})


# the merged view -----------------------------------------------------------------------------

def current_ids(catalogs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Claim id -> Claim for the current catalogs; None when no catalogs are known (keep all)."""
    if not catalogs:
        return None
    return {claim.id: claim for catalog in catalogs.values() for claim in catalog.claims}


def build_view(saved: SavedRuns, profile: str, model_set: str,
               catalogs: Mapping[str, Any]) -> dict[str, Any]:
    """Per claim of the current catalogs, its latest record from the runs of this profile and
    model set; tables and artefacts likewise; and the claims no such run measured."""
    current = current_ids(catalogs)
    experiments = set(catalogs) if catalogs else None
    claims: dict[str, dict[str, Any]] = {}
    tables: dict[str, dict[str, Any]] = {}
    artifacts: dict[str, dict[str, str]] = {}
    runs: dict[str, dict[str, Any]] = {}
    latest: str | None = None
    for path, data in saved.runs:
        run = data["run"]
        if run.get("profile") != profile or run.get("model_set") != model_set:
            continue
        run_id = str(run["run_id"])
        latest = run_id
        runs[run_id] = run
        for cid, record in data["claims"].items():
            if current is None or cid in current:
                claims[cid] = {**record, "run_id": record.get("run_id", run_id)}
        for key, meta in data["tables"].items():
            if experiments is None or meta.get("experiment") in experiments:
                tables[key] = {**meta, "run_id": run_id,
                               "run_csv": str((path.parent / meta["csv"]).relative_to(path.parents[3]))}
        for experiment, items in data["artifacts"].items():
            if experiments is None or experiment in experiments:
                artifacts.setdefault(experiment, {}).update(items)
    runs = {rid: run for rid, run in runs.items()
            if rid == latest or any(c.get("run_id") == rid for c in claims.values())
            or any(t["run_id"] == rid for t in tables.values())}
    not_measured = sorted(set(current) - set(claims)) if current is not None else []
    return {"schema": SCHEMA, "view": {"profile": profile, "model_set": model_set},
            "latest_run": latest, "claims": claims, "not_measured": not_measured,
            "tables": tables, "artifacts": artifacts, "runs": runs,
            "unreadable_runs": list(saved.unreadable)}


# writing a run -------------------------------------------------------------------------------

def _write_run_dir(results_dir: Path, recorder: Any, record: dict[str, Any]) -> Path:
    run_dir = results_dir / "runs" / recorder.profile / recorder.run_id
    for table in recorder.tables.values():
        import pandas as pd

        meta = record["tables"][f"{table.experiment}/{table.name}"]
        atomic_write(run_dir / meta["csv"], pd.DataFrame(table.rows).to_csv(index=False))
    atomic_write(run_dir / "claims.json", json.dumps(record, indent=1, ensure_ascii=False))  # complete last
    return run_dir


def _check_view_file(path: Path) -> None:
    """The previous merged claims.json, if unusable (bad JSON, wrong shape, a directory), is kept aside."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir():
        keep_aside(path, "a directory where the merged claims.json belongs")
        return
    try:
        problem = _shape_problem(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problem = f"not JSON: {exc}"
    if problem:
        aside = path.with_name(f"claims.json.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copyfile(path, aside)
        print(f"[harness] {path} could not be read ({problem}); kept as {aside}")


def _write_view(results_dir: Path, view: dict[str, Any], catalogs: Mapping[str, Any], saved: SavedRuns) -> Path:
    from harness.matrix import matrix_for_report
    from harness.render import render_report

    for meta in view["tables"].values():
        source = results_dir / meta["run_csv"]
        if source.is_file():
            atomic_write_bytes(results_dir / meta["csv"], source.read_bytes())
    _check_view_file(results_dir / "claims.json")
    for name in ("claims.json", "REPORT.md"):
        if (results_dir / name).is_dir():
            keep_aside(results_dir / name, f"a directory where {name} belongs")
    atomic_write(results_dir / "claims.json", json.dumps(view, indent=1, ensure_ascii=False))
    report = render_report(view, results_dir, catalogs, matrix_for_report(results_dir, catalogs, saved))
    atomic_write(results_dir / "REPORT.md", report)
    return results_dir / "REPORT.md"


def write_results(results_dir: Path, recorder: Any, run_info: Mapping[str, Any],
                  catalogs: Mapping[str, Any]) -> Path:
    """Save this run's record, then rebuild the merged view (claims.json, REPORT.md, tables/) of
    its profile and model set from every saved run. Returns REPORT.md's path.

    Raises ResultsError (naming the file) when something cannot be written; whatever was written
    before stays whole, and runs/<profile>/LATEST only ever names a complete run."""
    record = run_record(recorder, run_info)
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        _write_run_dir(results_dir, recorder, record)
    except OSError as exc:
        raise ResultsError(f"this run's record could not be written under {results_dir / 'runs'}: "
                           f"{exc}") from exc
    try:
        for relative, data in recorder.files.items():
            atomic_write_bytes(results_dir / relative, data)
        with results_lock(results_dir):
            saved = load_runs(results_dir)
            for message in saved.unreadable:
                print(f"[harness] skipped an unreadable saved run: {message}")
            view = build_view(saved, recorder.profile, recorder.model_set, catalogs)
            report = _write_view(results_dir, view, catalogs, saved)
            _point_latest(results_dir, recorder.profile, saved)
    except OSError as exc:
        raise ResultsError(f"the merged results in {results_dir} could not be written ({exc}); this run's "
                           f"record is complete in runs/{recorder.profile}/{recorder.run_id}/") from exc
    return report


def refresh_report(results_dir: Path, profile: str, model_set: str, catalogs: Mapping[str, Any]) -> Path | None:
    """Rewrite the merged view (claims.json, REPORT.md) of this profile and model set from the saved runs,
    without a new run of claims: after a benchmark-only session, so that REPORT.md shows its figures.
    None (nothing written) when no claims run of this profile and model set is saved."""
    with results_lock(results_dir):
        saved = load_runs(results_dir)
        if (profile, model_set) not in views(saved):
            return None
        return _write_view(results_dir, build_view(saved, profile, model_set, catalogs), catalogs, saved)


def _point_latest(results_dir: Path, profile: str, saved: SavedRuns) -> None:
    own = [d["run"]["run_id"] for _, d in saved.runs if d["run"].get("profile") == profile]
    if own:
        atomic_write(results_dir / "runs" / profile / "LATEST", own[-1] + "\n")
