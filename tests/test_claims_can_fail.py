"""Every project claim can fail: a wrong measurement of the same type does not hold, a right one does.

The measurements come from the check kind (harness/checks.py `examples`): for an approximate figure, values
just outside the policy's interval; for a range, values past each bound; for an exact value, a changed one; for
an ordering, the order reversed. A claim whose check accepted all of them (an unbounded range, a tolerance
wider than the values) would be evidence of nothing. Identities that hold by construction whatever the model
are the other way a claim cannot fail; those are marked evidence = "definition" and counted apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import CHECKS, decide
from harness.claims import Claim, load_catalog

SUITES = Path(__file__).resolve().parents[1] / "suites"


def project_claims() -> list[Claim]:
    claims: list[Claim] = []
    for path in sorted(SUITES.glob("*/catalog.toml")):
        claims.extend(load_catalog(path).claims)
    return claims


@pytest.mark.parametrize("catalog_claim", project_claims(), ids=lambda c: c.id)
def test_a_wrong_measurement_does_not_hold(catalog_claim: Claim):
    claim = catalog_claim  # not named `claim`: the plugin would treat it as a suite claim (known refutations xfail)
    right, wrong = CHECKS[claim.check].examples(claim.spec)
    assert decide(claim.check, claim.spec, right).holds, f"{claim.id}: no measurement can satisfy {claim.spec}"
    assert wrong, f"{claim.id}: the check accepts every value ({claim.report_value})"
    for value in wrong:
        decision = decide(claim.check, claim.spec, value)
        assert not decision.holds, f"{claim.id}: a wrong measurement holds: {decision.detail}"


@pytest.mark.parametrize("check, spec", [
    ("range", {"min": 0.5}), ("range", {"above": 0.0, "below": 1.0}), ("approx", {"expected": 0.85, "tolerance": 0.01}),
    ("ratio", {"min": 1.5}), ("ratio", {"expected": 2.0, "rel_tolerance": 0.5}), ("exact", {"expected": [1, 2]}),
    ("exact", {"expected": "BPE"}), ("exact", {"expected": True}), ("ordering", {"order": ["a", "b", "c"]}),
    ("monotonic", {"direction": "decreasing"}),
])
def test_every_kind_gives_a_holding_and_failing_measurement(check, spec):
    right, wrong = CHECKS[check].examples(spec)
    assert decide(check, spec, right).holds
    assert wrong and not any(decide(check, spec, w).holds for w in wrong)


def test_every_check_kind_has_examples():
    for kind in CHECKS.values():
        assert type(kind).examples is not type(kind).__mro__[-2].examples, f"{kind.name} has no examples()"
