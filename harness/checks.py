"""Check kinds: how a measured value is compared with the report's value.

One object per kind holds everything the kind means: the catalog fields it takes (validated when
a catalog loads), the interval it accepts (`bounds`, shared with run comparison), how it decides
a measurement, and how it describes the report's value. A new kind is one class here plus its
entry in CHECKS (and a self-test in tests/test_checks.py).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class Verdict(enum.StrEnum):
    """A claim's verdict; the values are the strings written to claims.json and REPORT.md."""

    HOLDS = "holds"
    REFUTED = "refuted"
    REFUTED_KNOWN = "refuted (known)"
    HOLDS_BUT_MARKED = "holds (catalog marks it refuted)"
    # a comparison on sampled data that the data establish neither way ([policy.sampling])
    INCONCLUSIVE = "inconclusive"

    @classmethod
    def of(cls, holds: bool, known_refutation: str | None, inconclusive: bool = False) -> Verdict:
        if inconclusive:
            return cls.INCONCLUSIVE
        if holds:
            return cls.HOLDS_BUT_MARKED if known_refutation else cls.HOLDS
        return cls.REFUTED_KNOWN if known_refutation else cls.REFUTED


@dataclass(frozen=True)
class Decision:
    holds: bool
    detail: str  # what was compared, in words, for failure messages and the report
    # neither established nor contradicted (never together with holds): the claim is not decided
    inconclusive: bool = False


class SpecError(ValueError):
    """A claim's check fields that cannot be used; `field` names the offending field."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[type, ...]
    required: bool = True
    non_negative: bool = False
    choices: tuple[str, ...] = ()


def fmt(value: Any) -> str:
    """A measured or expected value as short text (4 significant digits for floats)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require_number(value: Any, what: str) -> float:
    if not is_number(value) or math.isnan(value):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return float(value)


def _type_names(types: Sequence[type]) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


class CheckKind:
    """Base of every check kind. Subclasses set `name`, `fields` and implement decide/describe."""

    name: str = ""
    fields: tuple[Field, ...] = ()
    needs_one_of: tuple[str, ...] = ()  # at least one of these fields must be present

    def validate(self, spec: Mapping[str, Any]) -> None:
        """Raise SpecError for the first unusable field of `spec` (this kind's fields only)."""
        known = {f.name: f for f in self.fields}
        for name, value in spec.items():
            spec_field = known[name]
            ok = isinstance(value, spec_field.types) and not (isinstance(value, bool) and bool not in spec_field.types)
            if not ok:
                raise SpecError(name, f"must be a {_type_names(spec_field.types)}, got "
                                      f"{type(value).__name__} {value!r}")
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, float) and not math.isfinite(item):
                    raise SpecError(name, f"must be a finite number, got {item!r}")
            if spec_field.non_negative and value < 0:
                raise SpecError(name, f"must be zero or positive, got {value!r}")
            if spec_field.choices and value not in spec_field.choices:
                raise SpecError(name, f"must be one of {', '.join(spec_field.choices)}, got {value!r}")
        for spec_field in self.fields:
            if spec_field.required and spec_field.name not in spec:
                raise SpecError(spec_field.name, f"missing; a '{self.name}' check needs it")
        if self.needs_one_of and not any(n in spec for n in self.needs_one_of):
            raise SpecError("/".join(self.needs_one_of), f"a '{self.name}' check needs at least one of these fields")

    def bounds(self, spec: Mapping[str, Any]) -> tuple[float, float] | None:
        """The closed interval of values the claim accepts, or None when it is not an interval."""
        return None

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        raise NotImplementedError

    def describe(self, spec: Mapping[str, Any]) -> str:
        """The report's value as a short string."""
        raise NotImplementedError

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        """A measurement that holds and wrong measurements of the same type that must not.

        The self-test tests/test_claims_can_fail.py runs every project claim through these, so that
        no claim's check accepts everything (an unbounded range, an empty tolerance rule, ...).
        """
        raise NotImplementedError


