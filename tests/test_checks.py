"""The check kinds decide holds / does not hold correctly, and say what they compared."""

import pytest

from harness.checks import decide, describe_expectation


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
