"""The one tolerance policy (harness/policy.toml): the report's words and figures -> bounds.

- `approx_bounds(expected, "~0.85")`: the interval a figure as written allows;
- `read_expression("~85–88%")`: ranges and strict bounds;
- `word_rule("significantly")`: what a quantity word requires, and `WordRule.bounds()` as catalog fields;
- `band_edges()` / `band_of(x)`: the similarity bands, from the report's own values;
- `numerical_tolerance(scale)`: fp32 agreement of two computations of one quantity;
- `check_tolerance(claim)`: the problem with a catalog claim's tolerance, or None.

Nothing here looks at a measured value; the reasons for each number are in policy.toml.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

POLICY_PATH = Path(__file__).with_name("policy.toml")
BOUND_FIELDS = ("min", "max", "above", "below")

_FIGURE = re.compile(r"[-−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)")
_RANGE = re.compile(r"^\s*(~?)\s*(\S+?)\s*[-–—]\s*(\S+?)\s*(\D*)$")
_BOUND = re.compile(r"^\s*(<=|>=|≤|≥|<|>)\s*(.+)$")


class PolicyError(ValueError):
    """An expression or word the policy cannot read, or a malformed policy file."""


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float
    low_strict: bool = False
    high_strict: bool = False

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_strict else value >= self.low
        below = value < self.high if self.high_strict else value <= self.high
        return above and below

    def meets(self, low: float, high: float) -> bool:
        """Whether an estimate's confidence interval [low, high] overlaps these bounds ([policy.sampling])."""
        if low > high:
            raise PolicyError(f"interval [{low}, {high}] runs backwards")
        return not (high < self.low or (self.low_strict and high == self.low)
                    or low > self.high or (self.high_strict and low == self.high))


@dataclass(frozen=True)
class WordRule:
    name: str
    scale: str  # "factor", "share" or "count"
    threshold: float
    strict: bool
    upper: float | None = None  # exclusive upper end of a band word ("slightly")

    def bounds(self, direction: str = "up") -> dict[str, float]:
        """Catalog range fields for a claim measured in the word's direction ("up") or against it.

        "down" is a factor comparison the other way (less, lower) or a share of the complement
        ("often ignores" measured as compliance).
        """
        if direction not in ("up", "down"):
            raise PolicyError(f"direction must be 'up' or 'down', got {direction!r}")
        if self.name == "same":
            return {"min": 1 / self.threshold, "max": self.threshold}
        if direction == "up":
            fields = {"above" if self.strict else "min": self.threshold}
            if self.upper is not None:
                fields["below"] = self.upper
            return fields
        if self.scale == "count":
            raise PolicyError(f"'{self.name}' counts items; it has no 'down' reading")
        flip = (lambda t: 1 / t) if self.scale == "factor" else (lambda t: 1 - t)
        fields = {"below" if self.strict else "max": flip(self.threshold)}
        if self.upper is not None:
            fields["above"] = flip(self.upper)
        return fields


@dataclass(frozen=True)
class Policy:
    bare_units: float
    tilde_units: float
    confidence: float
    alpha: float
    words: Mapping[str, WordRule]
    aliases: Mapping[str, str]
    band_order: tuple[str, ...]
    band_floor: float
    band_ceiling: float
    band_values: Mapping[str, tuple[float, ...]]
    relative: float
    scales: tuple[float, ...]


