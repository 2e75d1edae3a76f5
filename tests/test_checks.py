"""The check kinds decide holds / does not hold correctly, and say what they compared."""

import math

import pytest

from harness.checks import CHECKS, SpecError, Verdict, decide, describe_expectation


@pytest.mark.parametrize("check, spec, measured, holds", [
    ("exact", {"expected": ["a", "b"]}, ("a", "b"), True),
    ("exact", {"expected": ["a", "b"]}, ["a", "c"], False),
    ("exact", {"expected": 3}, 3, True),
    ("exact", {"expected": "BPE"}, "WordPiece", False),
    ("approx", {"expected": 3, "tolerance": 0.1}, 2.95, True),
    ("approx", {"expected": 3, "tolerance": 0.1}, 1.88, False),
    ("approx", {"expected": 0.85, "rel_tolerance": 0.1}, 0.80, True),
    ("approx", {"expected": 0.85, "rel_tolerance": 0.01}, 0.80, False),
    ("range", {"above": 1.0}, 1.0, False),
    ("range", {"min": 1.0}, 1.0, True),
    ("range", {"min": 0, "max": 1}, 1.5, False),
    ("ratio", {"min": 1.5}, {"numerator": 4, "denominator": 3}, False),
    ("ratio", {"min": 1.5}, {"numerator": 9, "denominator": 3}, True),
    ("ratio", {"expected": 0.02, "tolerance": 0.001}, {"numerator": 12288, "denominator": 589824}, True),
    ("ratio", {"above": 0}, {"numerator": 1, "denominator": 0}, False),
    ("ordering", {"order": ["a", "b", "c"]}, {"a": 3, "b": 2, "c": 1}, True),
    ("ordering", {"order": ["a", "b", "c"]}, {"a": 3, "b": 1, "c": 2}, False),
    ("ordering", {"order": ["a", "b"], "strict": False}, {"a": 1, "b": 1}, True),
    ("ordering", {"order": ["a", "b"]}, {"a": 1, "b": 1}, False),
    ("monotonic", {"direction": "increasing"}, [1, 2, 3], True),
    ("monotonic", {"direction": "increasing"}, {"0.1": 1, "0.5": 3, "1.0": 2}, False),
    ("monotonic", {"direction": "decreasing", "strict": False}, [3, 3, 1], True),
    ("monotonic", {"direction": "increasing"}, [1], False),
])
def test_check_decides(check, spec, measured, holds):
    verdict = decide(check, spec, measured)
    assert verdict.holds is holds
    assert verdict.detail  # always says what it compared


def test_ordering_names_the_values():
    verdict = decide("ordering", {"order": ["misspelled", "correct"]}, {"misspelled": 2.5, "correct": 1.4})
    assert "misspelled (2.5)" in verdict.detail and "correct (1.4)" in verdict.detail


def test_ordering_without_a_measured_name_is_an_error():
    with pytest.raises(KeyError):
        decide("ordering", {"order": ["a", "b"]}, {"a": 1})


def test_measured_nan_is_an_error_not_a_pass():
    with pytest.raises(TypeError):
        decide("range", {"max": 1}, float("nan"))


@pytest.mark.parametrize("check, spec, text", [
    ("approx", {"expected": 3, "tolerance": 0.1}, "3 ± 0.1"),
    ("approx", {"expected": 0.85, "rel_tolerance": 0.05}, "0.85 ± 5%"),
    ("range", {"above": 1.0}, "> 1"),
    ("ratio", {"min": 1.5}, "ratio >= 1.5"),
    ("ordering", {"order": ["a", "b"]}, "a > b"),
])
def test_report_value_is_described(check, spec, text):
    assert describe_expectation(check, spec) == text


def test_verdicts_are_the_strings_results_hold():
    assert [v.value for v in Verdict] == ["holds", "refuted", "refuted (known)", "holds (catalog marks it refuted)",
                                          "inconclusive"]
    assert Verdict.of(False, "why", inconclusive=True) is Verdict.INCONCLUSIVE
    assert Verdict.of(True, None) == "holds" and f"{Verdict.of(False, 'why')}" == "refuted (known)"
    assert Verdict.of(True, "why") is Verdict.HOLDS_BUT_MARKED and Verdict.of(False, None) is Verdict.REFUTED


@pytest.mark.parametrize("check, spec, bounds", [
    ("approx", {"expected": 3, "tolerance": 0.5}, (2.5, 3.5)),
    ("approx", {"expected": 10, "rel_tolerance": 0.1}, (9.0, 11.0)),
    ("range", {"min": 1, "below": 2}, (1.0, 2.0)),
    ("range", {"above": 0}, (0.0, math.inf)),
    ("ratio", {"expected": 0.5}, (0.5, 0.5)),
    ("exact", {"expected": 4}, (4.0, 4.0)),
    ("exact", {"expected": "BPE"}, None),
    ("ordering", {"order": ["a", "b"]}, None),
])
def test_bounds(check, spec, bounds):
    assert CHECKS[check].bounds(spec) == bounds


