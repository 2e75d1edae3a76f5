"""Fake recorder, records and catalogs for the results self-tests (no models, no pytest session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.record import Record

FAKE_RECORD_DEFAULTS: dict[str, Any] = {
    "experiment": "demo", "section": "9", "statement": "a statement", "report_value": "1", "check": "approx",
    "measured": 1.0, "verdict": "holds", "detail": "expected 1 +/- 0.1, measured 1", "known_refutation": None,
    "model_role": "bert", "model": "a model", "model_package": "a-package", "model_set": "packaged",
    "profile": "ci", "seed": 0, "run_id": "r1", "duration_s": 0.1, "timestamp": "2026-01-01T00:00:00+0000",
}


def FakeRecord(id: str, **fields: Any) -> Record:  # noqa: N802 - reads like the class it stands for
    """The harness's own Record with defaults for every required field (so the fake never drifts from it)."""
    spec = fields.pop("spec", {"expected": 1.0, "tolerance": 0.1})
    return Record(id=id, spec=dict(spec), **{**FAKE_RECORD_DEFAULTS, **fields})


@dataclass
class FakeTable:
    experiment: str
    name: str
    rows: list[dict[str, Any]]
    note: str | None = None
    in_report: bool = True


class FakeRecorder:
    def __init__(self, run_id: str, profile: str = "ci", model_set: str = "packaged", records=(), tables=()):
        self.run_id, self.profile, self.model_set, self.seed = run_id, profile, model_set, 0
        self.records = {}
        for r in records:
            r.run_id, r.profile, r.model_set = run_id, profile, model_set
            self.records[r.id] = r
        self.tables = {(t.experiment, t.name): t for t in tables}
        self.artifacts: dict[str, dict[str, str]] = {}
        self.files: dict[str, bytes] = {}


@dataclass(frozen=True)
class FakeClaim:
    id: str
    statement: str = "a statement"
    report_value: str = "1"
    table: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    model: str | None = "bert"


@dataclass
class FakeCatalog:
    experiment: str
    claims: tuple[FakeClaim, ...]
    title: str = "Demo"
    section: str = "9"
    not_checkable: tuple[dict[str, str], ...] = ()
    path: Path = Path("catalog.toml")


def catalogs(*ids: str, experiment: str = "demo") -> dict[str, FakeCatalog]:
    return {experiment: FakeCatalog(experiment, tuple(FakeClaim(i) for i in ids))}


def run_info(run_id: str, finished: str, profile: str = "ci", model_set: str = "packaged") -> dict[str, Any]:
    return {"run_id": run_id, "profile": profile, "model_set": model_set, "seed": 0, "finished": finished,
            "platform": "Linux test"}
