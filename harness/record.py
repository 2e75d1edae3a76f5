"""The results collector: one record per claim per run, plus measured tables and artefacts."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from harness.checks import Verdict, decide
from harness.claims import Claim

# the verdicts under their former names (harness.report imports these)
HOLDS, REFUTED = Verdict.HOLDS, Verdict.REFUTED
REFUTED_KNOWN, HOLDS_BUT_MARKED = Verdict.REFUTED_KNOWN, Verdict.HOLDS_BUT_MARKED
INCONCLUSIVE = Verdict.INCONCLUSIVE


class ClaimRefuted(AssertionError):
    """Raised when a measurement contradicts a claim; known refutations expect exactly this."""


class ClaimInconclusive(pytest.skip.Exception):
    """Raised when the sampled data establish a comparison neither way: the test skips with the
    reason (neither a pass nor a failure), and the record keeps the verdict 'inconclusive'."""


@dataclass
class Record:
    id: str
    experiment: str
    section: str
    statement: str
    report_value: str
    check: str
    spec: dict[str, Any]
    measured: Any
    verdict: str
    detail: str
    known_refutation: str | None
    model_role: str | None
    model: str | None
    model_package: str | None
    model_set: str
    profile: str
    seed: int
    run_id: str
    duration_s: float | None
    timestamp: str
    table: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stands_for: str | None = None  # what the packaged model stands in for (ModelSource.stands_for)
    model_revision: str | None = None  # the Hub commit the model came from (hub set)
    model_display: str | None = None  # short name with size, e.g. "all-MiniLM-L6-v2 (22M)" (ModelSource.display)
    quote: str | None = None  # the report's own words the claim checks
    evidence: str = "measurement"  # "definition": verified, listed apart, never counted as evidence


@dataclass
class Table:
    experiment: str
    name: str
    rows: list[dict[str, Any]]
    note: str | None = None
    in_report: bool = True  # False: CSV only (e.g. the 204-language sweep)


@dataclass
class ModelLoad:
    role: str
    kind: str
    model: str
    package: str | None
    loads: int
    load_s: float
    prepare_s: float = 0.0  # one-off conversion into the cache, when this run did it


def jsonable(value: Any) -> Any:
    """Measured values as plain JSON (numpy and torch scalars, tuples, NaN)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return value


def stands_for(claim: Claim, model: Any) -> str | None:
    """What the model that ran stands in for; None when it is the report's own, or the claim holds for any model."""
    if claim.any_model:
        return None
    return claim.stands_for or getattr(model, "stands_for", None)


