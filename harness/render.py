"""REPORT.md from a merged view (harness/results.py): one function per section.

Every piece of text from catalogs, records and tables goes through harness/escape.py.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.escape import md_code, md_line, md_link_text, md_text, md_url

HOLDS = "holds"
REFUTED_KNOWN = "refuted (known)"
REFUTED = "refuted"
HOLDS_BUT_MARKED = "holds (catalog marks it refuted)"
# a comparison on sampled data established neither way ([policy.sampling]): neither evidence for the report
# nor against it; its own group, whatever model ran
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured"
VERDICT_ORDER = (HOLDS, REFUTED_KNOWN, REFUTED, HOLDS_BUT_MARKED, INCONCLUSIVE)

# Verdict groups: a claim that does not hold says the report is wrong only when the report's own model or
# vocabulary ran (`stands_for` is None); on a stand-in it says the stand-in differs, which is informative.
REPORT_WRONG = "report wrong"
REPORT_WRONG_UNEXPLAINED = "report wrong (unexplained)"
STAND_IN_DIFFERS = "stand-in differs"
# A claim that checks a published reference (`source`, e.g. MTEB's score) rather than words of the report: a
# failure says the reference and this run differ, which is not an error of the report.
REFERENCE_DIFFERS = "reference differs"
# A definition (a library identity, a formula recomputed) is verified, not evidence about the report: it is
# counted apart, whatever its outcome, so that it can neither support nor refute the report's findings.
DEFINITION = "definition verified"
DEFINITION_FAILED = "definition failed"
GROUP_ORDER = (HOLDS, REPORT_WRONG, REPORT_WRONG_UNEXPLAINED, STAND_IN_DIFFERS, REFERENCE_DIFFERS,
               INCONCLUSIVE, HOLDS_BUT_MARKED, DEFINITION, DEFINITION_FAILED)


def verdict_group(record: Mapping[str, Any]) -> str:
    """The group of a record's verdict (GROUP_ORDER); the verdict itself (and the pytest outcome) is unchanged."""
    verdict = record["verdict"]
    if record.get("evidence") == "definition":
        return DEFINITION if verdict == HOLDS else DEFINITION_FAILED
    if verdict not in (REFUTED, REFUTED_KNOWN):
        return verdict
    if record.get("stands_for"):
        return STAND_IN_DIFFERS
    if record.get("source"):  # the value is a published reference's (the claim's `source`), not the report's
        return REFERENCE_DIFFERS
    return REPORT_WRONG if verdict == REFUTED_KNOWN else REPORT_WRONG_UNEXPLAINED


def model_ran(record: Mapping[str, Any]) -> str:
    """The model that ran, and what it stands in for: "all-MiniLM-L6-v2 (22M), standing in for BERT-base"."""
    model = record.get("model_display") or record.get("model") or record.get("model_role") or ""
    if record.get("stands_for"):
        model += f", standing in for {record['stands_for']}"
    return model


