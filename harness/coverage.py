"""The report's coverage (suites/coverage.toml): each checkable statement of the report -> the claims that
check it, or why it is not checkable, or "not yet covered"; and issue 10's lists ([[cannot_fail]] with how each
entry was resolved, [[inconsistency]], [[stand_in]]). Validated when loaded; errors name the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.claims import CatalogError, read_toml
from harness.quotes import find_quote

COVERAGE_FILE = "coverage.toml"
STATUSES = ("covered", "partly", "not-checkable", "MISSING")
TABLES = ("statement", "cannot_fail", "inconsistency", "stand_in")  # every table may name claims
CLAIM_LISTS = ("claims", "by")  # fields that list claim ids (`by`: the claims that resolved a cannot_fail entry)


@dataclass(frozen=True)
class Statement:
    section: str
    text: str
    status: str
    claims: tuple[str, ...]
    why: str | None = None  # not checkable: the reason
    missing: str | None = None  # partly covered: what is left
    note: str | None = None


@dataclass(frozen=True)
class CannotFail:
    """Claims that cannot fail (issue 10): why, and either how it was resolved (`resolved`, with the claims that
    now carry the evidence in `by`) or a proposal still open."""
    claims: tuple[str, ...]
    why: str
    resolved: str | None = None
    by: tuple[str, ...] = ()
    proposal: str | None = None


@dataclass(frozen=True)
class Inconsistency:
    """Where the report disagrees with itself (or a reading of it needs a choice), with the measured finding."""
    name: str
    text: str
    finding: str
    claims: tuple[str, ...] = ()


@dataclass(frozen=True)
class Coverage:
    path: Path
    statements: tuple[Statement, ...]
    cannot_fail: tuple[CannotFail, ...] = ()
    inconsistencies: tuple[Inconsistency, ...] = ()

    @property
    def unresolved(self) -> tuple[CannotFail, ...]:
        return tuple(entry for entry in self.cannot_fail if entry.resolved is None)


def coverage_path(catalog_paths: Iterable[Path | str]) -> Path | None:
    """suites/coverage.toml, found beside the suites' folders (None without catalogs)."""
    for path in catalog_paths:
        return Path(path).resolve().parent.parent / COVERAGE_FILE
    return None


def _string(path: Path, where: str, entry: Mapping[str, Any], name: str, required: bool = False) -> str | None:
    value = entry.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(path, None, f"{where}.{name}", "must be a non-empty string")
    return value


def load_coverage(path: Path | str, claim_ids: Iterable[str], report_text: str | None = None) -> Coverage:
    """Read and validate the coverage file: known statuses, every claim id it names in `claim_ids`, and (with
    `report_text`) every statement's text found in the report. Raises CatalogError naming the file."""
    path = Path(path)
    data = read_toml(path)
    known = set(claim_ids)
    for table in TABLES:
        entries = data.get(table, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise CatalogError(path, None, table, "must be an array of tables ([[...]])")
        for index, entry in enumerate(entries):
            for field in CLAIM_LISTS:
                claims = entry.get(field, [])
                if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
                    raise CatalogError(path, None, f"{table}[{index}].{field}", "must be a list of claim ids")
                unknown = [c for c in claims if c not in known]
                if unknown:
                    raise CatalogError(path, unknown[0], f"{table}[{index}].{field}",
                                       f"no catalog has this claim id (unknown: {unknown})")
    statements = []
    for index, entry in enumerate(data.get("statement", [])):
        where = f"statement[{index}]"
        text = _string(path, where, entry, "text", required=True)
        status = entry.get("status")
        if status not in STATUSES:
            raise CatalogError(path, None, f"{where}.status", f"{status!r} is not one of {', '.join(STATUSES)}")
        if status == "not-checkable":
            _string(path, where, entry, "why", required=True)
        if status in ("covered", "partly") and not entry.get("claims") and not entry.get("note"):
            raise CatalogError(path, None, f"{where}.claims", f"a '{status}' statement names its claims (or, "
                                                              f"covered otherwise, says how in 'note')")
        if report_text is not None and not find_quote(text, report_text):
            raise CatalogError(path, None, f"{where}.text", f"not found in the report: {text!r}")
        statements.append(Statement(section=str(entry.get("section", "")), text=text, status=status,
                                    claims=tuple(entry.get("claims", ())), why=_string(path, where, entry, "why"),
                                    missing=_string(path, where, entry, "missing"),
                                    note=_string(path, where, entry, "note")))
    if not statements:
        raise CatalogError(path, None, "statement", "a coverage file needs at least one [[statement]]")
    return Coverage(path=path, statements=tuple(statements), cannot_fail=_cannot_fail(path, data),
                    inconsistencies=_inconsistencies(path, data))


def _inconsistencies(path: Path, data: Mapping[str, Any]) -> tuple[Inconsistency, ...]:
    entries = []
    for index, entry in enumerate(data.get("inconsistency", [])):
        where = f"inconsistency[{index}]"
        entries.append(Inconsistency(name=_string(path, where, entry, "name", required=True),
                                     text=_string(path, where, entry, "text", required=True),
                                     finding=_string(path, where, entry, "finding") or entry.get("why", "") or "",
                                     claims=tuple(entry.get("claims", ()))))
    return tuple(entries)


def _cannot_fail(path: Path, data: Mapping[str, Any]) -> tuple[CannotFail, ...]:
    """[[cannot_fail]]: claims and why; then `resolved` (how: a definition, re-measured, replaced by `by`) or, while
    open, a `proposal`. `by` only with `resolved`."""
    entries = []
    for index, entry in enumerate(data.get("cannot_fail", [])):
        where = f"cannot_fail[{index}]"
        if not entry.get("claims"):
            raise CatalogError(path, None, f"{where}.claims", "names the claims that cannot fail")
        why = _string(path, where, entry, "why", required=True)
        resolved = _string(path, where, entry, "resolved")
        proposal = _string(path, where, entry, "proposal")
        if resolved is None and proposal is None:
            raise CatalogError(path, None, f"{where}.resolved", "says how it was resolved (or, while open, "
                                                                  "'proposal' says what would resolve it)")
        if entry.get("by") and resolved is None:
            raise CatalogError(path, None, f"{where}.by", "names the resolving claims only with 'resolved'")
        entries.append(CannotFail(claims=tuple(entry["claims"]), why=why, resolved=resolved,
                                  by=tuple(entry.get("by", ())), proposal=proposal))
    return tuple(entries)
