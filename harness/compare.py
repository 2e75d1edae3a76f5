"""Compare two runs: claims whose measured value moved beyond its tolerance or whose verdict
changed, and benchmark timings (pytest-benchmark's saved JSON) that slowed down.

    python -m harness compare A B [--results-dir results] [--fail-on-change] [--max-slowdown 10%]
    python -m harness compare --profile ci          # the two newest runs of a profile

A and B are run ids (as under results/runs/<profile>/), run directories or claims.json files.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report import atomic_write

TIMING_KEYS = ("duration_s", "timestamp", "run_id")


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
    runs = sorted((results_dir / "runs" / profile).glob("*/claims.json"), key=lambda p: p.parent.name)
    if len(runs) < count:
        raise CompareError(f"profile '{profile}' has {len(runs)} saved run(s) under {results_dir / 'runs'}; "
                           f"need {count}")
    return runs[-count:]


def load_run(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompareError(f"cannot read {path}: {exc}") from exc
    if "claims" not in data:
        raise CompareError(f"{path} holds no claims")
    return data


def tolerance(spec: Mapping[str, Any], reference: float) -> float:
    if "tolerance" in spec:
        return float(spec["tolerance"])
    if "rel_tolerance" in spec and "expected" in spec:
        return abs(float(spec["expected"])) * float(spec["rel_tolerance"])
    return 1e-9 * max(1.0, abs(reference))  # no declared tolerance: any real change counts


def _numbers(value: Any) -> dict[str, float] | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return {"": float(value)}
    if isinstance(value, Mapping) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    for v in value.values()):
        return {str(k): float(v) for k, v in value.items()}
    return None


def moved(a: Any, b: Any, spec: Mapping[str, Any]) -> tuple[bool, str]:
    na, nb = _numbers(a), _numbers(b)
    if na is not None and nb is not None and na.keys() == nb.keys():
        worst, where = 0.0, ""
        for key in na:
            delta = nb[key] - na[key]
            if abs(delta) > tolerance(spec, na[key]) and abs(delta) >= abs(worst):
                worst, where = delta, key
        if worst:
            label = f"{where}: " if where else ""
            return True, f"{label}{worst:+.4g}"
        return False, ""
    return (a != b), ("changed" if a != b else "")


def compare_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for cid in sorted(set(a["claims"]) | set(b["claims"])):
        ra, rb = a["claims"].get(cid), b["claims"].get(cid)
        if ra is None or rb is None:
            rows.append({"claim": cid, "change": "only in " + ("B" if ra is None else "A"),
                         "verdict A": ra and ra["verdict"], "verdict B": rb and rb["verdict"],
                         "measured A": ra and ra["measured"], "measured B": rb and rb["measured"], "delta": ""})
            continue
        is_moved, delta = moved(ra["measured"], rb["measured"], ra.get("spec", {}))
        verdict_changed = ra["verdict"] != rb["verdict"]
        if is_moved or verdict_changed:
            change = " and ".join(x for x, on in (("verdict changed", verdict_changed),
                                                  ("value moved beyond tolerance", is_moved)) if on)
            rows.append({"claim": cid, "change": change, "verdict A": ra["verdict"], "verdict B": rb["verdict"],
                         "measured A": ra["measured"], "measured B": rb["measured"], "delta": delta})
    return pd.DataFrame(rows, columns=["claim", "change", "verdict A", "verdict B", "measured A",
                                       "measured B", "delta"])


def benchmark_file(results_dir: Path, run_id: str) -> Path | None:
    for path in sorted((results_dir / "benchmarks").rglob("*.json")):
        try:
            if json.loads(path.read_text()).get("harness_run_id") == run_id:
                return path
        except (OSError, ValueError):
            continue
    return None


def compare_benchmarks(a: Path, b: Path) -> pd.DataFrame:
    def means(path: Path) -> dict[str, float]:
        return {x["fullname"]: x["stats"]["mean"] for x in json.loads(path.read_text())["benchmarks"]}

    ma, mb = means(a), means(b)
    rows = [{"benchmark": name, "mean A (s)": ma[name], "mean B (s)": mb[name],
             "change %": 100 * (mb[name] / ma[name] - 1)} for name in sorted(set(ma) & set(mb))]
    return pd.DataFrame(rows, columns=["benchmark", "mean A (s)", "mean B (s)", "change %"])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def render(title: str, frame: pd.DataFrame) -> str:
    if frame.empty:
        return f"## {title}\n\nNothing changed.\n"
    shown = frame.map(lambda v: _cell(v).replace("|", "\\|"))
    return f"## {title}\n\n{shown.to_markdown(index=False)}\n"


def parse_threshold(text: str | None) -> float | None:
    if text is None:
        return None
    return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)


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
    id_a, id_b = a.get("run", {}).get("run_id", path_a.parent.name), b.get("run", {}).get("run_id", path_b.parent.name)
    claims = compare_runs(a, b)
    text = [f"# Comparison: A = `{id_a}`, B = `{id_b}`", "",
            f"{len(set(a['claims']) | set(b['claims']))} claims compared; {len(claims)} moved or changed verdict. "
            "Timing fields are ignored; a value moves when it changes by more than the claim's tolerance "
            "(any change where the claim declares none).", "", render("Claims", claims)]
    status = 1 if args.fail_on_change and not claims.empty else 0
    bench_a, bench_b = benchmark_file(results_dir, id_a), benchmark_file(results_dir, id_b)
    threshold = parse_threshold(args.max_slowdown)
    if bench_a and bench_b:
        timings = compare_benchmarks(bench_a, bench_b)
        text.append(render("Benchmarks (pytest-benchmark means)", timings))
        if threshold is not None and (timings["change %"] > 100 * threshold).any():
            status = 1
    elif threshold is not None:
        text.append("No pytest-benchmark data saved for both runs (run `pytest suites -m benchmark`); "
                    "--max-slowdown not applied.\n")
    report = "\n".join(text)
    print(report)
    out = results_dir / f"compare-{id_a}-vs-{id_b}.md"
    atomic_write(out, report)
    print(f"written: {out}", file=sys.stderr)
    return status
