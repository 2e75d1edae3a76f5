"""One table across hardware profiles and model sets:

    python -m harness matrix [--results-dir results] [--catalogs 'suites/*/catalog.toml']

Per claim, the measured value and verdict of each profile/model set side by side (each the
merged view of that profile and model set: the claim's latest run there), then pytest-benchmark's
means per profile (the newest saved benchmark file of each profile under results/benchmarks/).
Printed, and written to results/MATRIX.md. REPORT.md carries the same claims table when more than
one profile has runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.benchmarks import profile_of, saved_files
from harness.escape import md_text
from harness.render import format_value, md_table
from harness.results import SavedRuns, atomic_write, build_view, load_runs, views


def view_label(profile: str, model_set: str) -> str:
    return f"{profile} / {model_set}"


def _cell(record: Mapping[str, Any] | None, width: int = 48) -> str:
    if record is None:
        return "-"
    value = format_value(record.get("measured"), limit=6)
    if len(value) > width:
        value = value[: width - 3] + "..."
    return f"{value} ({record.get('verdict')})"


def claim_matrix(saved: SavedRuns, catalogs: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows: claim, report's value, one column per profile/model set, and whether the
    verdicts differ between them."""
    built = {view_label(p, m): build_view(saved, p, m, catalogs) for p, m in views(saved)}
    ids = sorted({cid for view in built.values() for cid in view["claims"]})
    rows = []
    for cid in ids:
        records = {label: view["claims"].get(cid) for label, view in built.items()}
        report = next((r["report_value"] for r in records.values() if r), "")
        verdicts = {r["verdict"] for r in records.values() if r}
        rows.append({"claim": cid, "report": report, **{k: _cell(r) for k, r in records.items()},
                     "verdicts differ": "yes" if len(verdicts) > 1 else ""})
    return ["claim", "report", *built, "verdicts differ"], rows


def benchmark_means(results_dir: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """pytest-benchmark's mean per benchmark, per profile (newest saved file of each profile)."""
    newest: dict[str, tuple[str, dict[str, Any]]] = {}
    for _, data in saved_files(results_dir):
        profile, when = profile_of(data)[0], str(data.get("datetime") or "")
        try:
            means = {b["fullname"]: float(b["stats"]["mean"]) for b in data["benchmarks"]}
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # not a pytest-benchmark file
        if profile not in newest or when >= newest[profile][0]:
            newest[profile] = (when, means)
    profiles = sorted(newest)
    names = sorted({name for _, means in newest.values() for name in means})
    rows = [{"benchmark": name, **{f"{p} mean (s)": newest[p][1].get(name) for p in profiles}} for name in names]
    return ["benchmark", *(f"{p} mean (s)" for p in profiles)], rows


def render_matrix(results_dir: Path, catalogs: Mapping[str, Any], saved: SavedRuns | None = None,
                  heading: str = "#") -> str:
    saved = saved if saved is not None else load_runs(results_dir)
    columns, rows = claim_matrix(saved, catalogs)
    text = [f"{heading} Claims across profiles and model sets", "",
            "Each column is one profile and model set; each cell is the claim's latest measured value there "
            "and its verdict (`-`: not measured there).", ""]
    empty = ("No saved run measured a claim of the current catalogs (`--catalogs ''` shows every saved claim)."
             if catalogs else "No saved runs.")
    text += [md_table(columns, rows) if rows else empty, ""]
    bench_columns, bench_rows = benchmark_means(results_dir)
    if bench_rows:
        text += [f"{heading}# Benchmarks: pytest-benchmark means per profile", "",
                 md_table(bench_columns, bench_rows), ""]
    for message in saved.unreadable:
        text += [md_text(f"Skipped an unreadable saved run: {message}"), ""]
    return "\n".join(text)


def matrix_for_report(results_dir: Path, catalogs: Mapping[str, Any], saved: SavedRuns | None = None) -> str | None:
    """REPORT.md's cross-profile section, when more than one profile has runs."""
    saved = saved if saved is not None else load_runs(results_dir)
    if len({profile for profile, _ in views(saved)}) < 2:
        return None
    return render_matrix(results_dir, catalogs, saved, heading="##")


def load_current_catalogs(pattern: str) -> dict[str, Any]:
    """The catalogs matching the glob (relative to the working directory); none: every saved claim."""
    from harness.claims import CatalogError, load_catalog

    catalogs: dict[str, Any] = {}
    if not pattern:
        return catalogs
    for path in sorted(Path.cwd().glob(pattern)):
        try:
            catalog = load_catalog(path)
        except CatalogError as exc:
            print(f"warning: {exc}; its claims are not filtered", file=sys.stderr)
            return {}
        catalogs[catalog.experiment] = catalog
    return catalogs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--catalogs", default="suites/*/catalog.toml",
                        help="show only claims of these catalogs (glob; when none match, every saved claim)")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir)
    if not (results_dir / "runs").is_dir():
        print(f"error: no saved runs under {results_dir / 'runs'}", file=sys.stderr)
        return 2
    text = render_matrix(results_dir, load_current_catalogs(args.catalogs))
    print(text)
    try:
        atomic_write(results_dir / "MATRIX.md", text)
        print(f"written: {results_dir / 'MATRIX.md'}", file=sys.stderr)
    except OSError as exc:
        print(f"warning: could not write {results_dir / 'MATRIX.md'}: {exc}", file=sys.stderr)
    return 0
