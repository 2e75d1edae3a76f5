"""The tolerance policy reads the report's figures and words one way, and rejects other tolerances."""

import math
import re

import pytest

from harness.policy import (
    PolicyError,
    approx_bounds,
    band_edges,
    band_of,
    check_tolerance,
    load_policy,
    numerical_tolerance,
    read_expression,
    word_rule,
)


@pytest.mark.parametrize("expected, written, low, high", [
    (0.85, "~0.85", 0.84, 0.86),  # one unit of the last written digit
    (0.18, "0.18", 0.175, 0.185),  # a bare figure: its rounding interval
    (2_000_000, "~2 MB", 1_000_000, 3_000_000),  # the allowance follows the digits given
    (300_000, "~300K", 200_000, 400_000),  # trailing zeros are not significant
    (250_000_000, "~250 MB", 240_000_000, 260_000_000),
    (66_000_000, "~66M", 65_000_000, 67_000_000),
    (0.005, "~0.5%", 0.004, 0.006),
    (0.02, "~2%", 0.01, 0.03),
    (384, "~384", 383, 385),
    (-0.05, "~−0.05", -0.06, -0.04),  # a sign (typographic minus) is kept
    (0, "~0", -1, 1),
])
def test_approx_bounds_follow_the_written_digits(expected, written, low, high):
    got = approx_bounds(expected, written)
    assert got == pytest.approx((low, high))


def test_approx_bounds_reject_a_value_that_is_not_the_reports():
    with pytest.raises(PolicyError, match="not the report's figure"):
        approx_bounds(0.86, "~0.85")


@pytest.mark.parametrize("text, scale, low, high, low_strict, high_strict", [
    ("85–88%", 0.01, 0.85, 0.88, False, False),
    ("~85–88%", 0.01, 0.84, 0.89, False, False),  # a ~ widens each end by its own last digit
    ("85-88", 1, 85, 88, False, False),
    ("< 1%", 0.01, -math.inf, 0.01, False, True),
    ("> 0.5", 1, 0.5, math.inf, True, False),
    ("~91%", 0.01, 0.90, 0.92, False, False),
])
def test_read_expression(text, scale, low, high, low_strict, high_strict):
    b = read_expression(text, scale)
    assert (b.low, b.high) == pytest.approx((low, high))
    assert (b.low_strict, b.high_strict) == (low_strict, high_strict)


def test_bounds_contain_values_and_meet_intervals():
    report = read_expression("~85–88%", 0.01)  # [0.84, 0.89]
    assert report.contains(0.84) and report.contains(0.89) and not report.contains(0.8399)
    assert report.meets(0.818, 0.867)  # an accuracy interval that reaches the report's range
    assert not report.meets(0.811, 0.838)
    assert not read_expression("< 1%", 0.01).contains(0.01)
    assert not read_expression("< 1%", 0.01).meets(0.01, 0.02)
    with pytest.raises(PolicyError, match="backwards"):
        report.meets(0.9, 0.8)


def test_read_expression_rejects_a_backward_range_and_no_figure():
    with pytest.raises(PolicyError, match="backwards"):
        read_expression("88–85%")
    with pytest.raises(PolicyError, match="no figure"):
        read_expression("many")


@pytest.mark.parametrize("word, up, down", [
    ("significantly", {"min": 1.5}, {"max": 1 / 1.5}),
    ("Far", {"min": 2.0}, {"max": 0.5}),
    ("more", {"above": 1.0}, {"below": 1.0}),
    ("less", {"above": 1.0}, {"below": 1.0}),
    ("most", {"above": 0.5}, {"below": 0.5}),
    ("mostly", {"above": 0.5}, {"below": 0.5}),
    ("many", {"min": 0.25}, {"max": 0.75}),
    ("near-deterministic", {"min": 0.9}, {"max": pytest.approx(0.1)}),
    ("every", {"min": 1.0}, {"max": 0.0}),
    ("may", {"above": 0.0}, {"below": 1.0}),
    ("slightly", {"min": 1.1, "below": 1.5}, {"max": 1 / 1.1, "above": 1 / 1.5}),
    ("same", {"min": 1 / 1.1, "max": 1.1}, {"min": 1 / 1.1, "max": 1.1}),
])
def test_word_rules(word, up, down):
    rule = word_rule(word)
    assert rule.bounds("up") == pytest.approx(up)
    assert rule.bounds("down") == down


def test_word_ladder_is_ordered():
    factors = [word_rule(w).threshold for w in ("more", "slightly", "significantly", "much", "<<")]
    assert factors == sorted(factors) and len(set(factors)) == len(factors)
    assert word_rule("slightly").upper == word_rule("significantly").threshold  # no gap, no overlap
    shares = [word_rule(w).threshold for w in ("many", "often", "most", "near", "all")]
    assert shares == sorted(shares)
    assert word_rule("some").bounds() == {"min": 2}


