"""Compare two runs: claims whose measured value moved beyond its tolerance or whose verdict
changed, claims present in only one of them (listed apart, never counted as moved), and benchmark
timings (pytest-benchmark's saved JSON) that slowed down.

    python -m harness compare A B [--results-dir results] [--fail-on-change] [--max-slowdown 10%]
    python -m harness compare --profile ci          # the two newest runs of a profile

A and B are run ids (as under results/runs/<profile>/), run directories or claims.json files.
Exit status: 0, 1 (--fail-on-change / --max-slowdown tripped), 2 (a run missing or unreadable).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.benchmarks import saved_files
from harness.checks import tolerance
from harness.escape import md_code
from harness.render import format_value, md_table
from harness.results import ResultsError, atomic_write, read_run, run_order

CLAIM_COLUMNS = ("claim", "change", "verdict A", "verdict B", "measured A", "measured B", "delta")


class CompareError(RuntimeError):
    pass


def find_run(results_dir: Path, ref: str) -> Path:
    """A claims.json for a run id, a run directory or a file."""
    path = Path(ref)
    if path.is_file():
        return path
    if (path / "claims.json").is_file():
        return path / "claims.json"
    matches = sorted((results_dir / "runs").glob(f"*/{ref}/claims.json"))
    if not matches:
        raise CompareError(f"no run '{ref}' under {results_dir / 'runs'} (and no such file or directory)")
    return matches[0]


def newest_runs(results_dir: Path, profile: str, count: int = 2) -> list[Path]:
    runs = []
    for path in (results_dir / "runs" / profile).glob("*/claims.json"):
        try:
            runs.append((run_order(read_run(path)["run"]), path))
        except ResultsError:
            continue  # an unreadable run is not one of the newest to compare
    if len(runs) < count:
        raise CompareError(f"profile '{profile}' has {len(runs)} readable saved run(s) under "
                           f"{results_dir / 'runs'}; need {count}")
    return [path for _, path in sorted(runs)[-count:]]


def load_run(path: Path) -> dict[str, Any]:
    try:
        return read_run(path)
    except ResultsError as exc:
        raise CompareError(str(exc)) from exc


def numbers(value: Any) -> dict[str, float] | None:
    """A measured value as named numbers (a number, or a mapping of numbers); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return {"": float(value)}
    if isinstance(value, Mapping) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    for v in value.values()):
        return {str(k): float(v) for k, v in value.items()}
    return None