class Exact(CheckKind):
    name = "exact"
    fields = (Field("expected", (str, int, float, bool, list)),)

    def bounds(self, spec: Mapping[str, Any]) -> tuple[float, float] | None:
        expected = spec["expected"]
        return (float(expected), float(expected)) if is_number(expected) else None

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        expected = spec["expected"]
        if is_number(expected) != is_number(measured) and isinstance(measured, (str, int, float)):
            raise TypeError(f"the report's value {expected!r} and the measured {measured!r} are not the same kind "
                            f"of value (number / text)")
        if isinstance(expected, list):
            measured = list(measured)
        return Decision(measured == expected, f"expected exactly {fmt(expected)}, measured {fmt(measured)}")

    def describe(self, spec: Mapping[str, Any]) -> str:
        return fmt(spec["expected"])

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        expected = spec["expected"]
        if isinstance(expected, bool):
            return expected, [not expected]
        if is_number(expected):
            return expected, [expected + 1, expected - 1, -expected - 1]
        if isinstance(expected, str):
            return expected, [expected + "x", expected[:-1], expected.upper() if expected != expected.upper()
                              else expected.lower() + "x"]
        changed = list(expected)
        if changed:
            changed[-1] = [changed[-1]] if not isinstance(changed[-1], list) else changed[-1] + [0]
        return list(expected), [changed, list(expected) + [list(expected)[:1] or 0], list(expected)[:-1]]


def _tolerance_of(spec: Mapping[str, Any]) -> float:
    if "tolerance" in spec:
        return float(spec["tolerance"])
    return abs(float(spec["expected"])) * float(spec["rel_tolerance"])


def _describe_tolerance(spec: Mapping[str, Any]) -> str:
    if "tolerance" in spec:
        return f"{fmt(spec['expected'])} ± {fmt(spec['tolerance'])}"
    return f"{fmt(spec['expected'])} ± {float(spec['rel_tolerance']) * 100:g}%"


class Approx(CheckKind):
    name = "approx"
    fields = (Field("expected", (int, float)),
              Field("tolerance", (int, float), required=False, non_negative=True),
              Field("rel_tolerance", (int, float), required=False, non_negative=True))
    needs_one_of = ("tolerance", "rel_tolerance")

    def validate(self, spec: Mapping[str, Any]) -> None:
        super().validate(spec)
        if "tolerance" in spec and "rel_tolerance" in spec:
            raise SpecError("tolerance", "give either tolerance or rel_tolerance, not both")

    def bounds(self, spec: Mapping[str, Any]) -> tuple[float, float]:
        expected, tol = float(spec["expected"]), _tolerance_of(spec)
        return expected - tol, expected + tol

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        value = _require_number(measured, "measured value")
        low, high = self.bounds(spec)
        return Decision(low <= value <= high, f"expected {self.describe(spec)} (i.e. {low:.4g}..{high:.4g}), "
                                              f"measured {value:.4g}")

    def describe(self, spec: Mapping[str, Any]) -> str:
        return _describe_tolerance(spec)

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        low, high = self.bounds(spec)
        margin = max(high - low, abs(float(spec["expected"])), 1.0) * 0.01
        return float(spec["expected"]), [low - margin, high + margin]


RANGE_KEYS = (("min", ">="), ("above", ">"), ("max", "<="), ("below", "<"))


def _in_range(spec: Mapping[str, Any], value: float) -> bool:
    return not (("min" in spec and not value >= spec["min"]) or ("max" in spec and not value <= spec["max"])
                or ("above" in spec and not value > spec["above"]) or ("below" in spec and not value < spec["below"]))


def _describe_range(spec: Mapping[str, Any]) -> str:
    return " and ".join(f"{sign} {fmt(spec[key])}" for key, sign in RANGE_KEYS if key in spec)


def _range_bounds(spec: Mapping[str, Any]) -> tuple[float, float]:
    low = max([float(spec[k]) for k in ("min", "above") if k in spec], default=-math.inf)
    high = min([float(spec[k]) for k in ("max", "below") if k in spec], default=math.inf)
    return low, high


def _validate_range_order(spec: Mapping[str, Any]) -> None:
    for low, high in (("min", "max"), ("above", "below"), ("min", "below"), ("above", "max")):
        if low in spec and high in spec and spec[low] > spec[high]:
            raise SpecError(low, f"{low} ({spec[low]}) is greater than {high} ({spec[high]})")


