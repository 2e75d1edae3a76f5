"""Results on disk: claims.json, REPORT.md and one CSV per table, merged with earlier runs.

Layout of a results directory:
  claims.json          every claim's latest record (a partial run replaces only its own claims)
  REPORT.md            per experiment: report-shaped tables, measured tables, plots
  tables/*.csv         one CSV per table
  plots/*.png, *.html  written by suites
  runs/<profile>/<run id>/claims.json   this run's records alone, for comparisons
  runs/<profile>/LATEST                 the newest run id of that profile

Every file is written to a temporary name and renamed, so an interrupted or crashed run leaves
the previous files whole.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from harness.claims import Catalog
from harness.record import HOLDS, HOLDS_BUT_MARKED, REFUTED, REFUTED_KNOWN, Recorder

SCHEMA = 1
VERDICT_ORDER = (HOLDS, REFUTED_KNOWN, REFUTED, HOLDS_BUT_MARKED)


class ResultsError(RuntimeError):
    pass


def atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
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


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def table_csv_name(experiment: str, name: str) -> str:
    return f"{slug(experiment)}__{slug(name)}.csv"


def load_store(results_dir: Path) -> dict[str, Any]:
    """The merged results of earlier runs; an unreadable file is moved aside, never lost."""
    path = results_dir / "claims.json"
    empty = {"schema": SCHEMA, "claims": {}, "tables": {}, "artifacts": {}, "runs": {}}
    if not path.exists():
        return empty
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}")
        for key in empty:
            data.setdefault(key, empty[key])
        return data
    except (OSError, ValueError, AttributeError) as exc:
        aside = path.with_name(f"claims.json.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copyfile(path, aside)
        print(f"[harness] {path} could not be read ({exc}); kept as {aside}")
        return empty


def merge_run(store: dict[str, Any], recorder: Recorder, run_info: Mapping[str, Any]) -> dict[str, Any]:
    for record in recorder.records.values():
        store["claims"][record.id] = asdict(record)
    for table in recorder.tables.values():
        key = f"{table.experiment}/{table.name}"
        store["tables"][key] = {"experiment": table.experiment, "name": table.name,
                                "csv": f"tables/{table_csv_name(table.experiment, table.name)}",
                                "note": table.note, "in_report": table.in_report,
                                "run_id": recorder.run_id}
    for experiment, items in recorder.artifacts.items():
        store["artifacts"].setdefault(experiment, {}).update(items)
    store["runs"][recorder.run_id] = dict(run_info)
    store["latest_run"] = recorder.run_id
    return store


def _fmt_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        if len(value) > 40:
            return "[" + ", ".join(_fmt_cell(v) for v in value[:40]) + f", ... ({len(value)} items)]"
        return "[" + ", ".join(repr(v) if isinstance(v, str) else _fmt_cell(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt_cell(v)}" for k, v in value.items()) + "}"
    return str(value)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(frame: pd.DataFrame) -> str:
    frame = frame.map(lambda v: _md_escape(_fmt_cell(v)) if not isinstance(v, str) else _md_escape(v))
    return frame.to_markdown(index=False)


def _claim_tables(claims: Iterable[Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for claim in claims:
        grouped[claim.get("table") or "Other claims"].append(claim)
    frames = {}
    for name, items in grouped.items():
        rows = []
        for c in items:
            row = dict(c.get("labels") or {})
            if not row:
                row["Claim"] = c["statement"]
            row.update({"Report": c["report_value"], "Measured": _fmt_cell(c["measured"]),
                        "Verdict": c["verdict"], "Model": c.get("model_role") or "", "Id": c["id"]})
            rows.append(row)
        frames[name] = pd.DataFrame(rows)
    return frames


def render_report(store: Mapping[str, Any], results_dir: Path,
                  catalogs: Mapping[str, Catalog]) -> str:
    claims = list(store["claims"].values())
    by_exp: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for claim in claims:
        by_exp[claim["experiment"]].append(claim)
    experiments = sorted(set(by_exp) | {t["experiment"] for t in store["tables"].values()},
                         key=lambda e: (catalogs[e].section if e in catalogs else "9", e))
    run = store["runs"].get(store.get("latest_run"), {})
    lines = ["# LLM internals: the report's claims against measurements", "",
             "Generated by `pytest suites` from the claims catalogs (`suites/*/catalog.toml`). "
             "*Report* is what the source report says; *Measured* is what this run found; "
             "*Verdict* compares them with the check and tolerance the catalog declares. "
             "A `refuted (known)` claim is one the catalog records as wrong, with the reason.", "",
             f"Latest run: `{store.get('latest_run')}` · profile `{run.get('profile')}` · "
             f"model set `{run.get('model_set')}` · seed {run.get('seed')} · "
             f"{run.get('platform', '')}", ""]
    versions = run.get("versions", {})
    if versions:
        lines += ["Library versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    summary = []
    for experiment in experiments:
        counts = Counter(c["verdict"] for c in by_exp[experiment])
        summary.append({"Experiment": experiment, "Claims": len(by_exp[experiment]),
                        **{v: counts.get(v, 0) for v in VERDICT_ORDER}})
    if summary:
        lines += ["## Summary", "", _markdown(pd.DataFrame(summary)), ""]
    for experiment in experiments:
        catalog = catalogs.get(experiment)
        title = catalog.title if catalog else experiment
        lines += [f"## {title}", ""]
        order = {c.id: i for i, c in enumerate(catalog.claims)} if catalog else {}
        ordered = sorted(by_exp[experiment], key=lambda c: (order.get(c["id"], len(order)), c["id"]))
        for name, frame in _claim_tables(ordered).items():
            lines += [f"### {name}", "", _markdown(frame), ""]
        refuted = [c for c in by_exp[experiment] if c["verdict"] in (REFUTED, REFUTED_KNOWN)]
        if refuted:
            lines += ["### Where the report is wrong", ""]
            for c in sorted(refuted, key=lambda c: c["id"]):
                why = f" Why: {c['known_refutation']}" if c.get("known_refutation") else \
                      " (not yet explained in the catalog)"
                lines.append(f"- `{c['id']}`: report: {c['report_value']}; measured: "
                             f"{c['detail']}.{why}")
            lines.append("")
        for _key, meta in sorted(store["tables"].items()):
            if meta["experiment"] != experiment or not meta.get("in_report", True):
                continue
            path = results_dir / meta["csv"]
            if not path.exists():
                continue
            lines += [f"### {meta['name']}", ""]
            if meta.get("note"):
                lines += [meta["note"], ""]
            lines += [_markdown(pd.read_csv(path, keep_default_na=False)), "",
                      f"CSV: `{meta['csv']}`", ""]
        csv_only = [m for m in store["tables"].values()
                    if m["experiment"] == experiment and not m.get("in_report", True)]
        if csv_only:
            lines += ["Full tables (CSV only): " + ", ".join(f"`{m['csv']}` ({m['name']})"
                                                            for m in csv_only), ""]
        for title_, rel in sorted(store["artifacts"].get(experiment, {}).items()):
            if rel.endswith(".png"):
                lines += [f"**{title_}**", "", f"![{title_}]({rel})", ""]
            else:
                lines += [f"- {title_}: [`{rel}`]({rel})", ""]
        if catalog and catalog.not_checkable:
            lines += ["### Statements not checkable from released artefacts", ""]
            lines += [f"- \"{n['statement']}\": {n['why']}" for n in catalog.not_checkable]
            lines.append("")
    machine = run.get("machine")
    if machine:
        lines += ["## This machine's limits (latest run)", "",
                  f"fp32 matrix multiply: {machine['matmul_gflops_fp32']} GFLOP/s; memory copy: "
                  f"{machine['copy_bandwidth_gbs']} GB/s; torch threads: {run.get('torch_threads')}. "
                  "The benchmarks (`pytest suites -m benchmark`) state model throughput as a share of "
                  "these (`share_of_matmul`, `share_of_bandwidth_bound` in their extra_info).", ""]
    targets = run.get("targets", {})
    loads = run.get("model_loads", [])
    if loads:
        frame = pd.DataFrame(loads)
        if "model_load" in targets:
            frame[f"under {targets['model_load']} s"] = frame.load_s < targets["model_load"]
        lines += ["## Model loads (latest run)", "",
                  "Each model is loaded once per pytest session, whatever the number of tests "
                  "that use it. Times are this machine's; GGUF models load from the converted cache, and the "
                  "one-off conversion (first run on a machine) is timed apart.", "", _markdown(frame), ""]
    timing = [{"part": name, "seconds": secs, "target (s)": targets.get(name, ""),
               "within target": "" if name not in targets else secs <= targets[name]}
              for name, secs in sorted(run.get("suite_seconds", {}).items())]
    if run.get("session_seconds") is not None:
        timing.append({"part": "session", "seconds": run["session_seconds"],
                       "target (s)": targets.get("session", ""),
                       "within target": "" if "session" not in targets else
                       run["session_seconds"] <= targets["session"]})
    if timing:
        lines += ["## Run time (latest run)", "",
                  f"Wall time per experiment (fixtures included) on profile `{run.get('profile')}`. "
                  "Targets come from the profile and are reported, never asserted.", "",
                  _markdown(pd.DataFrame(timing)), ""]
    return "\n".join(lines)


def write_results(results_dir: Path, recorder: Recorder, run_info: Mapping[str, Any],
                  catalogs: Mapping[str, Catalog]) -> Path:
    """Merge this run into the results directory; every file is replaced atomically."""
    store = merge_run(load_store(results_dir), recorder, run_info)
    for table in recorder.tables.values():
        frame = pd.DataFrame(table.rows)
        atomic_write(results_dir / "tables" / table_csv_name(table.experiment, table.name),
                     frame.to_csv(index=False))
    for relative, data in recorder.files.items():
        atomic_write_bytes(results_dir / relative, data)
    run_dir = results_dir / "runs" / recorder.profile / recorder.run_id
    this_run = {"schema": SCHEMA, "run": dict(run_info),
                "claims": {r.id: asdict(r) for r in recorder.records.values()}}
    atomic_write(run_dir / "claims.json", json.dumps(this_run, indent=1, ensure_ascii=False))
    atomic_write(results_dir / "runs" / recorder.profile / "LATEST", recorder.run_id + "\n")
    atomic_write(results_dir / "claims.json", json.dumps(store, indent=1, ensure_ascii=False))
    atomic_write(results_dir / "REPORT.md", render_report(store, results_dir, catalogs))
    return results_dir / "REPORT.md"