@pytest.mark.parametrize("check, spec, field", [
    ("approx", {"expected": 3, "tolerance": math.inf}, "tolerance"),
    ("approx", {"expected": -math.inf, "tolerance": 1}, "expected"),
    ("approx", {"expected": math.nan, "tolerance": 1}, "expected"),
    ("range", {"max": math.inf}, "max"),
    ("exact", {"expected": [1.0, math.inf]}, "expected"),
    ("range", {"min": 2, "max": 1}, "min"),
    ("ratio", {"tolerance": 1, "min": 0}, "expected"),
    ("monotonic", {"direction": "sideways"}, "direction"),
])
def test_each_kind_validates_its_fields(check, spec, field):
    with pytest.raises(SpecError) as info:
        CHECKS[check].validate(spec)
    assert info.value.field == field


def test_exact_number_against_measured_text_is_an_error():
    with pytest.raises(TypeError, match="not the same kind"):
        decide("exact", {"expected": 3}, "3")


# --- established: a comparison on sampled data holds only when the data establish it ------------

@pytest.mark.parametrize("measured, verdict", [
    ({"p": 0.01, "p_reverse": 0.99}, "holds"),
    ({"p": 0.3, "p_reverse": 0.7}, "inconclusive"),
    ({"p": 0.05, "p_reverse": 0.95}, "inconclusive"),  # p must be below alpha
    ({"p": 0.99, "p_reverse": 0.01}, "refuted"),  # the opposite is established
])
def test_established_by_a_test(measured, verdict):
    decision = decide("established", {"alpha": 0.05}, measured)
    assert (decision.holds, decision.inconclusive) == {"holds": (True, False), "inconclusive": (False, True),
                                                       "refuted": (False, False)}[verdict], decision.detail


@pytest.mark.parametrize("interval, verdict", [
    ([1.12, 1.3], "holds"),
    ([1.1, 1.3], "holds"),  # min is inclusive
    ([1.05, 1.3], "inconclusive"),  # straddles the bound: neither established
    ([0.95, 1.05], "refuted"),  # wholly short of it: the opposite is established
])
def test_established_by_an_interval(interval, verdict):
    decision = decide("established", {"alpha": 0.05, "min": 1.1}, {"interval": interval, "confidence": 0.9})
    assert (decision.holds, decision.inconclusive) == {"holds": (True, False), "inconclusive": (False, True),
                                                       "refuted": (False, False)}[verdict], decision.detail


def test_established_interval_must_have_the_policy_confidence():
    # a 95% interval's lower end is a one-sided test at 0.025, not the policy's 0.05: refused, not judged
    with pytest.raises(ValueError, match="1 - 2 alpha"):
        decide("established", {"alpha": 0.05, "min": 1.1}, {"interval": [1.2, 1.3], "confidence": 0.95})


def test_established_test_with_a_size_needs_both():
    spec = {"alpha": 0.05, "min": 0.01, "max": 0.08}
    assert decide("established", spec, {"p": 0.001, "p_reverse": 1, "interval": [0.02, 0.05]}).holds
    too_large = decide("established", spec, {"p": 0.001, "p_reverse": 1, "interval": [0.1, 0.2]})
    assert not too_large.holds and not too_large.inconclusive
    undecided = decide("established", spec, {"p": 0.6, "p_reverse": 0.5, "interval": [-0.02, 0.02]})
    assert undecided.inconclusive


def test_an_inconclusive_claim_skips_and_keeps_its_record():
    from harness.claims import Claim
    from harness.record import ClaimInconclusive, Recorder

    claim = Claim(id="demo.undecided", experiment="demo", section="1", statement="A is more than B",
                  measure="m", check="established", spec={"alpha": 0.05}, path="demo.toml")
    recorder = Recorder(profile="ci", model_set="packaged", seed=0, run_id="r")
    with pytest.raises(ClaimInconclusive, match="inconclusive"):
        recorder.check(claim, {"p": 0.4, "p_reverse": 0.6})
    assert recorder.records["demo.undecided"].verdict == "inconclusive"


def test_an_inconclusive_claim_the_catalog_marks_refuted_fails():
    # the mark says the data refute it; a run that establishes neither way must say so, not skip quietly
    from harness.claims import Claim
    from harness.record import Recorder

    claim = Claim(id="demo.marked", experiment="demo", section="1", statement="A is more than B", measure="m",
                  check="established", spec={"alpha": 0.05}, refuted="B is more", path="demo.toml")
    recorder = Recorder(profile="ci", model_set="packaged", seed=0, run_id="r")
    with pytest.raises(AssertionError, match="marked refuted in the catalog"):
        recorder.check(claim, {"p": 0.4, "p_reverse": 0.6})
    assert recorder.records["demo.marked"].verdict == "inconclusive"


@pytest.mark.parametrize("measured", [{"interval": [1.3, 1.0], "confidence": 0.9},
                                      {"p": 0.01, "p_reverse": 0.01}])
def test_established_refuses_impossible_measurements(measured):
    with pytest.raises(ValueError):
        decide("established", {"alpha": 0.05, "min": 1.1} if "interval" in measured else {"alpha": 0.05}, measured)
