"""The claims catalog: one TOML file per experiment, validated when loaded.

A catalog holds what the report says (statement, value, check kind, tolerance) and, where
the report is known to be wrong, the reason. It never holds measured values.

Every problem is reported as one CatalogError naming the file, the claim id and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks import CHECKS, SpecError, describe_expectation
from harness.policy import PolicyError, tolerance_problem
from harness.quotes import QuoteError, check_quote, find_quote

Report = tuple[Path | str, str]  # the report's path and text, for validating quotes

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")

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
    "stands_for": (str,),
    "quote": (str,),
    # the tolerance's reading under harness/policy.toml (see harness/policy.check_tolerance)
    "as_written": (str,),  # the report's figure or range as printed ("~0.85", "85–88%")
    "policy": (str,),  # the rule a range's bounds come from: a quantity word, "fp32:<scale>", "as_written"
    "tolerance_source": (str,),  # why another tolerance, with its citation (exempts from the policy)
    # "measurement" (default) or "definition": a definition verified (a library identity or formula) is
    # listed apart and never counted as evidence for or against the report
    "evidence": (str,),
    # true when the statement holds or fails on any model of its kind (e.g. "Q, K, V = token embeddings"):
    # a refutation is then the report's error whichever model ran, never "stand-in differs"
    "any_model": (bool,),
}
EVIDENCE = ("measurement", "definition")
EXPANSION_FIELDS = {"models": (list,), "per_model": (dict,)}  # one claim per listed role
MERGED_FIELDS = ("labels", "args")  # per-model values are merged into the claim's, not replacing them
REQUIRED = ("id", "statement", "measure", "check")
FILE_FIELDS = {"experiment", "section", "title", "claim", "not_checkable", "definitions", "description", "defaults"}


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
    # the report model this claim is about, where it differs from what the role stands in for elsewhere
    stands_for: str | None = None
    quote: str | None = None  # the report's own words this claim checks (validated against the report)
    evidence: str = "measurement"  # or "definition": verified, but not evidence about the report
    as_written: str | None = None  # the report's figure as printed, which the policy's tolerance reads
    policy: str | None = None  # the policy rule a range's bounds come from
    tolerance_source: str | None = None
    any_model: bool = False
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
        """The report's value as the check reads it, with the policy rule that set its tolerance."""
        value = describe_expectation(self.check, self.spec)
        if self.tolerance_source:
            return f"{value} (tolerance: see source)"
        if self.as_written and self.policy in (None, "as_written"):
            return f"{value} (report: {self.as_written})"
        if self.policy and self.policy.startswith("fp32"):
            return f"{value} (fp32 rounding)"
        if self.policy:
            return f"{value} ('{self.policy}')"
        return value


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


def _check_quote(path: Path, cid: str, raw: Mapping[str, Any], report: Report) -> None:
    """A claim quotes the report (`quote`, found in it), or names the published paper it checks (`source`)."""
    report_path, report_text = report
    if "quote" in raw:
        try:
            check_quote(cid, raw["quote"], report_text, report_path)
        except QuoteError as exc:
            raise CatalogError(path, cid, "quote", f"{exc.problem} (report: {report_path})") from None
    elif not (isinstance(raw.get("source"), str) and raw["source"].strip()):
        raise CatalogError(path, cid, "quote", f"missing: quote the words of the report ({report_path}) this "
                                               f"claim checks, or name the published paper its value comes "
                                               f"from in 'source'")


def _validate_claim(path: Path, raw: Mapping[str, Any], defaults: Mapping[str, Any],
                    measures: Iterable[str] | None, models: Iterable[str] | None,
                    report: Report | None = None) -> Claim:
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
    check_fields = {f.name for f in kind.fields}
    for name, value in raw.items():
        if name in BASE_FIELDS:
            _check_type(path, cid, name, value, BASE_FIELDS[name])
        elif name not in check_fields:
            allowed = sorted(set(BASE_FIELDS) | check_fields | set(EXPANSION_FIELDS))
            raise CatalogError(path, cid, name, f"unknown field for a '{check}' check; "
                                                f"allowed: {', '.join(allowed)}")
    spec = {f.name: raw[f.name] for f in kind.fields if f.name in raw}
    try:
        kind.validate(spec)
    except SpecError as exc:
        raise CatalogError(path, cid, exc.field, exc.problem) from None
    expected = spec.get("expected")
    if check == "exact" and isinstance(expected, str) and NUMBER_TEXT.match(expected):
        raise CatalogError(path, cid, "expected", f"{expected!r} is a number written as text; write it "
                                                  f"without quotes (an exact count is compared as a number)")

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
    if raw.get("evidence", "measurement") not in EVIDENCE:
        raise CatalogError(path, cid, "evidence", f"must be one of {', '.join(EVIDENCE)}, got {raw['evidence']!r}")
    try:
        problem = tolerance_problem(raw)
    except PolicyError as exc:
        raise CatalogError(path, cid, "policy", str(exc)) from None
    if problem:
        raise CatalogError(path, cid, *problem)
    if report is not None:
        _check_quote(path, cid, raw, report)
        written = raw.get("as_written")
        if written and not raw.get("tolerance_source") and not find_quote(written, report[1]):
            raise CatalogError(path, cid, "as_written", f"{written!r} is not written in the report "
                                                        f"({report[0]}): give the figure as the report prints it")
    return Claim(
        id=cid, experiment=defaults["experiment"], section=str(section), statement=raw["statement"],
        measure=measure, check=check, spec=spec,
        models=claim_models, args=raw.get("args", {}), refuted=raw.get("refuted"),
        refuted_in=tuple(raw.get("refuted_in", ())),
        table=raw.get("table"), labels=labels, note=raw.get("note"), source=raw.get("source"),
        stands_for=raw.get("stands_for"),
        quote=raw.get("quote"), evidence=raw.get("evidence", "measurement"),
        as_written=raw.get("as_written"), policy=raw.get("policy"),
        tolerance_source=raw.get("tolerance_source"), any_model=raw.get("any_model", False), path=str(path),
    )