def moved(a: Any, b: Any, record: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a measurement moved beyond the claim's tolerance (harness.checks.tolerance)."""
    na, nb = numbers(a), numbers(b)
    if na is not None and nb is not None and na.keys() == nb.keys():
        worst, where = 0.0, ""
        spec = record.get("spec") or {}
        for key in na:
            delta = nb[key] - na[key]
            if abs(delta) > tolerance(str(record.get("check", "")), spec, na[key]) and abs(delta) >= abs(worst):
                worst, where = delta, key
        if worst:
            label = f"{where}: " if where else ""
            return True, f"{label}{worst:+.4g}"
        return False, ""
    return (a != b), ("changed" if a != b else "")


@dataclass
class Comparison:
    changed: list[dict[str, Any]] = field(default_factory=list)  # moved or changed verdict
    only_a: list[dict[str, Any]] = field(default_factory=list)
    only_b: list[dict[str, Any]] = field(default_factory=list)
    compared: int = 0  # claims present in both


def compare_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> Comparison:
    result = Comparison()
    for cid in sorted(set(a["claims"]) | set(b["claims"])):
        ra, rb = a["claims"].get(cid), b["claims"].get(cid)
        if ra is None or rb is None:
            one = ra or rb
            (result.only_a if rb is None else result.only_b).append(
                {"claim": cid, "verdict": one.get("verdict"), "measured": one.get("measured")})
            continue
        result.compared += 1
        is_moved, delta = moved(ra.get("measured"), rb.get("measured"), ra)
        verdict_changed = ra.get("verdict") != rb.get("verdict")
        if is_moved or verdict_changed:
            change = " and ".join(x for x, on in (("verdict changed", verdict_changed),
                                                  ("value moved beyond tolerance", is_moved)) if on)
            result.changed.append({"claim": cid, "change": change, "verdict A": ra.get("verdict"),
                                   "verdict B": rb.get("verdict"), "measured A": ra.get("measured"),
                                   "measured B": rb.get("measured"), "delta": delta})
    return result


def benchmark_file(results_dir: Path, run_id: str) -> Path | None:
    return next((path for path, data in saved_files(results_dir) if data.get("harness_run_id") == run_id), None)


def benchmark_means(path: Path) -> dict[str, float]:
    try:
        return {x["fullname"]: float(x["stats"]["mean"])
                for x in json.loads(path.read_text(encoding="utf-8"))["benchmarks"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"{path}: not pytest-benchmark data ({exc!r})") from exc


def compare_benchmarks(a: Path, b: Path) -> list[dict[str, Any]]:
    ma, mb = benchmark_means(a), benchmark_means(b)
    return [{"benchmark": name, "mean A (s)": ma[name], "mean B (s)": mb[name],
             "change %": 100 * (mb[name] / ma[name] - 1) if ma[name] else float("nan")}
            for name in sorted(set(ma) & set(mb))]


def _short(value: Any, width: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else format_value(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def render(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
           empty: str = "Nothing changed.") -> str:
    if not rows:
        return f"## {title}\n\n{empty}\n"
    return f"## {title}\n\n{md_table(columns, [{k: _short(v) for k, v in r.items()} for r in rows])}\n"


def parse_threshold(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise CompareError(f"--max-slowdown {text!r}: expected a number or a percentage such as 10%") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", help="two run ids, run directories or claims.json files")
    parser.add_argument("--profile", help="compare the two newest runs of this profile")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--fail-on-change", action="store_true",
                        help="exit 1 when a claim moved beyond its tolerance or changed verdict")
    parser.add_argument("--max-slowdown", help="exit 1 when a benchmark's mean slowed by more than this "
                                               "(e.g. 10%%); needs both runs' pytest-benchmark JSON")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir)
    try:
        threshold = parse_threshold(args.max_slowdown)
        if args.profile and not args.runs:
            path_a, path_b = newest_runs(results_dir, args.profile)
        elif len(args.runs) == 2:
            path_a, path_b = (find_run(results_dir, r) for r in args.runs)
        else:
            parser.error("give two runs, or --profile NAME")
        a, b = load_run(path_a), load_run(path_b)
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    id_a, id_b = str(a["run"]["run_id"]), str(b["run"]["run_id"])
    result = compare_runs(a, b)
    text = [f"# Comparison: A = {md_code(id_a)}, B = {md_code(id_b)}", "",
            f"{result.compared} claims in both runs; {len(result.changed)} moved or changed verdict; "
            f"{len(result.only_a)} only in A, {len(result.only_b)} only in B (not compared). Timing fields are "
            "ignored; a value moves when it changes by more than the claim's tolerance (any change where the "
            "claim declares none).", "", render("Claims", CLAIM_COLUMNS, result.changed)]
    for title, rows in (("Only in A", result.only_a), ("Only in B", result.only_b)):
        if rows:
            text.append(render(title, ("claim", "verdict", "measured"), rows))
    status = 1 if args.fail_on_change and result.changed else 0
    bench_a, bench_b = benchmark_file(results_dir, id_a), benchmark_file(results_dir, id_b)
    if bench_a and bench_b:
        try:
            timings = compare_benchmarks(bench_a, bench_b)
        except CompareError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        text.append(render("Benchmarks (pytest-benchmark means)",
                           ("benchmark", "mean A (s)", "mean B (s)", "change %"), timings))
        if threshold is not None and any(t["change %"] > 100 * threshold for t in timings):
            status = 1
    elif threshold is not None:
        text.append("No pytest-benchmark data saved for both runs (run `pytest suites --benchmark-only`); "
                    "--max-slowdown not applied.\n")
    report = "\n".join(text)
    print(report)
    out = results_dir / f"compare-{id_a}-vs-{id_b}.md"
    try:
        atomic_write(out, report)
        print(f"written: {out}", file=sys.stderr)
    except OSError as exc:
        print(f"warning: could not write {out}: {exc}", file=sys.stderr)
    return status