def test_unknown_word_names_the_known_ones():
    with pytest.raises(PolicyError, match="no rule for 'plenty'.*significantly"):
        word_rule("plenty")
    with pytest.raises(PolicyError, match="no 'down' reading"):
        word_rule("some").bounds("down")


def test_bands_never_contradict_the_reports_own_values():
    policy = load_policy()
    edges = band_edges()
    assert list(edges) == list(policy.band_order)
    for band, values in policy.band_values.items():
        for value in values:
            low, high = approx_bounds(value, f"~{value}")
            assert band_of(low) == band_of(value) == band_of(high) == band, (band, value)
    assert edges["Very High"][0] <= 0.84  # the report's lowest "Very High" is ~0.85
    assert band_of(1.0) == "Very High" and band_of(-1.0) == "Negligible"
    for (_, high), (low, _) in zip(list(edges.values()), list(edges.values())[1:]):
        assert high == low  # contiguous
    with pytest.raises(PolicyError):
        band_of(1.5)


def test_numerical_tolerance():
    assert numerical_tolerance(1) == pytest.approx(1e-5)
    assert numerical_tolerance(100) == pytest.approx(1e-3)
    with pytest.raises(PolicyError, match="scale"):
        numerical_tolerance(3)


# --- catalog claims ---------------------------------------------------------------------

def _claim(**fields):
    return {"id": "x.claim", "statement": "s", "measure": "m", **fields}


@pytest.mark.parametrize("claim", [
    _claim(check="approx", expected=0.85, tolerance=0.01, as_written="~0.85"),
    _claim(check="approx", expected=2_000_000, rel_tolerance=0.5, as_written="~2 MB"),
    _claim(check="ratio", expected=0.02, tolerance=0.01, as_written="~2%"),
    _claim(check="ratio", min=1.5, policy="significantly"),
    _claim(check="range", below=0.5, policy="most"),  # measured on the complement
    _claim(check="range", max=1e-4, policy="fp32:10"),
    _claim(check="range", max=1e-6, policy="fp32:1"),  # stricter than the policy is allowed
    _claim(check="range", below=0.01, policy="as_written", as_written="< 1%"),
    _claim(check="range", min=0.84, max=0.89, policy="as_written", as_written="~85–88%"),
    _claim(check="approx", expected=0.8203, tolerance=0.02, source="MTEB",
           tolerance_source="spread of all-MiniLM-L6-v2's STS-B Spearman across library versions (cited)"),
    _claim(check="exact", expected=3),
    _claim(check="approx", expected=3, tolerance=0),  # exact is never looser than the policy
    _claim(check="ordering", order=["a", "b"]),
    _claim(check="ratio", expected=0.02),  # an exact ratio
])
def test_claims_within_the_policy_pass(claim):
    assert check_tolerance(claim) is None


@pytest.mark.parametrize("claim, problem", [
    # a tolerance outside the policy without a named source is rejected
    (_claim(check="approx", expected=0.74, tolerance=0.1, as_written="~0.74"), "field 'tolerance'.*0.73, 0.75"),
    (_claim(check="approx", expected=2_000_000, rel_tolerance=0.6, as_written="~2 MB"), "field 'rel_tolerance'"),
    (_claim(check="approx", expected=0.74, tolerance=0.01), "field 'as_written'"),
    (_claim(check="approx", expected=0.74, tolerance=0.01, as_written="~0.47"), "not the report's figure"),
    (_claim(check="ratio", min=1.2, policy="significantly"), "'significantly' gives \\(min = 1.5\\)"),
    (_claim(check="ratio", above=1.0), "field 'policy'"),
    (_claim(check="range", min=0.8, policy="near-deterministic"), "min = 0.9"),
    (_claim(check="range", max=1e-2, policy="fp32:1"), "max <= 1e-05"),
    (_claim(check="range", max=1e-5, policy="fp32:7"), "scale"),
    (_claim(check="range", min=0.5, policy="plenty"), "no rule for 'plenty'"),
    (_claim(check="range", above=0.7, policy="as_written", as_written="~85–88%"), "are not '~85–88%'"),
    (_claim(check="approx", expected=0.82, tolerance=0.02, source="MTEB"), "field 'as_written'"),
    (_claim(check="approx", expected=0.82, tolerance=0.02, tolerance_source="  "), "tolerance_source"),
])
def test_claims_outside_the_policy_are_rejected(claim, problem):
    message = check_tolerance(claim)
    assert message is not None and "x.claim" in message
    assert re.search(problem, message), message


def test_a_malformed_policy_file_names_itself(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text("[policy]\nversion = 1\n")
    with pytest.raises(PolicyError, match="policy.toml"):
        load_policy(bad)


def test_report_md_states_the_policy_it_applies():
    from harness.render import policy_section

    text = policy_section()
    assert "## Tolerance policy" in text and "~0.85 → 0.84–0.86" in text
    for name in load_policy().words:
        assert f"| {name} |" in text or f"| {name.replace('<', '&lt;')} |" in text
    assert "| Very High | 0.795 | 1 |" in text
