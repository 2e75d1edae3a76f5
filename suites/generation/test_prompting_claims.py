"""Report section 5, prompt engineering: instruction following and few-shot format compliance,
decided under harness/policy.toml: rates with 95% Wilson intervals, factor words on failure
rates, and a paired exact McNemar test where two conditions answer the same items."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest
from transformers import GPT2Config, GPT2LMHeadModel

EXPERIMENT = "generation"


def wilson(successes: list[bool]) -> tuple[float, float, float]:
    """Rate and its 95% Wilson score interval (scipy's binomtest)."""
    n, k = len(successes), sum(successes)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return k / n, ci.low, ci.high


@pytest.mark.claims("gpt2_parameters")
def test_gpt2_parameters(claim, check):
    """GPT-2 small's size from transformers' default GPT2Config (no weights: built on the meta device);
    parameters() yields the tied LM head / token embedding once."""
    config = GPT2Config()
    with torch.device("meta"):
        model = GPT2LMHeadModel(config)
    check(sum(p.numel() for p in model.parameters()),
          extra={"layers": config.n_layer, "d_model": config.n_embd, "vocab": config.vocab_size,
                 "positions": config.n_positions,
                 "lm_head_tied": model.lm_head.weight is model.transformer.wte.weight})


@pytest.mark.claims("compliance_bound")
def test_base_model_ignores_instructions(claim, prompting_runs, check):
    rate, low, high = wilson(prompting_runs[claim.args["condition"]].compliant)
    check(high if claim.args["bound"] == "upper" else low,
          extra={"rate": rate, "ci95": [low, high],
                 "n": len(prompting_runs[claim.args["condition"]].compliant)})


def mcnemar_one_sided(better: list[bool], worse: list[bool]) -> tuple[float, int, int]:
    """Exact one-sided McNemar test on paired outcomes (the same items under two conditions):
    p-value of 'better complies more often', and the discordant counts (better only, worse only)."""
    if len(better) != len(worse):
        raise ValueError(f"paired outcomes need the same items: {len(better)} vs {len(worse)}")
    b_only = sum(b and not w for b, w in zip(better, worse))
    w_only = sum(w and not b for b, w in zip(better, worse))
    if b_only + w_only == 0:
        return 1.0, 0, 0
    return float(binomtest(b_only, b_only + w_only, 0.5, alternative="greater").pvalue), b_only, w_only


def paired(runs, better: str, worse: str) -> tuple[list[bool], list[bool]]:
    """Both conditions' outcomes in the same item order (they answer the same task list)."""
    b, w = runs[better], runs[worse]
    if [t for t, _, _ in b.results] != [t for t, _, _ in w.results]:
        raise ValueError(f"{better!r} and {worse!r} did not answer the same items in the same order")
    return b.compliant, w.compliant


def comparison_extra(runs, better: str, worse: str) -> dict:
    b_ok, w_ok = paired(runs, better, worse)
    p, b_only, w_only = mcnemar_one_sided(b_ok, w_ok)
    extra = {}
    for name, ok in ((better, b_ok), (worse, w_ok)):
        rate, low, high = wilson(ok)
        extra[name] = {"rate": rate, "ci95": [low, high], "n": len(ok),
                       "by_task": {k: wilson(runs[name].of_kind(k))[0]
                                   for k in sorted({t.kind for t, _, _ in runs[name].results})}}
    extra["mcnemar_one_sided_p"] = p
    extra["discordant"] = {f"{better} only": b_only, f"{worse} only": w_only}
    return extra


@pytest.mark.claims("failure_ratio")
def test_failure_ratio(claim, prompting_runs, check):
    """How many times less often the better condition fails ([policy.words]: a rate compared with a
    factor word uses the factor on the failure rates)."""
    better, worse = claim.args["better"], claim.args["worse"]
    b_ok, w_ok = paired(prompting_runs, better, worse)
    b_fail, w_fail = 1 - sum(b_ok) / len(b_ok), 1 - sum(w_ok) / len(w_ok)
    ratio = w_fail / b_fail if b_fail > 0 else (float("inf") if w_fail > 0 else 1.0)
    check(ratio, extra={"failure_rates": {better: b_fail, worse: w_fail},
                        **comparison_extra(prompting_runs, better, worse)})


@pytest.mark.claims("paired_test")
def test_paired_compliance_test(claim, prompting_runs, check):
    better, worse = claim.args["better"], claim.args["worse"]
    p, _, _ = mcnemar_one_sided(*paired(prompting_runs, better, worse))
    check(p, extra=comparison_extra(prompting_runs, better, worse))


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
