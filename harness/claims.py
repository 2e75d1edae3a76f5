"""The claims catalog: one TOML file per experiment, validated when loaded.

A catalog holds what the report says (statement, value, check kind, tolerance) and, where
the report is known to be wrong, the reason. It never holds measured values.

Every problem is reported as one CatalogError naming the file, the claim id and the field.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks import CHECKS, describe_expectation

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")

# fields every claim may carry, apart from those of its check kind
BASE_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "section": (str,),
    "statement": (str,),
    "measure": (str,),
    "check": (str,),
    "model": (str, list),
    "args": (dict,),
    "refuted": (str,),
    "refuted_in": (list,),
    "table": (str,),
    "labels": (dict,),
    "note": (str,),
    "source": (str,),
}
REQUIRED = ("id", "statement", "measure", "check")
FILE_FIELDS = {"experiment", "section", "title", "claim", "not_checkable", "definitions", "description"}


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names file, claim and field."""

    def __init__(self, path: Path | str, claim_id: str | None, field_name: str | None, problem: str):
        self.path, self.claim_id, self.field_name, self.problem = str(path), claim_id, field_name, problem
        where = f"{path}"
        if claim_id is not None:
            where += f": claim '{claim_id}'"
        if field_name is not None:
            where += f": field '{field_name}'"
        super().__init__(f"catalog error in {where}: {problem}")


@dataclass(frozen=True)
class Claim:
    id: str
    experiment: str
    section: str
    statement: str
    measure: str
    check: str
    spec: Mapping[str, Any]  # the check kind's fields (expected, tolerance, ...)
    models: tuple[str, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)
    refuted: str | None = None  # known refutation: the reason the report is wrong
    refuted_in: tuple[str, ...] = ()  # model sets the refutation applies to (empty: all)
    table: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    source: str | None = None  # citation for a reference value not taken from the report
    path: str = ""

    @property
    def model(self) -> str | None:
        return self.models[0] if self.models else None

    def known_refutation(self, model_set: str) -> str | None:
        """The recorded reason the report is wrong, if it applies to this model set."""
        if self.refuted and (not self.refuted_in or model_set in self.refuted_in):
            return self.refuted
        return None

    @property
    def report_value(self) -> str:
        return describe_expectation(self.check, self.spec)


@dataclass(frozen=True)
class Catalog:
    path: Path
    experiment: str
    title: str
    section: str
    claims: tuple[Claim, ...]
    not_checkable: tuple[Mapping[str, str], ...] = ()
    definitions: Mapping[str, Any] = field(default_factory=dict)  # shared data, e.g. bands

    def by_measure(self, *measures: str) -> list[Claim]:
        return [c for c in self.claims if c.measure in measures]


def _type_names(types: Iterable[type]) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list",
             dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_type(path: Path, cid: str | None, name: str, value: Any, types: tuple[type, ...]) -> None:
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise CatalogError(path, cid, name, f"must be a {_type_names(types)}, got "
                                            f"{type(value).__name__} {value!r}")