@lru_cache(maxsize=4)
def load_policy(path: Path | str = POLICY_PATH) -> Policy:
    """Read policy.toml; PolicyError naming the file and key if it is malformed."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))["policy"]
        words, aliases = {}, {}
        for name, raw in data["words"].items():
            words[name] = WordRule(name, raw["scale"], float(raw["threshold"]), bool(raw["strict"]),
                                   float(raw["upper"]) if "upper" in raw else None)
            aliases.update({alias: name for alias in raw.get("aliases", [])})
        bands = data["bands"]
        return Policy(
            bare_units=float(data["figures"]["bare_units"]), tilde_units=float(data["figures"]["tilde_units"]),
            confidence=float(data["sampling"]["confidence"]), alpha=float(data["sampling"]["alpha"]),
            words=words, aliases=aliases, band_order=tuple(bands["order"]), band_floor=float(bands["floor"]),
            band_ceiling=float(bands["ceiling"]),
            band_values={k: tuple(float(v) for v in vs) for k, vs in bands["report_values"].items()},
            relative=float(data["numerical"]["relative"]),
            scales=tuple(float(s) for s in data["numerical"]["scales"]))
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PolicyError(f"policy file {path}: cannot use it ({type(exc).__name__}: {exc})") from exc


# --- figures ----------------------------------------------------------------------------

def _figure(text: str) -> tuple[float, float]:
    """(value, one unit in its last significant digit) of the first figure in `text`."""
    match = _FIGURE.search(text)
    if not match:
        raise PolicyError(f"no figure in {text!r}")
    digits = match.group().replace(",", "").replace("−", "-")
    if "." in digits:
        return float(digits), 10.0 ** -len(digits.split(".")[1])
    trailing = len(digits) - len(digits.rstrip("0"))
    return float(digits), 10.0 ** (trailing if digits.strip("-0") else 0)


def _power_of_ten(ratio: float) -> bool:
    return ratio > 0 and math.isclose(10 ** round(math.log10(ratio)), ratio, rel_tol=1e-9)


def approx_bounds(expected: float, digits: str) -> tuple[float, float]:
    """The interval the report's figure `digits` ("~0.85", "0.18", "~2 MB", "~300K") allows.

    `expected` is the same figure in the catalog's unit (0.85, 2000000, 300000); their ratio must
    be a power of ten, which catches a catalog value that is not the report's figure.
    """
    value, unit = _figure(digits)
    units = load_policy().tilde_units if "~" in digits else load_policy().bare_units
    scale = 1.0 if value == expected else (expected / value if value else math.nan)
    if not _power_of_ten(scale):
        raise PolicyError(f"catalog value {expected!r} is not the report's figure {digits!r} in another unit")
    half_width = units * unit * scale
    return expected - half_width, expected + half_width


def read_expression(text: str, scale: float = 1.0) -> Bounds:
    """Bounds for "~X", "X", "A–B", "~A–B", "< X", "> X" (times `scale`, e.g. 0.01 for percent)."""
    policy = load_policy()
    bound = _BOUND.match(text)
    if bound:
        sign, rest = bound.groups()
        value = _figure(rest)[0] * scale
        strict = sign in ("<", ">")
        if sign in ("<", "<=", "≤"):
            return Bounds(-math.inf, value, high_strict=strict)
        return Bounds(value, math.inf, low_strict=strict)
    pair = _RANGE.match(text)
    if pair and _FIGURE.fullmatch(pair.group(2).replace(",", "")):
        tilde, first, second, _ = pair.groups()
        (low, u_low), (high, u_high) = _figure(first), _figure(second)
        if low > high:
            raise PolicyError(f"range {text!r} runs backwards")
        widen = policy.tilde_units if tilde else 0.0
        return Bounds((low - widen * u_low) * scale, (high + widen * u_high) * scale)
    value, unit = _figure(text)
    units = policy.tilde_units if "~" in text else policy.bare_units
    return Bounds((value - units * unit) * scale, (value + units * unit) * scale)


# --- words ------------------------------------------------------------------------------

def word_rule(word: str) -> WordRule:
    """What a quantity word of the report requires (see policy.toml's [policy.words])."""
    policy = load_policy()
    key = word.strip().lower()
    name = key if key in policy.words else policy.aliases.get(key)
    if name is None:
        known = sorted(set(policy.words) | set(policy.aliases))
        raise PolicyError(f"the policy has no rule for {word!r}; known words: {', '.join(known)}")
    return policy.words[name]


# --- bands ------------------------------------------------------------------------------

def band_edges() -> dict[str, tuple[float, float]]:
    """Each band's [low, high) from the report's own values (the top band includes the ceiling)."""
    policy = load_policy()
    order, values = policy.band_order, policy.band_values
    anchored = [i for i, name in enumerate(order) if values.get(name)]
    if not anchored or anchored[0] != 0 or anchored[-1] != len(order) - 1:
        raise PolicyError("the lowest and highest bands need report values to fix the band edges")
    centres: list[tuple[float, ...]] = [values.get(name, ()) for name in order]
    for a, b in zip(anchored, anchored[1:]):
        low, high = max(centres[a]), min(centres[b])
        for step, i in enumerate(range(a + 1, b), start=1):
            centres[i] = (low + (high - low) * step / (b - a),)
    cuts = [(max(lo) + min(hi)) / 2 for lo, hi in zip(centres, centres[1:])]
    edges = [policy.band_floor, *cuts, policy.band_ceiling]
    return {name: (edges[i], edges[i + 1]) for i, name in enumerate(order)}


def band_of(value: float) -> str:
    """The band a similarity falls in."""
    edges = band_edges()
    for name, (low, high) in edges.items():
        if low <= value < high:
            return name
    top = list(edges)[-1]
    if value == edges[top][1]:
        return top
    raise PolicyError(f"similarity {value!r} is outside [{edges[list(edges)[0]][0]}, {edges[top][1]}]")


# --- numerical identities ---------------------------------------------------------------

def numerical_tolerance(scale: float) -> float:
    """max |difference| allowed between two fp32 computations of a quantity of this magnitude."""
    policy = load_policy()
    if scale not in policy.scales:
        raise PolicyError(f"fp32 scale must be one of {', '.join(f'{s:g}' for s in policy.scales)}, got {scale!r}")
    return policy.relative * scale


# --- catalog claims ---------------------------------------------------------------------

def _claim_interval(claim: Mapping[str, Any]) -> tuple[float, float, str]:
    expected = float(claim["expected"])
    if "tolerance" in claim:
        return expected - float(claim["tolerance"]), expected + float(claim["tolerance"]), "tolerance"
    width = abs(expected) * float(claim["rel_tolerance"])
    return expected - width, expected + width, "rel_tolerance"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _check_approx(claim: Mapping[str, Any], where: str) -> str | None:
    have_low, have_high, field = _claim_interval(claim)
    if have_low == have_high:
        return None  # an exact reading ("every character becomes 3") is never looser than the policy's
    written = claim.get("as_written")
    if not isinstance(written, str) or not written.strip():
        return (f"{where}: field 'as_written': an approximate figure needs the report's figure as written "
                f"(e.g. '~0.85') for the policy to set its tolerance, or a tolerance_source")
    try:
        low, high = approx_bounds(float(claim["expected"]), written)
    except PolicyError as exc:
        return f"{where}: field 'as_written': {exc}"
    if _close(have_low, low) and _close(have_high, high):
        return None
    return (f"{where}: field '{field}': allows [{have_low:.6g}, {have_high:.6g}] but the policy reads "
            f"{written!r} as [{low:.6g}, {high:.6g}] (tolerance = {(high - low) / 2:.6g}); use that or "
            f"name a tolerance_source")


def _check_bounds(claim: Mapping[str, Any], where: str) -> str | None:
    given = {f: float(claim[f]) for f in BOUND_FIELDS if f in claim}
    rule = claim.get("policy")
    shown = ", ".join(f"{f} = {v:g}" for f, v in given.items())
    if not isinstance(rule, str) or not rule.strip():
        return (f"{where}: field 'policy': the bounds ({shown}) need the policy rule they come from (a "
                f"quantity word such as 'most' or 'significantly', 'fp32:<scale>', or 'as_written' for the "
                f"report's own range or bound) or a tolerance_source")
    try:
        if rule.startswith("fp32"):
            limit = numerical_tolerance(float(rule.partition(":")[2] or "nan"))
            if set(given) - {"max", "below"} or any(v > limit for v in given.values()):
                return (f"{where}: field 'max': numerical agreement under policy '{rule}' is max <= {limit:g}, "
                        f"the claim has {shown}")
            return None
        if rule == "as_written":
            return _check_written_bounds(claim, given, where)
        word = word_rule(rule)
        readings = [word.bounds("up")] + ([] if word.scale == "count" else [word.bounds("down")])
    except PolicyError as exc:
        return f"{where}: field 'policy': {exc}"
    for reading in readings:
        if set(reading) == set(given) and all(_close(reading[f], given[f]) for f in given):
            return None
    wanted = " or ".join("(" + ", ".join(f"{f} = {v:g}" for f, v in r.items()) + ")" for r in readings)
    return f"{where}: field '{next(iter(given))}': policy word '{rule}' gives {wanted}, the claim has {shown}"


def _check_written_bounds(claim: Mapping[str, Any], given: Mapping[str, float], where: str) -> str | None:
    written = claim.get("as_written")
    if not isinstance(written, str):
        return f"{where}: field 'as_written': policy 'as_written' needs the report's range or bound as written"
    for power in range(-9, 10):
        b = read_expression(written, 10.0 ** power)
        reading = {("above" if b.low_strict else "min"): b.low, ("below" if b.high_strict else "max"): b.high}
        reading = {f: v for f, v in reading.items() if math.isfinite(v)}
        if set(reading) == set(given) and all(_close(reading[f], given[f]) for f in given):
            return None
    b = read_expression(written)
    return (f"{where}: field '{next(iter(given))}': the bounds ({', '.join(f'{f} = {v:g}' for f, v in given.items())}) "
            f"are not {written!r} read by the policy ([{b.low:g}, {b.high:g}] in the report's unit)")


_PROBLEM = re.compile(r"^claim '[^']*': field '([^']+)': (.*)$", re.S)


def tolerance_problem(claim: Mapping[str, Any]) -> tuple[str, str] | None:
    """check_tolerance's finding as (field, problem), for a CatalogError naming the field."""
    problem = check_tolerance(claim)
    if problem is None:
        return None
    match = _PROBLEM.match(problem)
    return (match.group(1), match.group(2)) if match else ("tolerance", problem)


def check_tolerance(claim: Mapping[str, Any]) -> str | None:
    """The problem with a catalog claim's tolerance, or None when it is the policy's (or sourced).

    Approximate figures (`approx`, or `ratio` with an `expected` and a tolerance) must carry the
    report's figure in `as_written` and the tolerance the policy gives it. Range bounds must name
    their rule in `policy`: a quantity word, "fp32:<scale>", or "as_written" (the report's own
    range or bound). A non-empty `tolerance_source` (why another tolerance, with its citation)
    exempts the claim. An `established` check's alpha must be [policy.sampling]'s. Exact, ordering and
    monotonic checks have no tolerance.
    """
    where = f"claim '{claim.get('id', '?')}'"
    if claim.get("check") == "established" and claim.get("alpha") != load_policy().alpha:
        return (f"{where}: field 'alpha': {claim.get('alpha')!r} is not the policy's significance level "
                f"([policy.sampling].alpha = {load_policy().alpha})")
    if "tolerance_source" in claim:
        source = claim["tolerance_source"]
        if isinstance(source, str) and source.strip():
            return None
        return f"{where}: field 'tolerance_source': must name the source (a non-empty string)"
    check = claim.get("check")
    has_tolerance = "tolerance" in claim or "rel_tolerance" in claim
    if check == "approx" or (check == "ratio" and "expected" in claim and has_tolerance):
        return _check_approx(claim, where)
    if check in ("range", "ratio", "established") and any(f in claim for f in BOUND_FIELDS):
        return _check_bounds(claim, where)
    return None