def _range_examples(spec: Mapping[str, Any]) -> tuple[float, list[float]]:
    """A value inside the range, and values just outside each end (a strict end: the bound itself)."""
    low, high = _range_bounds(spec)
    step = max(abs(low) if math.isfinite(low) else 0.0, abs(high) if math.isfinite(high) else 0.0, 1.0) * 0.01
    wrong = []
    if math.isfinite(low):
        wrong.append(low if "above" in spec and float(spec["above"]) == low else low - step)
    if math.isfinite(high):
        wrong.append(high if "below" in spec and float(spec["below"]) == high else high + step)
    if math.isfinite(low) and math.isfinite(high):
        right = (low + high) / 2
    else:
        right = low + step if math.isfinite(low) else high - step
    return right, wrong


class Range(CheckKind):
    name = "range"
    fields = tuple(Field(n, (int, float), required=False) for n in ("min", "max", "above", "below"))
    needs_one_of = ("min", "max", "above", "below")

    def validate(self, spec: Mapping[str, Any]) -> None:
        super().validate(spec)
        _validate_range_order(spec)

    def bounds(self, spec: Mapping[str, Any]) -> tuple[float, float]:
        return _range_bounds(spec)

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        value = _require_number(measured, "measured value")
        return Decision(_in_range(spec, value), f"expected {self.describe(spec)}, measured {value:.4g}")

    def describe(self, spec: Mapping[str, Any]) -> str:
        return _describe_range(spec)

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        return _range_examples(spec)


def _as_ratio(value: float) -> dict[str, float]:
    return {"numerator": value, "denominator": 1.0}


class Ratio(CheckKind):
    """The measurement is {'numerator': x, 'denominator': y}; x / y is compared like approx or range."""

    name = "ratio"
    fields = (Field("expected", (int, float), required=False),
              Field("tolerance", (int, float), required=False, non_negative=True),
              Field("rel_tolerance", (int, float), required=False, non_negative=True),
              *(Field(n, (int, float), required=False) for n in ("min", "max", "above", "below")))
    needs_one_of = ("expected", "min", "max", "above", "below")

    def validate(self, spec: Mapping[str, Any]) -> None:
        super().validate(spec)
        if "tolerance" in spec and "rel_tolerance" in spec:
            raise SpecError("tolerance", "give either tolerance or rel_tolerance, not both")
        if ("tolerance" in spec or "rel_tolerance" in spec) and "expected" not in spec:
            raise SpecError("expected", "a tolerance needs an expected ratio")
        _validate_range_order(spec)

    def bounds(self, spec: Mapping[str, Any]) -> tuple[float, float]:
        if "expected" in spec:
            expected = float(spec["expected"])
            tol = _tolerance_of(spec) if ("tolerance" in spec or "rel_tolerance" in spec) else 0.0
            return expected - tol, expected + tol
        return _range_bounds(spec)

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        if not isinstance(measured, Mapping) or set(measured) != {"numerator", "denominator"}:
            raise TypeError(f"a ratio check needs {{'numerator': x, 'denominator': y}}, got {measured!r}")
        num = _require_number(measured["numerator"], "numerator")
        den = _require_number(measured["denominator"], "denominator")
        if den == 0:
            return Decision(False, f"denominator is 0 (numerator {num:.4g})")
        value = num / den
        if "expected" in spec:
            low, high = self.bounds(spec)
            holds = low <= value <= high
        else:
            holds = _in_range(spec, value)
        return Decision(holds, f"expected {self.describe(spec)}, measured {num:.4g} / {den:.4g} = {value:.4g}")

    def describe(self, spec: Mapping[str, Any]) -> str:
        if "expected" in spec:
            if "tolerance" in spec or "rel_tolerance" in spec:
                return "ratio " + _describe_tolerance(spec)
            return f"ratio {fmt(spec['expected'])}"
        return "ratio " + _describe_range(spec)

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        if "expected" in spec:
            low, high = self.bounds(spec)
            margin = max(high - low, abs(float(spec["expected"])), 1.0) * 0.01
            right, wrong = float(spec["expected"]), [low - margin, high + margin]
        else:
            right, wrong = _range_examples(spec)
        return _as_ratio(right), [_as_ratio(v) for v in wrong] + [{"numerator": 1.0, "denominator": 0.0}]


