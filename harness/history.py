"""One claim across every saved run:

    python -m harness history CLAIM_ID [--results-dir results] [--profile P] [--no-plot]

Prints the claim's measured value and verdict in each run under results/runs/ (oldest first) and,
when the values are numbers (or mappings of numbers), plots them per profile/model set with the
band the claim accepts, to results/plots/history-<claim>.png.
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.compare import numbers
from harness.render import format_value, md_table
from harness.results import SavedRuns, atomic_write_bytes, load_runs, slug

COLUMNS = ("run", "profile", "model set", "finished", "measured", "verdict", "model")


def claim_history(saved: SavedRuns, claim_id: str, profile: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for _path, data in saved.runs:
        run, record = data["run"], data["claims"].get(claim_id)
        if record is None or (profile and run.get("profile") != profile):
            continue
        rows.append({"run": run.get("run_id"), "profile": run.get("profile"), "model set": run.get("model_set"),
                     "finished": run.get("finished", ""), "measured": record.get("measured"),
                     "verdict": record.get("verdict"), "model": record.get("model") or record.get("model_role"),
                     "_record": record})
    return rows


def _accepted_band(record: Mapping[str, Any]) -> tuple[float, float] | None:
    try:
        from harness.checks import CHECKS

        band = CHECKS[record["check"]].bounds(record.get("spec") or {})
    except (ImportError, KeyError, AttributeError, TypeError, ValueError):
        return None
    return band if band and all(abs(b) != float("inf") for b in band) else None


def plot_history(claim_id: str, rows: Sequence[Mapping[str, Any]]) -> bytes | None:
    """A PNG of the numeric values run by run, one line per profile/model set (and key); None when
    the claim's values are not numbers."""
    points = [(i, f"{r['profile']} / {r['model set']}", numbers(r["measured"])) for i, r in enumerate(rows)]
    if not points or any(p[2] is None for p in points):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for index, view, values in points:
        for key, value in values.items():
            xs, ys = lines.setdefault(f"{view} {key}".strip(), ([], []))
            xs.append(index)
            ys.append(value)
    for label, (xs, ys) in sorted(lines.items()):
        axes.plot(xs, ys, marker="o", label=label)
    band = _accepted_band(rows[-1]["_record"])
    if band:
        axes.axhspan(band[0], band[1], color="green", alpha=0.12, label="accepted by the claim")
    axes.set_xticks(range(len(rows)), [str(r["run"]) for r in rows], rotation=30, ha="right", fontsize=7)
    axes.set_title(claim_id)
    axes.set_ylabel("measured")
    axes.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness history", description=__doc__.split("\n\n")[0])
    parser.add_argument("claim", help="a claim id, e.g. tok.marathi.flores.gpt2")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--profile", help="only runs of this profile")
    parser.add_argument("--no-plot", action="store_true", help="print the values only")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir)
    saved = load_runs(results_dir)
    for message in saved.unreadable:
        print(f"warning: skipped an unreadable saved run: {message}", file=sys.stderr)
    rows = claim_history(saved, args.claim, args.profile)
    if not rows:
        known = sorted({cid for _, data in saved.runs for cid in data["claims"]})
        near = difflib.get_close_matches(args.claim, known, n=5)
        where = f" of profile '{args.profile}'" if args.profile else ""
        hint = f"; did you mean: {', '.join(near)}" if near else ""
        print(f"error: no saved run{where} under {results_dir / 'runs'} measured claim '{args.claim}'{hint}",
              file=sys.stderr)
        return 2
    shown = [{**{k: v for k, v in r.items() if k != "_record"}, "measured": format_value(r["measured"], limit=8)}
             for r in rows]
    print(f"# {args.claim}: {len(rows)} run(s); report's value: {rows[-1]['_record'].get('report_value', '')}\n")
    print(md_table(COLUMNS, shown))
    if not args.no_plot:
        png = plot_history(args.claim, rows)
        if png is None:
            print("\n(no plot: the measured values are not numbers)")
        else:
            out = results_dir / "plots" / f"history-{slug(args.claim)}.png"
            atomic_write_bytes(out, png)
            print(f"\nplot: {out}")
    return 0
