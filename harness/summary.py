"""pytest plugin: the verdict summary at the end of a run with claims, in the manner of
pytest-benchmark's table.

    -q        counts per experiment and verdict group: holds, the report is wrong (on its own model or
              vocabulary; known or not yet explained), a stand-in differs (informative), holds against
              the catalog's mark
    (default) + one line per claim that does not hold (id, report's value, measured, model and
              what it stands in for), + where the files are
    -v        + one line per claim that holds

Colour comes from the terminal reporter's markup, so it appears only where the terminal supports it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.experiments import experiment_of
from harness.render import (
    DEFINITION,
    DEFINITION_FAILED,
    GROUP_ORDER,
    HOLDS,
    HOLDS_BUT_MARKED,
    INCONCLUSIVE,
    REFERENCE_DIFFERS,
    REFUTED,
    REFUTED_KNOWN,
    REPORT_WRONG,
    REPORT_WRONG_UNEXPLAINED,
    STAND_IN_DIFFERS,
    format_value,
    model_ran,
    verdict_group,
)
from harness.results import record_dict

COLOUR = {HOLDS: "green", REFUTED_KNOWN: "yellow", REFUTED: "red", HOLDS_BUT_MARKED: "red", INCONCLUSIVE: "yellow"}
NOT_HOLDING = (REFUTED, REFUTED_KNOWN, HOLDS_BUT_MARKED, INCONCLUSIVE)  # listed claim by claim
SHORT = {HOLDS: "holds", REPORT_WRONG: "report wrong", REPORT_WRONG_UNEXPLAINED: "report wrong?",
         STAND_IN_DIFFERS: "stand-in differs", REFERENCE_DIFFERS: "reference differs",
         INCONCLUSIVE: "inconclusive", HOLDS_BUT_MARKED: "holds, marked refuted",
         DEFINITION: "definition", DEFINITION_FAILED: "definition failed"}
LEGEND = ("groups: report wrong = on the report's own model or vocabulary (report wrong? = no reason in the "
          "catalog yet); stand-in differs = on a model standing in for the report's, not a report error; "
          "reference differs = a published figure the claim cites, not the report; "
          "inconclusive = a sampled comparison the run's data establish neither way (skipped, not a pass); "
          "definition = a library identity verified, not counted as evidence")


@dataclass
class RunSummary:
    """What the summary needs from a session: its records and where its files went."""
    records: list[dict[str, Any]]
    profile: str
    model_set: str
    run_id: str
    results_dir: Path | None  # None: results were not to be written (--no-results)
    skipped: Mapping[str, int] = field(default_factory=dict)  # experiment -> skipped tests


Line = tuple[str, dict[str, bool]]  # text and terminal markup


def _is_inconclusive(report: Any) -> bool:
    longrepr = getattr(report, "longrepr", None)
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return f"{INCONCLUSIVE}: claim " in reason  # harness.record.ClaimInconclusive's message


def count_table(summary: RunSummary) -> list[Line]:
    counts: dict[str, Counter[str]] = {}
    for record in summary.records:
        counts.setdefault(record["experiment"], Counter())[verdict_group(record)] += 1
    for experiment in summary.skipped:
        counts.setdefault(experiment, Counter())
    columns = ["experiment", *(SHORT[v] for v in GROUP_ORDER), "skipped"]
    rows = [[e, *(str(counts[e].get(v, 0)) for v in GROUP_ORDER), str(summary.skipped.get(e, 0))]
            for e in sorted(counts)]
    total = ["total", *(str(sum(c.get(v, 0) for c in counts.values())) for v in GROUP_ORDER),
             str(sum(summary.skipped.values()))]
    widths = [max(len(r[i]) for r in [columns, *rows, total]) + 2 for i in range(len(columns))]

    def fmt(cells: Sequence[str]) -> str:
        return cells[0].ljust(widths[0]) + "".join(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))

    header = fmt(columns)
    title = (f" harness claims: profile {summary.profile}, model set {summary.model_set}: "
             f"{len(summary.records)} claims ").center(len(header), "-")
    lines: list[Line] = [(title, {"yellow": True}), (header, {}), ("-" * len(header), {"yellow": True})]
    for row in rows:
        worst = next((v for v in (REPORT_WRONG_UNEXPLAINED, HOLDS_BUT_MARKED) if counts[row[0]].get(v)), None)
        lines.append((fmt(row), {"red": True, "bold": True} if worst else {}))
    lines += [("-" * len(header), {"yellow": True}), (fmt(total), {"bold": True}), (LEGEND, {})]
    return lines


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def claim_line(record: Mapping[str, Any], id_width: int = 0) -> Line:
    model = model_ran(record) or "?"
    group = verdict_group(record)
    text = (f"{SHORT.get(group, group):<22}{record['id']:<{id_width}}  "
            f"report: {_clip(str(record.get('report_value', '')), 40)}  "
            f"measured: {_clip(format_value(record.get('measured'), limit=6), 50)}  model: {_clip(model, 70)}")
    return text, {COLOUR.get(record["verdict"], "red"): True}


def claim_lines(records: Iterable[Mapping[str, Any]], verbosity: int) -> list[Line]:
    shown = [r for r in records if verbosity > 0 or r["verdict"] in NOT_HOLDING]
    order = {v: i for i, v in enumerate((REPORT_WRONG_UNEXPLAINED, HOLDS_BUT_MARKED, REPORT_WRONG,
                                         STAND_IN_DIFFERS, REFERENCE_DIFFERS, INCONCLUSIVE, HOLDS))}
    shown.sort(key=lambda r: (order.get(verdict_group(r), -1), r["id"]))
    if not shown:
        return [("every claim of this run holds", {"green": True})]
    title = "claims" if verbosity > 0 else \
        "claims that do not hold or are inconclusive (or hold against the catalog's mark)"
    width = max(len(r["id"]) for r in shown)
    return [(f"{title}:", {"bold": True}), *(claim_line(r, width) for r in shown)]


def file_lines(summary: RunSummary) -> list[Line]:
    if summary.results_dir is None:
        return [("results: not written (--no-results)", {})]
    run_file = summary.results_dir / "runs" / summary.profile / summary.run_id / "claims.json"
    if not run_file.is_file():
        return [(f"results: this run's records were not written to {summary.results_dir} (see above)",
                 {"red": True})]
    return [(f"results: {summary.results_dir / 'REPORT.md'} (profile {summary.profile}, model set "
             f"{summary.model_set}); claims.json and tables/ beside it", {}),
            (f"this run: {run_file}", {}),
            (f"compare or tabulate runs: python -m harness compare --profile {summary.profile} --results-dir "
             f"{summary.results_dir}; python -m harness matrix --results-dir {summary.results_dir}", {})]


def summary_lines(summary: RunSummary, verbosity: int) -> list[Line]:
    lines = count_table(summary)
    if verbosity >= 0:
        lines += [("", {}), *claim_lines(summary.records, verbosity), ("", {}), *file_lines(summary)]
    return lines


def session_summary(config: pytest.Config, stats: Mapping[str, Sequence[Any]]) -> RunSummary | None:
    """The summary's inputs from the harness session, or None when this is no claims run."""
    if hasattr(config, "workerinput"):
        return None
    from harness.plugin import context

    try:
        ctx = context(config)
    except KeyError:  # the harness plugin is not active in this session
        return None
    if not ctx.recorder.records:
        return None
    # an inconclusive claim skips, but it has a record and its own column: not counted twice
    skipped = Counter(e for e in (experiment_of(getattr(r, "nodeid", "")) for r in stats.get("skipped", ())
                                  if not _is_inconclusive(r)) if e)
    records = [record_dict(r) for r in ctx.recorder.records.values()]
    return RunSummary(records, ctx.profile.name, ctx.model_set, ctx.run_id,
                      ctx.results_dir if ctx.write_results else None, dict(skipped))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary = session_summary(config, terminalreporter.stats)
    if summary is None:
        return
    terminalreporter.write_line("")
    for text, markup in summary_lines(summary, config.option.verbose):
        terminalreporter.write_line(text, **markup)
