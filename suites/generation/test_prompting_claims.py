"""Report section 5, prompt engineering: instruction following and few-shot format compliance,
decided from 95% Wilson intervals."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

EXPERIMENT = "generation"


def wilson(successes: list[bool]) -> tuple[float, float, float]:
    """Rate and its 95% Wilson score interval (scipy's binomtest)."""
    n, k = len(successes), sum(successes)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return k / n, ci.low, ci.high


@pytest.mark.claims("compliance_bound")
def test_base_model_ignores_instructions(claim, prompting_runs, check):
    rate, low, high = wilson(prompting_runs[claim.args["condition"]].compliant)
    check(high if claim.args["bound"] == "upper" else low,
          extra={"rate": rate, "ci95": [low, high],
                 "n": len(prompting_runs[claim.args["condition"]].compliant)})


@pytest.mark.claims("compliance_gap")
def test_compliance_gap(claim, prompting_runs, check):
    better, worse = prompting_runs[claim.args["better"]], prompting_runs[claim.args["worse"]]
    b_rate, b_low, b_high = wilson(better.compliant)
    w_rate, w_low, w_high = wilson(worse.compliant)
    first, second = claim.spec["order"]
    check({first: b_low, second: w_high},
          extra={claim.args["better"]: {"rate": b_rate, "ci95": [b_low, b_high]},
                 claim.args["worse"]: {"rate": w_rate, "ci95": [w_low, w_high]}})


def test_prompting_table(prompting_runs, recorder):
    rows = []
    for name, condition in prompting_runs.items():
        kinds = sorted({task.kind for task, _, _ in condition.results})
        for kind in [*kinds, "all"]:
            ok = condition.compliant if kind == "all" else condition.of_kind(kind)
            rate, low, high = wilson(ok)
            rows.append({"condition": name, "model": condition.model_role, "task": kind, "n": len(ok),
                         "compliant": sum(ok), "rate": rate, "95% CI": f"{low:.2f}-{high:.2f}"})
    assert all(0 <= r["rate"] <= 1 for r in rows)
    recorder.add_table(EXPERIMENT, "Prompting: format compliance (95% Wilson intervals)", rows,
                       note="Sentiment: 60 SST-2 dev sentences (balanced, seeded sample), one word; one_word, "
                            "three_lines, numbered_list: FLORES-200 English sentences. Greedy decoding. An "
                            "answer is the text up to the first blank line, EOS or the few-shot separator.")
    recorder.add_table(EXPERIMENT, "Prompting: sentiment accuracy", [
        {"condition": name, "accuracy": c.accuracy()} for name, c in prompting_runs.items()])
    recorder.add_table(EXPERIMENT, "Prompting: sample answers", [
        {"condition": name, "task": task.kind, "input": task.content[:80], "answer": answer[:120],
         "complies": ok}
        for name, c in prompting_runs.items() for task, answer, ok in c.results[:2] + c.results[-2:]],
        in_report=False)