def expand(path: Path, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One raw claim per role of `models`, with the catalog's [defaults] filled in.

    `id` may hold `{model}` (replaced by the role); `per_model.<role>` overrides any field for that
    role, the whole `id` included; its `labels` and `args` are merged with the claim's (its own keys
    first, so a per-model label column comes before the shared ones).
    """
    cid = raw.get("id") if isinstance(raw.get("id"), str) else None
    base = {**{k: v for k, v in defaults.items() if k != "id"}, **raw}
    if "models" not in raw:
        if "per_model" in raw:
            raise CatalogError(path, cid, "per_model", "needs a 'models' list naming the roles")
        return [base]
    for name, types in EXPANSION_FIELDS.items():
        if name in raw:
            _check_type(path, cid, name, raw[name], types)
    roles, per_model = raw["models"], raw.get("per_model", {})
    if not roles or not all(isinstance(r, str) for r in roles) or len(set(roles)) != len(roles):
        raise CatalogError(path, cid, "models", "must list model roles (strings), each once")
    if "model" in raw:
        raise CatalogError(path, cid, "model", "give either 'model' or 'models' (one claim per role), not both")
    stray = [r for r in per_model if r not in roles]
    if stray:
        raise CatalogError(path, cid, "per_model", f"role(s) {stray} are not in 'models' {roles}")
    expanded = []
    for role in roles:
        overrides = per_model.get(role, {})
        if not isinstance(overrides, dict):
            raise CatalogError(path, cid, f"per_model.{role}", "must be a table of overrides")
        claim = {k: v for k, v in base.items() if k not in EXPANSION_FIELDS}
        for name, value in overrides.items():
            if name in MERGED_FIELDS and isinstance(value, dict) and isinstance(claim.get(name), dict):
                claim[name] = {**value, **{k: v for k, v in claim[name].items() if k not in value}}
            else:
                claim[name] = value
        if "id" not in overrides and isinstance(claim.get("id"), str):
            if "{model}" not in claim["id"]:
                raise CatalogError(path, cid, "id", "an id shared by several models needs '{model}' in it "
                                                    "(or an id per model under per_model)")
            claim["id"] = claim["id"].replace("{model}", role)
        claim["model"] = role
        expanded.append(claim)
    return expanded


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise CatalogError(path, None, None, f"cannot read the file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(path, None, None, f"not a UTF-8 text file (byte {exc.start}: "
                                             f"{exc.object[exc.start:exc.start + 1]!r})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(path, None, None, f"not valid TOML: {exc}") from exc


def load_catalog(path: Path | str, *, measures: Iterable[str] | None = None,
                 models: Iterable[str] | None = None, report: Report | None = None) -> Catalog:
    """Read and validate one catalog file. Raises CatalogError on the first problem.

    With `report` (its path and text), every claim must quote it (`quote`, found in the text after
    harness.quotes.normalise) or name a published `source` instead.
    """
    path = Path(path)
    data = read_toml(path)
    for name in data:
        if name not in FILE_FIELDS:
            raise CatalogError(path, None, name, f"unknown top-level field; allowed: "
                                                 f"{', '.join(sorted(FILE_FIELDS))}")
    experiment = data.get("experiment")
    if not isinstance(experiment, str) or not experiment:
        raise CatalogError(path, None, "experiment", "missing or not a string")
    if "section" in data:
        _check_type(path, None, "section", data["section"], (str,))
    claim_defaults = data.get("defaults", {})
    _check_type(path, None, "defaults", claim_defaults, (dict,))
    raw_claims = data.get("claim", [])
    if not isinstance(raw_claims, list) or not raw_claims:
        raise CatalogError(path, None, "claim", "a catalog needs at least one [[claim]] table")
    defaults = {"experiment": experiment, "section": data.get("section")}
    seen: dict[str, int] = {}
    claims = []
    for index, entry in enumerate(raw_claims):
        if not isinstance(entry, dict):
            raise CatalogError(path, None, f"claim[{index}]", "each claim must be a table")
        for raw in expand(path, entry, claim_defaults):
            claim = _validate_claim(path, raw, defaults, measures, models, report)
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