class Recorder:
    def __init__(self, *, profile: str, model_set: str, seed: int, run_id: str):
        self.profile, self.model_set, self.seed, self.run_id = profile, model_set, seed, run_id
        self.records: dict[str, Record] = {}
        self.tables: dict[tuple[str, str], Table] = {}
        # experiment -> {title: relative path}; files: relative path -> bytes, written at the end
        self.artifacts: dict[str, dict[str, str]] = {}
        self.files: dict[str, bytes] = {}
        self.loads: dict[tuple[str, str], ModelLoad] = {}
        self.call_started: float | None = None
        self.suite_seconds: dict[str, float] = {}  # experiment -> setup + call + teardown time
        self.peak_rss: dict[str, float] = {}  # experiment -> the process's peak RSS (MB) when its tests ended
        # what this run built that later runs read from the cache (conversions, fine-tunings, counts): seconds
        self.one_off: dict[str, float] = {}

    # claims ----------------------------------------------------------------------------

    def check(self, claim: Claim, measured: Any, *, model: Any = None,
              extra: Mapping[str, Any] | None = None) -> Record:
        """Decide a claim from a measurement, keep the record, raise ClaimRefuted if it fails."""
        measured = jsonable(measured)
        try:
            decision = decide(claim.check, claim.spec, measured)
        except (TypeError, KeyError, ValueError) as exc:
            raise TypeError(f"claim {claim.id} ({claim.path}): cannot decide the measurement: {exc}") from None
        known = claim.known_refutation(self.model_set)
        status = Verdict.of(decision.holds, known, decision.inconclusive)
        duration = time.perf_counter() - self.call_started if self.call_started else None
        record = Record(
            id=claim.id, experiment=claim.experiment, section=claim.section,
            statement=claim.statement, report_value=claim.report_value, check=claim.check,
            spec=dict(claim.spec), measured=measured, verdict=str(status), detail=decision.detail,
            known_refutation=known, model_role=getattr(model, "role", claim.model),
            model=getattr(model, "name", None), model_package=getattr(model, "package", None),
            model_set=self.model_set, profile=self.profile, seed=self.seed, run_id=self.run_id,
            duration_s=None if duration is None else round(duration, 4),
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S%z"), table=claim.table,
            labels=dict(claim.labels), note=claim.note, source=claim.source,
            extra=jsonable(dict(extra or {})), stands_for=stands_for(claim, model),
            model_revision=getattr(model, "revision", None), model_display=getattr(model, "display", None),
            quote=claim.quote, evidence=claim.evidence,
        )
        self.records[claim.id] = record
        if decision.inconclusive:
            if known:  # the catalog's mark says more than this run shows: fail, as a strict xpass does
                raise AssertionError(f"claim {claim.id} is marked refuted in the catalog, but this run's data "
                                     f"establish neither way: {decision.detail}\n  the catalog's reason: {known}")
            raise ClaimInconclusive(f"{INCONCLUSIVE}: claim {claim.id}: {decision.detail}")
        if not decision.holds:
            message = (f"claim {claim.id} (report section {claim.section}) does not hold\n"
                       f"  the report says: {claim.statement}\n"
                       f"  report's value:  {claim.report_value}\n"
                       f"  measured:        {decision.detail}")
            if record.model:
                message += f"\n  model:           {record.model}"
            if known:
                message += f"\n  known refutation: {known}"
            raise ClaimRefuted(message)
        return record

    # tables, artefacts and loads ---------------------------------------------------------

    def add_table(self, experiment: str, name: str, rows: Sequence[Mapping[str, Any]], *,
                  note: str | None = None, in_report: bool = True) -> None:
        self.tables[(experiment, name)] = Table(experiment, name, [jsonable(dict(r)) for r in rows],
                                                note, in_report)

    def add_file(self, experiment: str, title: str, relative_path: str, data: bytes) -> None:
        """A plot, page or other file for the results directory, written with the rest at the end."""
        self.artifacts.setdefault(experiment, {})[title] = relative_path
        self.files[relative_path] = data

    def add_figure(self, experiment: str, title: str, name: str, figure: Any) -> None:
        import io

        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight",
                       metadata={"Software": None})  # no version stamp: identical bytes across runs
        plt.close(figure)
        self.add_file(experiment, title, f"plots/{name}.png", buffer.getvalue())

    def note_load(self, role: str, kind: str, model: str, package: str | None, seconds: float,
                  prepare_s: float = 0.0) -> None:
        if prepare_s > 0:  # a conversion ran
            self.note_one_off(f"conversion of {model}", prepare_s)
        key = (role, kind)
        if key in self.loads:
            self.loads[key].loads += 1
            self.loads[key].load_s += seconds
            self.loads[key].prepare_s += prepare_s
        else:
            self.loads[key] = ModelLoad(role, kind, model, package, 1, seconds, prepare_s)

    def note_one_off(self, what: str, seconds: float) -> None:
        """Work a warm cache skips (a GGUF conversion, a fine-tuning, FLORES counts): the run was cold."""
        self.one_off[what] = self.one_off.get(what, 0.0) + seconds

    # transport (pytest-xdist workers -> controller) -------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": [asdict(r) for r in self.records.values()],
            "tables": [asdict(t) for t in self.tables.values()],
            "artifacts": self.artifacts,
            "files": {k: base64.b64encode(v).decode("ascii") for k, v in self.files.items()},
            "loads": [asdict(load) for load in self.loads.values()],
            "suite_seconds": self.suite_seconds,
            "peak_rss": self.peak_rss,
            "one_off": self.one_off,
        }

    def merge_dict(self, data: Mapping[str, Any]) -> None:
        for raw in data.get("records", []):
            self.records[raw["id"]] = Record(**raw)
        for raw in data.get("tables", []):
            self.tables[(raw["experiment"], raw["name"])] = Table(**raw)
        for experiment, items in data.get("artifacts", {}).items():
            self.artifacts.setdefault(experiment, {}).update(items)
        for name, encoded in data.get("files", {}).items():
            self.files[name] = base64.b64decode(encoded)
        for experiment, seconds in data.get("suite_seconds", {}).items():
            self.suite_seconds[experiment] = self.suite_seconds.get(experiment, 0.0) + seconds
        for experiment, mb in data.get("peak_rss", {}).items():
            self.note_peak_rss(experiment, mb)
        for what, seconds in data.get("one_off", {}).items():
            self.note_one_off(what, seconds)
        for raw in data.get("loads", []):
            key = (raw["role"], raw["kind"])
            if key in self.loads:
                self.loads[key].loads += raw["loads"]
                self.loads[key].load_s += raw["load_s"]
                self.loads[key].prepare_s += raw.get("prepare_s", 0.0)
            else:
                self.loads[key] = ModelLoad(**raw)

    def note_peak_rss(self, experiment: str, mb: float | None) -> None:
        if mb is not None:
            self.peak_rss[experiment] = max(mb, self.peak_rss.get(experiment, 0.0))

    def is_empty(self) -> bool:
        return not (self.records or self.tables or self.artifacts)