class Ordering(CheckKind):
    name = "ordering"
    fields = (Field("order", (list,)), Field("strict", (bool,), required=False))

    def validate(self, spec: Mapping[str, Any]) -> None:
        super().validate(spec)
        order = spec["order"]
        if len(order) < 2 or not all(isinstance(k, str) for k in order):
            raise SpecError("order", "must list at least two names (strings)")
        if len(set(order)) != len(order):
            raise SpecError("order", "names must not repeat")

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        order: Sequence[str] = spec["order"]
        if not isinstance(measured, Mapping):
            raise TypeError(f"an ordering check needs a mapping of name -> value, got {measured!r}")
        missing = [k for k in order if k not in measured]
        if missing:
            raise KeyError(f"ordering check: no measured value for {missing}")
        values = [_require_number(measured[k], f"value of {k!r}") for k in order]
        strict = spec.get("strict", True)
        holds = all(a > b if strict else a >= b for a, b in zip(values, values[1:]))
        sign = " > " if strict else " >= "
        shown = sign.join(f"{k} ({v:.4g})" for k, v in zip(order, values))
        return Decision(holds, f"expected {sign.join(order)}; measured {shown}")

    def describe(self, spec: Mapping[str, Any]) -> str:
        return (" > " if spec.get("strict", True) else " >= ").join(spec["order"])

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        order = spec["order"]
        right = {name: float(len(order) - i) for i, name in enumerate(order)}
        swapped = dict(right)
        swapped[order[0]], swapped[order[1]] = right[order[1]] - 0.5, right[order[0]]
        return right, [{name: float(i) for i, name in enumerate(order)}, swapped]


class Monotonic(CheckKind):
    name = "monotonic"
    fields = (Field("direction", (str,), choices=("increasing", "decreasing")),
              Field("strict", (bool,), required=False))

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
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
        return Decision(not broken and len(values) >= 2, detail)

    def describe(self, spec: Mapping[str, Any]) -> str:
        return f"{spec['direction']} series"

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        rising = [1.0, 2.0, 3.0]
        right = rising if spec["direction"] == "increasing" else rising[::-1]
        return right, [right[::-1], [right[0], right[2], right[1]], right[:1]]


def _misses_range(spec: Mapping[str, Any], low: float, high: float) -> bool:
    """Whether no point of [low, high] lies in the claim's range (its strict ends excluded)."""
    return (("min" in spec and high < spec["min"]) or ("above" in spec and high <= spec["above"])
            or ("max" in spec and low > spec["max"]) or ("below" in spec and low >= spec["below"]))