def _validate_claim(path: Path, raw: Mapping[str, Any], defaults: Mapping[str, Any],
                    measures: Iterable[str] | None, models: Iterable[str] | None) -> Claim:
    cid = raw.get("id") if isinstance(raw.get("id"), str) else None
    for name in REQUIRED:
        if name not in raw:
            raise CatalogError(path, cid, name, "missing required field")
    _check_type(path, None, "id", raw["id"], (str,))
    if not ID_PATTERN.match(cid):
        raise CatalogError(path, cid, "id", "ids use lower-case letters, digits, '.', '_' and '-'")
    check = raw["check"]
    _check_type(path, cid, "check", check, (str,))
    if check not in CHECKS:
        raise CatalogError(path, cid, "check",
                           f"unknown check kind {check!r}; known kinds: {', '.join(sorted(CHECKS))}")
    kind = CHECKS[check]
    check_fields = {f.name: f for f in kind.fields}
    for name, value in raw.items():
        if name in BASE_FIELDS:
            _check_type(path, cid, name, value, BASE_FIELDS[name])
        elif name in check_fields:
            spec_field = check_fields[name]
            _check_type(path, cid, name, value, spec_field.types)
            if isinstance(value, float) and math.isnan(value):
                raise CatalogError(path, cid, name, "must not be NaN")
            if spec_field.non_negative and value < 0:
                raise CatalogError(path, cid, name, f"must be zero or positive, got {value!r}")
            if spec_field.choices and value not in spec_field.choices:
                raise CatalogError(path, cid, name, f"must be one of {', '.join(spec_field.choices)}, "
                                                    f"got {value!r}")
        else:
            allowed = sorted(set(BASE_FIELDS) | set(check_fields))
            raise CatalogError(path, cid, name, f"unknown field for a '{check}' check; "
                                                f"allowed: {', '.join(allowed)}")
    for spec_field in kind.fields:
        if spec_field.required and spec_field.name not in raw:
            raise CatalogError(path, cid, spec_field.name, f"missing; a '{check}' check needs it")
    if kind.needs_one_of and not any(n in raw for n in kind.needs_one_of):
        raise CatalogError(path, cid, "/".join(kind.needs_one_of),
                           f"a '{check}' check needs at least one of these fields")
    if check == "ordering":
        order = raw["order"]
        if len(order) < 2 or not all(isinstance(k, str) for k in order):
            raise CatalogError(path, cid, "order", "must list at least two names (strings)")
        if len(set(order)) != len(order):
            raise CatalogError(path, cid, "order", "names must not repeat")
    if "tolerance" in raw and "rel_tolerance" in raw:
        raise CatalogError(path, cid, "tolerance", "give either tolerance or rel_tolerance, not both")
    if check == "ratio" and ("tolerance" in raw or "rel_tolerance" in raw) and "expected" not in raw:
        raise CatalogError(path, cid, "expected", "a tolerance needs an expected ratio")
    for low, high in (("min", "max"), ("above", "below"), ("min", "below"), ("above", "max")):
        if low in raw and high in raw and raw[low] > raw[high]:
            raise CatalogError(path, cid, low, f"{low} ({raw[low]}) is greater than {high} ({raw[high]})")

    section = raw.get("section", defaults.get("section"))
    if not section:
        raise CatalogError(path, cid, "section", "missing report section (set it on the claim or "
                                                 "at the top of the file)")
    measure = raw["measure"]
    if measures is not None and measure not in measures:
        raise CatalogError(path, cid, "measure", f"unknown measure {measure!r}; this suite measures: "
                                                 f"{', '.join(sorted(measures))}")
    claim_models = raw.get("model", ())
    claim_models = (claim_models,) if isinstance(claim_models, str) else tuple(claim_models)
    if not all(isinstance(m, str) for m in claim_models):
        raise CatalogError(path, cid, "model", "must be a model role or a list of roles")
    if models is not None:
        unknown = [m for m in claim_models if m not in models]
        if unknown:
            raise CatalogError(path, cid, "model", f"unknown model role(s) {unknown}; known roles: "
                                                   f"{', '.join(sorted(models))}")
    labels = raw.get("labels", {})
    if not all(isinstance(v, str) for v in labels.values()):
        raise CatalogError(path, cid, "labels", "label values must be strings")
    if raw.get("refuted") is not None and not raw["refuted"].strip():
        raise CatalogError(path, cid, "refuted", "a known refutation needs its reason")
    if "refuted_in" in raw:
        if "refuted" not in raw:
            raise CatalogError(path, cid, "refuted_in", "needs a 'refuted' reason")
        from harness.profiles import MODEL_SETS
        bad = [m for m in raw["refuted_in"] if m not in MODEL_SETS]
        if bad:
            raise CatalogError(path, cid, "refuted_in", f"unknown model set(s) {bad}; known: "
                                                        f"{', '.join(MODEL_SETS)}")
    return Claim(
        id=cid, experiment=defaults["experiment"], section=str(section), statement=raw["statement"],
        measure=measure, check=check, spec={k: raw[k] for k in check_fields if k in raw},
        models=claim_models, args=raw.get("args", {}), refuted=raw.get("refuted"),
        refuted_in=tuple(raw.get("refuted_in", ())),
        table=raw.get("table"), labels=labels, note=raw.get("note"), source=raw.get("source"),
        path=str(path),
    )


def load_catalog(path: Path | str, *, measures: Iterable[str] | None = None,
                 models: Iterable[str] | None = None) -> Catalog:
    """Read and validate one catalog file. Raises CatalogError on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(path, None, None, f"cannot read the file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(path, None, None, f"not valid TOML: {exc}") from exc
    for name in data:
        if name not in FILE_FIELDS:
            raise CatalogError(path, None, name, f"unknown top-level field; allowed: "
                                                 f"{', '.join(sorted(FILE_FIELDS))}")
    experiment = data.get("experiment")
    if not isinstance(experiment, str) or not experiment:
        raise CatalogError(path, None, "experiment", "missing or not a string")
    if "section" in data:
        _check_type(path, None, "section", data["section"], (str,))
    raw_claims = data.get("claim", [])
    if not isinstance(raw_claims, list) or not raw_claims:
        raise CatalogError(path, None, "claim", "a catalog needs at least one [[claim]] table")
    defaults = {"experiment": experiment, "section": data.get("section")}
    seen: dict[str, int] = {}
    claims = []
    for index, raw in enumerate(raw_claims):
        if not isinstance(raw, dict):
            raise CatalogError(path, None, f"claim[{index}]", "each claim must be a table")
        claim = _validate_claim(path, raw, defaults, measures, models)
        if claim.id in seen:
            raise CatalogError(path, claim.id, "id", f"duplicate id (claims #{seen[claim.id] + 1} "
                                                     f"and #{index + 1})")
        seen[claim.id] = index
        claims.append(claim)
    not_checkable = data.get("not_checkable", [])
    for index, entry in enumerate(not_checkable):
        if not isinstance(entry, dict) or not isinstance(entry.get("statement"), str) \
                or not isinstance(entry.get("why"), str):
            raise CatalogError(path, None, f"not_checkable[{index}]",
                               "needs a 'statement' and a 'why' (strings)")
    definitions = data.get("definitions", {})
    if not isinstance(definitions, dict):
        raise CatalogError(path, None, "definitions", "must be a table")
    return Catalog(path=path, experiment=experiment, title=str(data.get("title", experiment)),
                   section=str(data.get("section", "")), claims=tuple(claims),
                   not_checkable=tuple(not_checkable), definitions=definitions)


def check_unique_ids(catalogs: Iterable[Catalog]) -> None:
    """Claim ids are unique across all catalogs, so that `-k <id>` selects one claim."""
    owner: dict[str, Path] = {}
    for catalog in catalogs:
        for claim in catalog.claims:
            if claim.id in owner and owner[claim.id] != catalog.path:
                raise CatalogError(catalog.path, claim.id, "id",
                                   f"duplicate id: also defined in {owner[claim.id]}")
            owner[claim.id] = catalog.path