def format_value(value: Any, limit: int = 40) -> str:
    """A measured value as short text: floats to 4 significant digits, long lists cut."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        shown = [repr(v) if isinstance(v, str) else format_value(v, limit) for v in value[:limit]]
        more = f", ... ({len(value)} items)" if len(value) > limit else ""
        return "[" + ", ".join(shown) + more + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {format_value(v, limit)}" for k, v in value.items()) + "}"
    return str(value)


def md_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """A GitHub Markdown table; every header and cell escaped."""
    def cell(value: Any) -> str:
        return md_text(value if isinstance(value, str) else format_value(value))

    lines = ["| " + " | ".join(md_text(c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


# the whole report ------------------------------------------------------------------------------

def render_report(view: Mapping[str, Any], results_dir: Path, catalogs: Mapping[str, Any],
                  matrix: str | None = None) -> str:
    latest = view["runs"].get(view.get("latest_run"), {})
    experiments = _experiments(view, catalogs)
    parts = [header(view, latest), summary(view, experiments, catalogs)]
    parts += [experiment_section(view, results_dir, e, catalogs.get(e)) for e in experiments]
    parts.append(coverage_section(view, catalogs))
    parts.append(policy_section())
    if matrix:
        parts.append(matrix)
    parts += [machine_section(latest), benchmarks_section(results_dir, view["view"]["profile"],
                                                          view["view"]["model_set"]),
              model_loads_section(latest), run_time_section(latest)]
    return "\n".join(p for p in parts if p).rstrip("\n") + "\n"


def _experiments(view: Mapping[str, Any], catalogs: Mapping[str, Any]) -> list[str]:
    names = set(catalogs) | {c["experiment"] for c in view["claims"].values()} | \
        {t["experiment"] for t in view["tables"].values()}
    return sorted(names, key=lambda e: (str(catalogs[e].section) if e in catalogs else "9", e))


def _not_measured_claims(view: Mapping[str, Any], catalogs: Mapping[str, Any]) -> dict[str, list[Any]]:
    missing = set(view.get("not_measured", ()))
    by_exp: dict[str, list[Any]] = defaultdict(list)
    for experiment, catalog in catalogs.items():
        by_exp[experiment] = [c for c in catalog.claims if c.id in missing]
    return by_exp


def header(view: Mapping[str, Any], latest: Mapping[str, Any]) -> str:
    profile, model_set = view["view"]["profile"], view["view"]["model_set"]
    claims = view["claims"].values()
    this_run = sum(1 for c in claims if c.get("run_id") == view.get("latest_run"))
    earlier = len(view["claims"]) - this_run
    lines = ["# LLM internals: the report's claims against measurements", "",
             "Generated by `pytest suites` from the claims catalogs (`suites/*/catalog.toml`). "
             "*Report* is what the source report says; *Measured* is what a run found; *Verdict* compares "
             "them with the check and tolerance the catalog declares; *Run* is the run that measured it. "
             "A `refuted (known)` claim is one the catalog records as wrong, with the reason.", "",
             f"Profile {md_code(profile)} · model set {md_code(model_set)} · latest run "
             f"{md_code(view.get('latest_run'))} · seed {md_text(latest.get('seed'))} · "
             f"{md_text(latest.get('platform', ''))}", "",
             f"{len(view['claims']) + len(view.get('not_measured', ()))} claims in the current catalogs: "
             f"{this_run} measured by the latest run, {earlier} by earlier runs of this profile and model set, "
             f"{len(view.get('not_measured', ()))} not measured in this profile and model set. Only runs of "
             "this profile and model set appear here (`python -m harness matrix` puts profiles side by side).",
             ""]
    versions = latest.get("versions") or {}
    if versions:
        lines += [md_line("Library versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())), ""]
    for message in view.get("unreadable_runs", ()):
        lines += [md_line(f"Warning: a saved run was skipped: {message}"), ""]
    return "\n".join(lines)


def summary(view: Mapping[str, Any], experiments: Sequence[str], catalogs: Mapping[str, Any]) -> str:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for record in view["claims"].values():
        counts[record["experiment"]][verdict_group(record)] += 1
    for experiment, missing in _not_measured_claims(view, catalogs).items():
        counts[experiment][NOT_MEASURED] += len(missing)
    rows = [{"Experiment": e, "Claims": sum(counts[e].values()),
             **{v: counts[e].get(v, 0) for v in (*GROUP_ORDER, NOT_MEASURED)}}
            for e in experiments if sum(counts[e].values())]
    if not rows:
        return ""
    return ("## Summary\n\n*report wrong*: the claim does not hold on the report's own model or vocabulary "
            "(*unexplained*: the catalog records no reason yet). *stand-in differs*: it does not hold on a model "
            "standing in for the report's; informative, not a report error. *reference differs*: a published "
            "figure the claim names as its source (not the report's words) differs from this run. *inconclusive*: "
            "a comparison on sampled data that this run's sample establishes neither way (README, tolerance "
            "policy); neither evidence for the report nor against it. *definition "
            "verified*: a library identity or formula recomputed; it shows the harness measures what it says, "
            "and is not evidence about the report.\n\n" + md_table(list(rows[0]), rows)
            + "\n")


def experiment_section(view: Mapping[str, Any], results_dir: Path, experiment: str, catalog: Any) -> str:
    records = [c for c in view["claims"].values() if c["experiment"] == experiment]
    missing = [c for c in (catalog.claims if catalog else ()) if c.id in set(view.get("not_measured", ()))]
    title = catalog.title if catalog else experiment
    parts = [f"## {md_text(title)}\n", claim_tables(records, missing, catalog, view["view"]),
             refuted_list(records), measured_tables(view, results_dir, experiment),
             artifacts_section(view, experiment), not_checkable_section(catalog)]
    return "\n".join(p for p in parts if p)


def claim_tables(records: Sequence[Mapping[str, Any]], missing: Sequence[Any], catalog: Any,
                 where: Mapping[str, str]) -> str:
    order = {c.id: i for i, c in enumerate(catalog.claims)} if catalog else {}
    not_measured = f"{NOT_MEASURED} in {where['profile']} / {where['model_set']}"
    rows = [(r.get("table"), r["id"], {
        **(r.get("labels") or {"Claim": r["statement"]}), "Report": r["report_value"],
        "Measured": format_value(r["measured"]), "Verdict": r["verdict"], "Model": model_ran(r),
        "Run": r.get("run_id") or "", "Id": r["id"]}) for r in records]
    rows += [(c.table, c.id, {**(dict(c.labels) or {"Claim": c.statement}), "Report": c.report_value,
                              "Measured": "", "Verdict": not_measured, "Model": c.model or "", "Run": "",
                              "Id": c.id}) for c in missing]
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for table, _cid, row in sorted(rows, key=lambda t: (order.get(t[1], len(order)), t[1])):
        grouped[table or "Other claims"].append(row)
    return "\n".join(f"### {md_text(name)}\n\n{md_table(_columns(items), items)}\n"
                     for name, items in grouped.items())


def _refuted_line(r: Mapping[str, Any]) -> str:
    quote = f" The report: \"{md_text(r['quote'])}\"." if r.get("quote") else ""
    model = f" Model: {md_text(model_ran(r))}." if r.get("model") or r.get("model_role") else ""
    if verdict_group(r) == INCONCLUSIVE and r.get("known_refutation"):
        why = f" The catalog marks it refuted, which this run does not establish: {md_text(r['known_refutation'])}"
    elif r.get("known_refutation"):
        why = f" Why: {md_text(r['known_refutation'])}"
    elif verdict_group(r) == INCONCLUSIVE:
        why = f" Note: {md_text(r['note'])}" if r.get("note") else ""
    else:
        why = " (not yet explained in the catalog)"
    return (f"- {md_code(r['id'])}:{quote} Report's value: {md_text(r['report_value'])}; measured: "
            f"{md_text(r.get('detail', ''))}.{model}{why}")


def refuted_list(records: Sequence[Mapping[str, Any]]) -> str:
    """"Where the report is wrong" (its own model or vocabulary ran) and, apart, "Where a stand-in differs"."""
    ordered = sorted(records, key=lambda r: r["id"])
    wrong = [r for r in ordered if verdict_group(r) in (REPORT_WRONG, REPORT_WRONG_UNEXPLAINED)]
    differs = [r for r in ordered if verdict_group(r) == STAND_IN_DIFFERS]
    reference = [r for r in ordered if verdict_group(r) == REFERENCE_DIFFERS]
    undecided = [r for r in ordered if verdict_group(r) == INCONCLUSIVE]
    parts = []
    if wrong:
        parts.append("\n".join(["### Where the report is wrong", "", *map(_refuted_line, wrong)]) + "\n")
    if differs:
        parts.append("\n".join(["### Where a stand-in differs", "",
                                "Measured on a model standing in for the report's; informative, not an error "
                                "of the report.", "", *map(_refuted_line, differs)]) + "\n")
    if reference:
        parts.append("\n".join(["### Where a published reference differs", "",
                                "The claim checks a published figure (its source is named), not words of the report.",
                                "", *map(_refuted_line, reference)]) + "\n")
    if undecided:
        parts.append("\n".join(["### Inconclusive at this run's sample size", "",
                                 "A comparison on sampled data that the sample establishes neither way: not "
                                 "evidence for the report, nor against it.", "", *map(_refuted_line, undecided)])
                     + "\n")
    return "\n".join(parts)


COVERAGE_STATUS = {"covered": "covered", "partly": "partly covered", "not-checkable": "not checkable",
                   "MISSING": "not yet covered"}


def coverage_section(view: Mapping[str, Any], catalogs: Mapping[str, Any]) -> str:
    """Each checkable statement of the report -> its claims with their verdicts in this view, or why it is not
    checkable, or "not yet covered" (from suites/coverage.toml)."""
    from harness.claims import CatalogError
    from harness.coverage import coverage_path, load_coverage

    path = coverage_path(c.path for c in catalogs.values())
    if path is None or not path.is_file():
        return ""
    try:
        coverage = load_coverage(path, {c.id for catalog in catalogs.values() for c in catalog.claims})
    except CatalogError as exc:
        return "## Coverage of the report\n\n" + md_line(f"Not shown: {exc}") + "\n"
    claims = view["claims"]

    def verdicts(ids: Sequence[str]) -> str:
        return "; ".join(f"{cid}: {verdict_group(claims[cid]) if cid in claims else NOT_MEASURED}" for cid in ids)

    counts = Counter(s.status for s in coverage.statements)
    rows = [{"Section": s.section, "The report says": s.text, "Coverage": COVERAGE_STATUS[s.status],
             "Claims (verdict in this view)": verdicts(s.claims),
             "Why not checkable / what is left / note": s.why or s.missing or s.note or ""}
            for s in coverage.statements]
    checkable = len(coverage.statements) - counts["not-checkable"]
    return ("## Coverage of the report\n\n" + md_line(
        f"{len(coverage.statements)} statements of the report ({path.name}): {checkable} checkable, of which "
        f"{counts['covered']} covered, {counts['partly']} partly covered and {counts['MISSING']} not yet covered; "
        f"{counts['not-checkable']} not checkable from released artefacts.") + "\n\n" + md_table(list(rows[0]), rows)
            + "\n" + _findings(coverage, verdicts))


def _findings(coverage: Any, verdicts: Any) -> str:
    """The report's inconsistencies with their measured findings, and how each claim that could not fail was
    resolved (suites/coverage.toml's [[inconsistency]] and [[cannot_fail]])."""
    parts = []
    if coverage.inconsistencies:
        rows = [{"Where": i.name, "The report says": i.text, "Finding": i.finding,
                 "Claims (verdict in this view)": verdicts(i.claims)} for i in coverage.inconsistencies]
        parts.append("### Where the report disagrees with itself\n\n" + md_table(list(rows[0]), rows) + "\n")
    if coverage.cannot_fail:
        rows = [{"Claims": ", ".join(c.claims), "Why they could not fail": c.why,
                 "Resolved": c.resolved or f"open: {c.proposal}", "Evidence now (verdict in this view)": verdicts(c.by)}
                for c in coverage.cannot_fail]
        parts.append("### Claims that could not fail, and what replaced them\n\nA definition verified is listed "
                     "apart and not counted as evidence.\n\n" + md_table(list(rows[0]), rows) + "\n")
    return "\n" + "\n".join(parts) if parts else ""


def measured_tables(view: Mapping[str, Any], results_dir: Path, experiment: str) -> str:
    parts, csv_only = [], []
    for _key, meta in sorted(view["tables"].items()):
        if meta["experiment"] != experiment:
            continue
        if not meta.get("in_report", True):
            csv_only.append(meta)
            continue
        path = results_dir / meta.get("run_csv", meta["csv"])
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        block = [f"### {md_text(meta['name'])}", ""]
        if meta.get("note"):
            block += [md_line(meta["note"]), ""]
        block += [md_table(_columns(rows), rows), "", f"CSV: {md_code(meta['csv'])} (run {md_code(meta['run_id'])})",
                  ""]
        parts.append("\n".join(block))
    if csv_only:
        parts.append("Full tables (CSV only): " + ", ".join(f"{md_code(m['csv'])} ({md_text(m['name'])})"
                                                           for m in csv_only) + "\n")
    return "\n".join(parts)


def artifacts_section(view: Mapping[str, Any], experiment: str) -> str:
    lines = []
    for title, rel in sorted(view["artifacts"].get(experiment, {}).items()):
        if str(rel).endswith(".png"):
            lines += [f"**{md_text(title)}**", "", f"![{md_link_text(title)}]({md_url(rel)})", ""]
        else:
            lines += [f"- {md_text(title)}: [{md_link_text(rel)}]({md_url(rel)})", ""]
    return "\n".join(lines)


def not_checkable_section(catalog: Any) -> str:
    if not catalog or not catalog.not_checkable:
        return ""
    lines = ["### Statements not checkable from released artefacts", ""]
    lines += [f"- \"{md_text(n['statement'])}\": {md_text(n['why'])}" for n in catalog.not_checkable]
    return "\n".join(lines) + "\n"


def machine_section(run: Mapping[str, Any]) -> str:
    machine = run.get("machine")
    if not machine:
        return ""
    return ("## This machine's limits (latest run)\n\n"
            f"fp32 matrix multiply: {md_text(machine.get('matmul_gflops_fp32'))} GFLOP/s; "
            "memory copy, buffers beyond the last-level cache: "
            f"{md_text(machine.get('copy_bandwidth_gbs'))} GB/s; torch threads: {md_text(run.get('torch_threads'))}. "
            "The benchmarks (`pytest suites --benchmark-only`) state model throughput as a share of these "
            "(`share_of_matmul`, `share_of_bandwidth_bound` in their extra_info; the next section's table).\n")


def benchmarks_section(results_dir: Path, profile: str, model_set: str) -> str:
    """Each benchmark's headline figure against its target, from the newest saved benchmark run of this
    profile and model set (harness/benchmarks.py)."""
    from harness.benchmarks import figure_rows, newest

    unreadable: list[Path] = []
    found = newest(results_dir, profile, model_set, unreadable)
    head = "## Benchmarks (newest saved run of this profile)\n\n" + "".join(
        md_line(f"Warning: {path.relative_to(results_dir).as_posix()} is not a readable pytest-benchmark file and "
                "was passed over (if it was the newest run, the table below is an older one).") + "\n\n"
        for path in unreadable)
    if found is None:
        return (head + f"No saved benchmark run of profile {md_code(profile)} under "
                f"{md_code('benchmarks/')} in this results directory: `pytest suites --benchmark-only` "
                "saves one there and writes this table.\n")
    path, data = found
    commit = str((data.get("commit_info") or {}).get("id") or "")[:9]
    rows = figure_rows(data)
    return (head + md_line(
        f"pytest-benchmark run saved {data.get('datetime', '?')}"
        + (f" at commit {commit}" if commit else "") + f" ({path.relative_to(results_dir).as_posix()}). "
        "Each benchmark's headline figure against its target: shares divide by this machine's limits (the "
        "section above) or by a probe run next to the workload, whichever is larger, so a busy machine lowers a "
        "share and never inflates it. Targets are reported, never asserted; the means are pytest-benchmark's "
        "(seconds per round).") + "\n\n" + md_table(list(rows[0]) if rows else ["benchmark"], rows) + "\n")


def model_loads_section(run: Mapping[str, Any]) -> str:
    loads = [dict(load) for load in run.get("model_loads") or ()]
    if not loads:
        return ""
    target = (run.get("targets") or {}).get("model_load")
    for load in loads:
        load["s per load"] = load.get("load_s", math.inf) / max(int(load.get("loads") or 1), 1)
        if target is not None:
            load[f"under {target} s"] = load["s per load"] < target
    return ("## Model loads (latest run)\n\nEach model is loaded once per experiment that uses it, whatever the "
            "number of tests (between experiments the store lets go of its models, so that a session does not hold "
            "them all at once), a causal LM again when the profile's `resident_causal_lms` others were loaded in "
            "between; a tokenizer likewise once per experiment. `load_s` is the sum over its loads, the target "
            "applies to one load. Times are this machine's; GGUF models load from the converted cache, and the "
            "one-off conversion (first run on a machine) is timed apart.\n\n" + md_table(_columns(loads), loads) + "\n")


def run_time_section(run: Mapping[str, Any]) -> str:
    targets = run.get("targets") or {}
    peaks = run.get("suite_peak_rss_mb") or {}

    def row(part: str, seconds: float, peak: Any) -> dict[str, Any]:
        return {"part": part, "seconds": seconds, "target (s)": targets.get(part, ""),
                "within target": "" if part not in targets else seconds <= targets[part], "peak RSS (MB)": peak}

    rows = [row(name, secs, peaks.get(name, "")) for name, secs in sorted((run.get("suite_seconds") or {}).items())]
    one_off = run.get("one_off_s")  # absent in runs recorded before it was kept: then nothing is said
    cache = ""
    if run.get("session_seconds") is not None:
        session = row("session", run["session_seconds"], run.get("peak_rss_mb", ""))
        if one_off:  # a cold run (it built what later runs read from the cache) is held to the cold target
            cold_target = targets.get("session_cold")
            session.update({"target (s)": "" if cold_target is None else cold_target,
                            "within target": "" if cold_target is None else run["session_seconds"] <= cold_target})
            built = "; ".join(f"{what} ({seconds:.0f} s)" for what, seconds in sorted(one_off.items()))
            cache = (f" This run was cold: it built {built} into the cache; "
                     + (f"the session row's target is the cold one ({cold_target} s; warm: "
                        f"{targets.get('session', 'none')} s)." if cold_target is not None else
                        "the profile names no cold target, so the session row has none (its target is for a "
                        "warm run)."))
        elif one_off is not None:
            cache = (" This run built nothing into the harness cache (conversions, fine-tunings, FLORES counts)"
                     + (f"; cold target: {targets['session_cold']} s." if "session_cold" in targets else "."))
        rows.append(session)
    if not rows:
        return ""
    memory = ""
    if run.get("peak_rss_mb") is not None:
        target = targets.get("peak_rss_mb")
        scope = ("the high-water mark from the experiment's first test to its last (restarted as each "
                 "experiment begins: a row is that experiment's own peak, including what earlier experiments "
                 "left resident)" if run.get("peak_rss_per_experiment") else
                 "the process's high-water mark when the experiment's last test ended (a row shows the "
                 "session's peak so far)")
        memory = (f" Peak RSS is {scope}; the session row is the peak of the pytest process and its xdist "
                  "workers (fine-tuning runs in child processes, whose own peak is in the LoRA tables)."
                  + (f" Memory target: {target} MB ({'met' if run['peak_rss_mb'] <= target else 'not met'})."
                     if target else ""))
    return (f"## Run time (latest run)\n\nWall time per experiment (fixtures included) on profile "
            f"{md_code(run.get('profile'))}. Targets come from the profile and are reported, never asserted."
            + md_text(cache + memory) + "\n\n" + md_table(list(rows[0]), rows) + "\n")


def policy_section() -> str:
    """The one tolerance policy (harness/policy.toml) every catalog tolerance comes from."""
    from harness.policy import band_edges, load_policy

    policy = load_policy()
    words = [{"word": name, "also": ", ".join(sorted(a for a, n in policy.aliases.items() if n == name)),
              "scale": rule.scale, "reading": _word_reading(rule)} for name, rule in policy.words.items()]
    bands = [{"band": name, "from": round(low, 3), "to": round(high, 3)} for name, (low, high) in band_edges().items()]
    return ("## Tolerance policy\n\nEvery tolerance in the catalogs is read from the report's own words by one "
            "policy (`harness/policy.toml`, applied when a catalog loads; a claim that needs another names its "
            "source). *u* is one unit of the last digit the report prints: a bare figure allows "
            f"±{policy.bare_units:g} u (its rounding), \"~X\" allows ±{policy.tilde_units:g} u (~0.85 → 0.84–0.86, "
            "~2 MB → 1–3 MB); a count written in full is exact; a range \"A–B\" is inclusive and \"~A–B\" widens "
            f"each end by one unit. A figure compared with an estimate from a sample holds when the estimate's "
            f"{policy.confidence:.0%} interval meets the report's interval, and is refuted when they are disjoint. "
            f"Two fp32 computations of one quantity agree within {policy.relative:g} × its scale.\n\n"
            + md_table(list(words[0]), words) + "\n\nSimilarity bands (the report names them but gives no edges; "
            "edges are midpoints between the report's own values, so none of its values falls outside its band):\n\n"
            + md_table(list(bands[0]), bands) + "\n")


def _word_reading(rule: Any) -> str:
    ratio = {"factor": "ratio", "share": "share", "count": "count"}[rule.scale]
    if rule.name == "same":
        return f"{ratio} within [1/{rule.threshold:g}, {rule.threshold:g}]"
    text = f"{ratio} {'>' if rule.strict else '≥'} {rule.threshold:g}"
    return text + (f" and < {rule.upper:g}" if rule.upper is not None else "")
