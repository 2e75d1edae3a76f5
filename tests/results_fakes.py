"""Fake recorder, records and catalogs for the results self-tests (no models, no pytest session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FakeRecord:
    id: str
    experiment: str = "demo"
    section: str = "9"
    statement: str = "a statement"
    report_value: str = "1"
    check: str = "approx"
    spec: dict[str, Any] = field(default_factory=lambda: {"expected": 1.0, "tolerance": 0.1})
    measured: Any = 1.0
    verdict: str = "holds"
    detail: str = "expected 1 +/- 0.1, measured 1"
    known_refutation: str | None = None
    model_role: str | None = "bert"
    model: str | None = "a model"
    model_package: str | None = "a-package"
    model_set: str = "packaged"
    profile: str = "ci"
    seed: int = 0
    run_id: str = "r1"
    duration_s: float | None = 0.1
    timestamp: str = "2026-01-01T00:00:00+0000"
    table: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stands_for: str | None = None


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
