"""pytest-benchmark's saved runs (results/benchmarks/) read back: the newest file of a profile and model
set, and REPORT.md's benchmark table, which gives each benchmark's headline figure (a share of this
machine's limits, seconds, a throughput) against its target, from the `extra_info` the benchmark wrote.

Which figures count, in which order, and which way each is read against its target is the data in
FIGURES: a benchmark that writes one of these keys (and the target key beside it) shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    key: str  # extra_info key of the measured figure
    label: str
    target_key: str | None = None  # extra_info key of its target, if it has one
    higher_is_better: bool = True


FIGURES = (
    Figure("share_of_bandwidth_bound", "share of the bandwidth bound", "target_share"),
    Figure("share_of_matmul", "share of fp32 matmul throughput", "target_share"),
    Figure("seconds", "seconds", "target_seconds", higher_is_better=False),
    Figure("examples_per_second", "examples/s"),
    Figure("tokens_per_second", "tokens/s"),
)
DETAILS = ("ms_per_token", "bandwidth_gbs", "threads", "compiled", "compiled_graphs", "first_call_seconds",
           "same_tokens_as_uncompiled", "embedder_gflops", "matmul_gflops")


def saved_files(results_dir: Path, unreadable: list[Path] | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable pytest-benchmark file under results_dir/benchmarks/; the others are passed over and,
    when `unreadable` is given, appended to it (a truncated newest file must not go unnoticed)."""
    for path in sorted((results_dir / "benchmarks").rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):
            yield path, data
        elif unreadable is not None:
            unreadable.append(path)


def profile_of(data: Mapping[str, Any]) -> tuple[str, str | None]:
    machine = data.get("machine_info") or {}
    return str(machine.get("harness_profile") or "unknown"), machine.get("harness_model_set")


def newest(results_dir: Path, profile: str, model_set: str | None = None,
           unreadable: list[Path] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The newest saved file (pytest-benchmark's `datetime`) of this profile (and model set, when given)."""
    best: tuple[str, Path, dict[str, Any]] | None = None
    for path, data in saved_files(results_dir, unreadable):
        own_profile, own_set = profile_of(data)
        if own_profile != profile or (model_set is not None and own_set not in (None, model_set)):
            continue
        when = str(data.get("datetime") or "")
        if best is None or when >= best[0]:
            best = (when, path, data)
    return None if best is None else (best[1], best[2])


def figure_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per benchmark: its mean, its headline figure (the first of FIGURES it reports), the figure's
    target and whether it is met, and the details that say under what it was measured."""
    rows = []
    for bench in data.get("benchmarks", ()):
        extra = bench.get("extra_info") or {}
        row = {"benchmark": bench.get("name", bench.get("fullname", "?")),
               "mean (s)": _short((bench.get("stats") or {}).get("mean")),
               "figure": "", "value": "", "target": "", "within target": ""}
        figure = next((f for f in FIGURES if isinstance(extra.get(f.key), (int, float))), None)
        if figure is not None:
            value = extra[figure.key]
            target = extra.get(figure.target_key) if figure.target_key else None
            row.update(figure=figure.label, value=_short(value))
            if isinstance(target, (int, float)):
                row["target"] = f"{'>=' if figure.higher_is_better else '<='} {_short(target)}"
                row["within target"] = value >= target if figure.higher_is_better else value <= target
        row["details"] = ", ".join(f"{k} {_short(extra[k])}" for k in DETAILS if k in extra)
        rows.append(row)
    return rows


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value
