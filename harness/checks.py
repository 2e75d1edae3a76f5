"""Check kinds: how a measured value is compared with the report's value.

Each check kind declares the catalog fields it needs (with their types) and a function
that turns (claim fields, measured value) into a Verdict. The catalog loader uses the
field declarations to validate entries before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Number = (int, float)


@dataclass(frozen=True)
class Verdict:
    holds: bool
    detail: str  # what was compared, in words, for failure messages and the report


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[type, ...]
    required: bool = True
    non_negative: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckKind:
    name: str
    fields: tuple[Field, ...]
    decide: Callable[[Mapping[str, Any], Any], Verdict]
    describe: Callable[[Mapping[str, Any]], str]  # the report's value as a short string
    needs_one_of: tuple[str, ...] = ()  # at least one of these fields must be present


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _require_number(value: Any, what: str) -> float:
    if not _is_number(value) or math.isnan(value):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return float(value)


# exact ---------------------------------------------------------------------------------

def _exact(spec: Mapping[str, Any], measured: Any) -> Verdict:
    expected = spec["expected"]
    if isinstance(expected, list):
        measured = list(measured)
    holds = measured == expected
    return Verdict(holds, f"expected exactly {_fmt(expected)}, measured {_fmt(measured)}")


# approx --------------------------------------------------------------------------------

def _approx_bounds(spec: Mapping[str, Any]) -> tuple[float, float]:
    expected = float(spec["expected"])
    if "tolerance" in spec:
        tol = float(spec["tolerance"])
    else:
        tol = abs(expected) * float(spec["rel_tolerance"])
    return expected - tol, expected + tol


def _approx(spec: Mapping[str, Any], measured: Any) -> Verdict:
    value = _require_number(measured, "measured value")
    low, high = _approx_bounds(spec)
    holds = low <= value <= high
    return Verdict(holds, f"expected {_describe_approx(spec)} (i.e. {low:.4g}..{high:.4g}), "
                          f"measured {value:.4g}")


def _describe_approx(spec: Mapping[str, Any]) -> str:
    if "tolerance" in spec:
        return f"{_fmt(spec['expected'])} ± {_fmt(spec['tolerance'])}"
    return f"{_fmt(spec['expected'])} ± {float(spec['rel_tolerance']) * 100:g}%"


# range ---------------------------------------------------------------------------------

def _in_range(spec: Mapping[str, Any], value: float) -> bool:
    if "min" in spec and not value >= spec["min"]:
        return False
    if "max" in spec and not value <= spec["max"]:
        return False
    if "above" in spec and not value > spec["above"]:
        return False
    if "below" in spec and not value < spec["below"]:
        return False
    return True


def _describe_range(spec: Mapping[str, Any]) -> str:
    parts = []
    for key, sign in (("min", ">="), ("above", ">"), ("max", "<="), ("below", "<")):
        if key in spec:
            parts.append(f"{sign} {_fmt(spec[key])}")
    return " and ".join(parts)


def _range(spec: Mapping[str, Any], measured: Any) -> Verdict:
    value = _require_number(measured, "measured value")
    return Verdict(_in_range(spec, value), f"expected {_describe_range(spec)}, measured {value:.4g}")


# ratio ---------------------------------------------------------------------------------

def _ratio(spec: Mapping[str, Any], measured: Any) -> Verdict:
    if not isinstance(measured, Mapping) or set(measured) != {"numerator", "denominator"}:
        raise TypeError("a ratio check needs {'numerator': x, 'denominator': y}, "
                        f"got {measured!r}")
    num = _require_number(measured["numerator"], "numerator")
    den = _require_number(measured["denominator"], "denominator")
    if den == 0:
        return Verdict(False, f"denominator is 0 (numerator {num:.4g})")
    value = num / den
    if "expected" in spec:
        low, high = _approx_bounds(spec) if ("tolerance" in spec or "rel_tolerance" in spec) \
            else (float(spec["expected"]), float(spec["expected"]))
        holds = low <= value <= high
        want = _describe_approx(spec) if low != high else _fmt(spec["expected"])
    else:
        holds = _in_range(spec, value)
        want = _describe_range(spec)
    return Verdict(holds, f"expected ratio {want}, measured {num:.4g} / {den:.4g} = {value:.4g}")


def _describe_ratio(spec: Mapping[str, Any]) -> str:
    if "expected" in spec:
        if "tolerance" in spec or "rel_tolerance" in spec:
            return "ratio " + _describe_approx(spec)
        return f"ratio {_fmt(spec['expected'])}"
    return "ratio " + _describe_range(spec)


# ordering ------------------------------------------------------------------------------

def _ordering(spec: Mapping[str, Any], measured: Any) -> Verdict:
    order: Sequence[str] = spec["order"]
    if not isinstance(measured, Mapping):
        raise TypeError(f"an ordering check needs a mapping of name -> value, got {measured!r}")
    missing = [k for k in order if k not in measured]
    if missing:
        raise KeyError(f"ordering check: no measured value for {missing}")
    values = [_require_number(measured[k], f"value of {k!r}") for k in order]
    strict = spec.get("strict", True)
    pairs = zip(values, values[1:])
    holds = all(a > b if strict else a >= b for a, b in pairs)
    sign = " > " if strict else " >= "
    shown = sign.join(f"{k} ({v:.4g})" for k, v in zip(order, values))
    return Verdict(holds, f"expected {sign.join(order)}; measured {shown}")


# monotonic -----------------------------------------------------------------------------

def _monotonic(spec: Mapping[str, Any], measured: Any) -> Verdict:
    if isinstance(measured, Mapping):
        labels, values = list(measured), list(measured.values())
    else:
        values = list(measured)
        labels = [str(i) for i in range(len(values))]
    values = [_require_number(v, "series value") for v in values]
    increasing = spec["direction"] == "increasing"
    strict = spec.get("strict", True)
    broken = []
    for (la, a), (lb, b) in zip(zip(labels, values), zip(labels[1:], values[1:])):
        ok = (b > a if strict else b >= a) if increasing else (b < a if strict else b <= a)
        if not ok:
            broken.append(f"{la}->{lb}: {a:.4g} -> {b:.4g}")
    series = ", ".join(f"{la}: {v:.4g}" for la, v in zip(labels, values))
    word = ("strictly " if strict else "") + spec["direction"]
    detail = f"expected a {word} series; measured {series}"
    if broken:
        detail += f"; breaks at {'; '.join(broken)}"
    return Verdict(not broken and len(values) >= 2, detail)


CHECKS: dict[str, CheckKind] = {
    kind.name: kind
    for kind in (
        CheckKind("exact", (Field("expected", (str, int, float, bool, list)),),
                  _exact, lambda s: _fmt(s["expected"])),
        CheckKind("approx",
                  (Field("expected", (int, float)),
                   Field("tolerance", (int, float), required=False, non_negative=True),
                   Field("rel_tolerance", (int, float), required=False, non_negative=True)),
                  _approx, _describe_approx, needs_one_of=("tolerance", "rel_tolerance")),
        CheckKind("range",
                  tuple(Field(n, (int, float), required=False) for n in ("min", "max", "above", "below")),
                  _range, _describe_range, needs_one_of=("min", "max", "above", "below")),
        CheckKind("ratio",
                  (Field("expected", (int, float), required=False),
                   Field("tolerance", (int, float), required=False, non_negative=True),
                   Field("rel_tolerance", (int, float), required=False, non_negative=True),
                   *(Field(n, (int, float), required=False) for n in ("min", "max", "above", "below"))),
                  _ratio, _describe_ratio, needs_one_of=("expected", "min", "max", "above", "below")),
        CheckKind("ordering",
                  (Field("order", (list,)), Field("strict", (bool,), required=False)),
                  _ordering, lambda s: (" > " if s.get("strict", True) else " >= ").join(s["order"])),
        CheckKind("monotonic",
                  (Field("direction", (str,), choices=("increasing", "decreasing")),
                   Field("strict", (bool,), required=False)),
                  _monotonic, lambda s: f"{s['direction']} series"),
    )
}


def decide(check: str, spec: Mapping[str, Any], measured: Any) -> Verdict:
    """Compare a measured value with a claim's expectation using the named check kind."""
    return CHECKS[check].decide(spec, measured)


def describe_expectation(check: str, spec: Mapping[str, Any]) -> str:
    """The report's value as a short human-readable string."""
    return CHECKS[check].describe(spec)