class Established(CheckKind):
    """A comparison on sampled data, judged as [policy.sampling] says: it holds only when the data
    establish it, is refuted when they establish the opposite, and is otherwise inconclusive (never
    "holds"). Two forms of measurement:

    - a test: {'p': one-sided p-value of the claimed direction, 'p_reverse': of the opposite one},
      and, when the claim also gives the effect a size (a range here), 'interval': the effect's
      confidence interval. Holds when p < alpha and the interval meets the range (a figure's
      reading); refuted when p_reverse < alpha or the interval misses the range.
    - an interval alone, {'interval': [low, high], 'confidence': c}, for a statistic compared with a
      threshold (the range here): c must be 1 - 2 alpha (each end a one-sided test at alpha). Holds
      when the whole interval lies in the range, refuted when none of it does.
    """

    name = "established"
    fields = (Field("alpha", (float,)),
              *(Field(n, (int, float), required=False) for n in ("min", "max", "above", "below")))

    def validate(self, spec: Mapping[str, Any]) -> None:
        super().validate(spec)
        if not 0 < spec["alpha"] < 0.5:
            raise SpecError("alpha", f"must lie in (0, 0.5), got {spec['alpha']!r}")
        _validate_range_order(spec)

    def bounds(self, spec: Mapping[str, Any]) -> tuple[float, float] | None:
        return _range_bounds(spec) if any(k in spec for k, _ in RANGE_KEYS) else None

    def decide(self, spec: Mapping[str, Any], measured: Any) -> Decision:
        if not isinstance(measured, Mapping) or not ({"p", "p_reverse"} <= set(measured) or "interval" in measured):
            raise TypeError("an established check needs {'p': x, 'p_reverse': y[, 'interval': [low, high]]} or "
                            f"{{'interval': [low, high], 'confidence': c}}, got {measured!r}")
        alpha = float(spec["alpha"])
        sized = self.bounds(spec)
        interval = None
        if "interval" in measured:
            low, high = (_require_number(v, "interval end") for v in measured["interval"])
            if low > high:
                raise ValueError(f"interval [{low}, {high}]: its low end is above its high end")
            interval = f"interval [{low:.4g}, {high:.4g}]"
        if "p" not in measured:
            return self._decide_interval(spec, measured, alpha, low, high, interval)
        p = _require_number(measured["p"], "p")
        p_reverse = _require_number(measured["p_reverse"], "p_reverse")
        if p < alpha and p_reverse < alpha:
            raise ValueError(f"p = {p} and p_reverse = {p_reverse} both below alpha: not two one-sided tests of "
                             "one comparison")
        detail = f"expected one-sided p < {fmt(alpha)}; measured p = {p:.4g} (opposite direction {p_reverse:.4g})"
        if sized is not None:
            if interval is None:
                raise KeyError("an established check with a range needs the effect's 'interval'")
            detail += f", {interval} against {_describe_range(spec)}"
            if _misses_range(spec, low, high):
                return Decision(False, detail + ": the interval misses the report's range")
        if p < alpha:
            return Decision(True, detail)
        if p_reverse < alpha:
            return Decision(False, detail + ": the opposite direction is established")
        return Decision(False, detail + ": established neither way (inconclusive at this sample size)",
                        inconclusive=True)

    @staticmethod
    def _decide_interval(spec: Mapping[str, Any], measured: Mapping[str, Any], alpha: float, low: float,
                         high: float, interval: str | None) -> Decision:
        if not any(k in spec for k, _ in RANGE_KEYS):
            raise KeyError("an established check on an interval alone needs a range (min, max, above, below)")
        confidence = _require_number(measured.get("confidence"), "confidence")
        if abs(confidence - (1 - 2 * alpha)) > 1e-9:
            raise ValueError(f"the interval's confidence {confidence} is not 1 - 2 alpha = {1 - 2 * alpha:g} "
                             "([policy.sampling]: each end a one-sided test at alpha)")
        detail = f"expected the {confidence:.0%} {interval} within {_describe_range(spec)}"
        if _in_range(spec, low) and _in_range(spec, high):
            return Decision(True, detail)
        if _misses_range(spec, low, high):
            return Decision(False, detail + ": it lies outside (the opposite is established)")
        return Decision(False, detail + ": it straddles the bound (inconclusive at this sample size)",
                        inconclusive=True)

    def describe(self, spec: Mapping[str, Any]) -> str:
        sized = f": {_describe_range(spec)}" if self.bounds(spec) is not None else ""
        return f"established at alpha {fmt(spec['alpha'])}{sized}"

    def examples(self, spec: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        alpha = float(spec["alpha"])
        sized = self.bounds(spec)
        if sized is None:
            return ({"p": alpha / 10, "p_reverse": 1 - alpha / 10},
                    [{"p": 1 - alpha / 10, "p_reverse": alpha / 10}, {"p": alpha, "p_reverse": alpha},
                     {"p": 0.5, "p_reverse": 0.5}])
        inside, outside = _range_examples(spec)
        confidence = 1 - 2 * alpha
        wrong: list[Any] = [{"interval": [end, end], "confidence": confidence} for end in outside]
        wrong += [{"interval": sorted([inside, end]), "confidence": confidence} for end in outside]
        wrong += [{"p": alpha / 10, "p_reverse": 1, "interval": [end, end]} for end in outside]
        wrong += [{"p": 0.5, "p_reverse": 0.5, "interval": [inside, inside]}]
        return {"interval": [inside, inside], "confidence": confidence}, wrong


CHECKS: dict[str, CheckKind] = {kind.name: kind for kind in (Exact(), Approx(), Range(), Ratio(), Ordering(),
                                                             Monotonic(), Established())}


def decide(check: str, spec: Mapping[str, Any], measured: Any) -> Decision:
    """Compare a measured value with a claim's expectation using the named check kind."""
    return CHECKS[check].decide(spec, measured)


def describe_expectation(check: str, spec: Mapping[str, Any]) -> str:
    """The report's value as a short human-readable string."""
    return CHECKS[check].describe(spec)


def tolerance(check: str, spec: Mapping[str, Any], reference: float) -> float:
    """How far a measured value may move between two runs before a comparison reports it: the
    claim's declared tolerance, else (none declared) any real change."""
    if "tolerance" in spec:
        return float(spec["tolerance"])
    if "rel_tolerance" in spec and "expected" in spec:
        return abs(float(spec["expected"])) * float(spec["rel_tolerance"])
    return 1e-9 * max(1.0, abs(reference))
