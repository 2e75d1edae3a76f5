"""Report section 5: temperature, top-k, top-p and autoregression on a real base LM."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy import stats
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from fixtures.generation import distinct_n, entropy, nucleus_agrees, paired_flip_p, repeats
from harness.collect import suite_catalog
from harness.policy import load_policy

CATALOG = suite_catalog(__file__)
TEMPERATURES = CATALOG.definitions["temperatures"]
EXPERIMENT = CATALOG.experiment
NO_IDS = torch.zeros((1, 1), dtype=torch.long)  # the warpers ignore input_ids
ALPHA = load_policy().alpha  # [policy.sampling]: a comparison on sampled data must be established at this level
DRAWS = 4000  # sign-flip draws / bootstrap resamples: p-values resolved to ~1/4000, far finer than alpha


def by_rows(fn, logits, rows: int = 8) -> torch.Tensor:
    """fn over `rows` contexts at a time, written into one result tensor (`logits`: a tensor or the fixture's
    RowFile, read a block at a time). The warpers and softmaxes below work row by row, so the result is the
    same for any block size; over all [contexts, 262k] logits at once a top-p warper's sort (values + int64
    indices), softmax and cumsum held several GB. The result is allocated once: small per-block results kept
    in a list until the end sat between the blocks' large temporaries on the heap, which then grew by a
    block's temporaries per kept result (+350-750 MB of RSS for the entropy table, harness/allocator.py)."""
    out, start = None, 0
    for part in logits.split(rows):
        result = fn(part)
        if out is None:
            out = result.new_empty((len(logits), *result.shape[1:]))
        out[start:start + len(result)] = result
        start += len(result)
    if out is None:
        raise ValueError("no next-token logits to read: the profile gives the generation experiment no contexts")
    return out


def entropies(logits) -> np.ndarray:
    """[contexts, temperatures] entropy (nats) after transformers' temperature warper."""
    return torch.stack([by_rows(lambda part, t=t: entropy(TemperatureLogitsWarper(t)(NO_IDS, part.clone())), logits)
                        for t in TEMPERATURES], dim=1).numpy()


@pytest.mark.claims("temperature_scaling")
def test_temperature_scales_logits(claim, base_next_token_logits, check):
    logits = base_next_token_logits
    worst = max(float(by_rows(lambda part, t=t: (TemperatureLogitsWarper(t)(NO_IDS, part.clone()) - part / t).abs()
                              .amax(-1), logits).max()) for t in TEMPERATURES)
    check(worst, extra={"contexts": len(logits)})


def temperature_runs(suite) -> dict[str, object]:
    """The sampled runs that only set a temperature (no top-k, no top-p), including extra seeds."""
    return {name: r for name, r in suite.runs.items()
            if r.settings["do_sample"] and r.settings["top_k"] is None and r.settings["top_p"] == 1.0}


def surprisal_z(run, suffix: str = "") -> float:
    """z of the sampled tokens' summed surprisal -log p(token) (p: the model's untruncated
    distribution) against its mean and variance if every token had been drawn from softmax(logits / T)
    (suffix "_T1": with T ignored). Each token is drawn given its own prefix, so the centred terms are
    martingale differences and the sum over a run is approximately normal (martingale CLT)."""
    observed = -np.asarray(run.tokens["logp"])
    mean = np.asarray(run.tokens[f"surprisal_mean{suffix}"])
    var = float(np.sum(run.tokens[f"surprisal_var{suffix}"]))
    gap = float(np.sum(observed - mean))
    if var <= 0:
        return 0.0 if abs(gap) < 1e-9 else float("inf")
    return gap / var ** 0.5


@pytest.mark.claims("temperature_sampling")
def test_sampled_tokens_follow_scaled_softmax(claim, decoding_suite, check):
    runs = temperature_runs(decoding_suite)
    z = {name: surprisal_z(r) for name, r in runs.items()}
    z_ignored = {name: surprisal_z(r, "_T1") for name, r in runs.items()}
    chi2 = float(sum(v ** 2 for v in z.values()))
    p_value = float(stats.chi2.sf(chi2, df=len(z)))
    p_ignored = float(stats.chi2.sf(sum(v ** 2 for v in z_ignored.values()), df=len(z)))
    check(p_value, extra={
        "runs": {name: {"temperature": r.settings["temperature"], "tokens": len(r.tokens["logp"]),
                        "z": z[name], "z_if_temperature_ignored": z_ignored[name]} for name, r in runs.items()},
        "chi2": chi2, "df": len(z), "p_if_temperature_ignored": p_ignored,
        "sampling_distribution": "softmax(logits / T) with the EOS ids masked (min_new_tokens)"})


@pytest.mark.claims("sampled_argmax_share")
def test_low_temperature_picks_top_token(claim, decoding_suite, check):
    def share(names: list[str]) -> float:
        ranks = np.concatenate([decoding_suite.runs[n].tokens["rank"] for n in names])
        return float((ranks == 1).mean())
    prefix = claim.args["strategy"]
    low = [n for n in decoding_suite.runs if n == prefix or n.startswith(prefix + " seed")]
    check(share(low), extra={"runs": low, "tokens": sum(len(decoding_suite.runs[n].tokens["rank"]) for n in low),
                             "baseline_share": {b: share([b]) for b in claim.args["baselines"]}})


@pytest.mark.claims("sampled_rank")
def test_top_k_samples_stay_in_top_k(claim, decoding_suite, check):
    k = claim.args["k"]
    def share(name: str) -> float:
        return float((np.asarray(decoding_suite.runs[name].tokens["rank"]) <= k).mean())
    ranks = np.asarray(decoding_suite.runs[claim.args["strategy"]].tokens["rank"])
    check(share(claim.args["strategy"]),
          extra={"tokens": len(ranks), "max_rank": int(ranks.max()),
                 "baseline_share": {b: share(b) for b in claim.args["baselines"]}})


def low_probability_share(run) -> float:
    """Share of sampled tokens whose untruncated probability is below 1/|V| (the uniform rate)."""
    return float((np.asarray(run.tokens["logp"]) < -np.log(run.vocab_size)).mean())


@pytest.mark.claims("low_probability_share")
def test_low_probability_tokens(claim, decoding_suite, check):
    values = {s: low_probability_share(decoding_suite.runs[s]) for s in claim.args["strategies"]}
    run = decoding_suite.runs[claim.args["strategies"][0]]
    check(values if len(values) > 1 else next(iter(values.values())),
          extra={"threshold": f"p < 1/|V| = 1/{run.vocab_size}", "tokens": len(run.tokens["logp"]),
                 "counts": {s: int(round(v * len(decoding_suite.runs[s].tokens["logp"]))) for s, v in values.items()},
                 "baseline_share": {b: low_probability_share(decoding_suite.runs[b])
                                    for b in claim.args.get("baselines", [])}})


@pytest.mark.claims("sampled_in_nucleus")
def test_top_p_samples_stay_in_nucleus(claim, decoding_suite, check):
    p = decoding_suite.runs[claim.args["strategy"]].settings["top_p"]
    inside = np.asarray(decoding_suite.runs[claim.args["strategy"]].tokens["in_nucleus"])
    check(float(inside.mean()), extra={
        "tokens": len(inside), "outside": int((inside == 0).sum()),
        "nucleus": f"smallest probability-sorted set with cumulative probability >= {p}, float64, EOS masked",
        "baseline_share": {b: float(np.mean(decoding_suite.runs[b].tokens["in_nucleus"]))
                           for b in claim.args["baselines"]}})



@pytest.mark.claims("nucleus_is_smallest_set")
def test_top_p_keeps_smallest_set(claim, base_next_token_logits, check):
    p = claim.args["p"]
    agree = [nucleus_agrees(row, kept, p) for part in base_next_token_logits.split(8)
             for row, kept in zip(part, torch.isfinite(TopPLogitsWarper(top_p=p)(NO_IDS, part.clone())))]
    same, edge = [a for a, _ in agree], sum(e for _, e in agree)
    check(float(np.mean(same)), extra={"contexts": len(same), "differ": len(same) - int(sum(same)),
                                       "cumulative_mass_within_1e-6_of_p": edge})


@pytest.mark.claims("entropy_vs_temperature")
def test_entropy_rises_with_temperature(claim, base_next_token_logits, check):
    h = entropies(base_next_token_logits)
    rising = (np.diff(h, axis=1) >= -1e-9).all(axis=1) & (h[:, -1] > h[:, 0])
    check(float(rising.mean()),
          extra={"contexts": len(h), "mean_entropy_by_T": dict(zip(map(str, TEMPERATURES), h.mean(0)))})


@pytest.mark.claims("greedy_agreement")
def test_low_temperature_is_near_deterministic(claim, decoding_suite, check):
    """Share of sampled continuations identical to greedy decoding over their first `tokens` tokens:
    a length fixed in the catalog, so the verdict does not depend on how many tokens a profile generates."""
    length = int(claim.args["tokens"])
    if decoding_suite.max_new_tokens < length:
        raise ValueError(f"{claim.id} judges the first {length} tokens, but this profile generates only "
                         f"{decoding_suite.max_new_tokens} (decoding_new_tokens)")
    greedy = [g[:length] for g in decoding_suite.runs["greedy"].continuations]
    runs = [r for name, r in decoding_suite.runs.items() if name.startswith(claim.args["strategy"])]
    pairs = [(a[:length], g) for r in runs for a, g in zip(r.continuations, greedy)]
    same = [a == g for a, g in pairs]
    agreed = [next((i for i, (x, y) in enumerate(zip(a, g)) if x != y), length) for a, g in pairs]
    top = float(np.mean([np.asarray(ranks[:length]) == 1 for r in runs for ranks in r.per_context("rank")]))
    check(sum(same) / len(same),
          extra={"continuations": len(same), "seeds": [r.seed for r in runs], "judged_tokens": length,
                 "new_tokens": decoding_suite.max_new_tokens,
                 "mean_tokens_before_leaving_greedy": float(np.mean(agreed)),
                 # a continuation equals greedy exactly when every judged step drew the top token, so
                 # with independent steps its share would be the per-token share to the power `tokens`
                 "per_token_top_share": top, "per_token_top_share_to_the_judged_tokens": top ** length})


def metric(run, name: str) -> float:
    return {"distinct-1": run.distinct(1), "distinct-2": run.distinct(2), "perplexity": run.perplexity,
            "repetition": run.repetition}[name]


def paired_items(run, name: str) -> tuple[list, object]:
    """One item per context (so two strategies pair up context by context) and the statistic that
    turns a list of items into the metric."""
    if name in ("distinct-1", "distinct-2"):
        n = int(name[-1])
        return run.continuations, lambda items: distinct_n(items, n)
    if name == "repetition":
        return run.continuations, lambda items: float(np.mean([repeats(c) for c in items]))
    if name == "low-probability":  # tokens below 1/|V| under the untruncated distribution
        floor = -np.log(run.vocab_size)
        return ([[v < floor for v in row] for row in run.per_context("logp")],
                lambda items: float(np.mean([v for row in items for v in row])))
    raise KeyError(f"no paired metric {name!r}")


@pytest.mark.claims("strategy_test")
def test_decoding_strategy_comparison(claim, decoding_suite, check):
    """A comparison of decoding strategies on sampled text, judged as [policy.sampling] says: each
    link of the claimed order (highest first) is tested by a one-sided paired sign-flip test over
    the contexts. The claim is established when every link is (the largest p), contradicted when any
    link is established the other way (the smallest reverse p, Bonferroni over the links), and
    inconclusive otherwise."""
    order, name = claim.args["order"], claim.args["metric"]
    items = {s: paired_items(decoding_suite.runs[s], name) for s in order}
    links = {f"{hi} > {lo}": paired_flip_p(items[hi][0], items[lo][0], items[hi][1], draws=DRAWS,
                                           seed=decoding_suite.seeds[0])
             for hi, lo in zip(order, order[1:])}
    # holds when every link is established (intersection-union: the largest p); refuted when some link is
    # established the other way, a union of tests: Bonferroni over the links keeps that at alpha
    reverse = min(1.0, len(links) * min(r for _, r in links.values()))
    check({"p": max(p for p, _ in links.values()), "p_reverse": reverse}, extra={
        "metric": name, "values": {s: stat(its) for s, (its, stat) in items.items()},
        "one_sided_p": {link: p for link, (p, _) in links.items()},
        "one_sided_p_reverse": {link: r for link, (_, r) in links.items()},
        "test": f"paired sign-flip over {len(decoding_suite.contexts)} contexts, {DRAWS} draws, one-sided",
        "contexts": len(decoding_suite.contexts), "new_tokens": decoding_suite.max_new_tokens})


@pytest.mark.claims("strategy_metric")
def test_decoding_strategy_metric(claim, decoding_suite, check):
    values = {s: metric(decoding_suite.runs[s], claim.args["metric"]) for s in claim.args["strategies"]}
    check(values,
          extra={"contexts": len(decoding_suite.contexts), "new_tokens": decoding_suite.max_new_tokens})


@pytest.mark.claims("top_k_kept")
def test_top_k_keeps_k(claim, base_next_token_logits, check):
    k = claim.args["k"]
    kept = by_rows(lambda part: torch.isfinite(TopKLogitsWarper(top_k=k)(NO_IDS, part.clone())).sum(-1),
                   base_next_token_logits)
    check(float((kept == k).float().mean()),
          extra={"kept_min": int(kept.min()), "kept_max": int(kept.max())})


def nucleus_sizes(logits, p: float) -> tuple[np.ndarray, np.ndarray]:
    kept = by_rows(lambda part: torch.isfinite(TopPLogitsWarper(top_p=p)(NO_IDS, part.clone())).sum(-1), logits)
    top = by_rows(lambda part: torch.softmax(part.double(), -1).amax(-1), logits)
    return kept.numpy(), top.numpy()


def halves_ratio(sizes: np.ndarray, top: np.ndarray) -> float:
    """Mean nucleus size in the uncertain half of the contexts over that in the confident half (split at
    the median top-token probability)."""
    confident = top > np.median(top)
    if confident.all() or not confident.any():
        return float("nan")
    return float(sizes[~confident].mean() / sizes[confident].mean())


@pytest.mark.claims("nucleus_adapts")
def test_top_p_adapts_to_confidence(claim, base_next_token_logits, recorder, profile, check):
    sizes, top = nucleus_sizes(base_next_token_logits, claim.args["p"])
    rho = float(stats.spearmanr(top, sizes).statistic)
    quantiles = np.percentile(sizes, [0, 10, 25, 50, 75, 90, 100])
    recorder.add_table(EXPERIMENT, f"Nucleus size at p = {claim.args['p']} across contexts", [
        {"percentile": q, "tokens in nucleus": int(v)} for q, v in zip([0, 10, 25, 50, 75, 90, 100], quantiles)],
        note=f"{len(sizes)} FLORES-200 English contexts; Spearman(top probability, nucleus size) = {rho:.3f}.")
    ratios = [halves_ratio(sizes[i], top[i]) for i in np.random.default_rng(profile.seed).integers(
        0, len(sizes), (DRAWS, len(sizes)))]
    interval = np.percentile(ratios, [100 * ALPHA, 100 * (1 - ALPHA)])
    confident = top > np.median(top)
    # [policy.sampling]: "more" on a sample of contexts holds when the whole 90% bootstrap interval of
    # uncertain / confident lies beyond 1 (each end a one-sided test at alpha)
    check({"interval": [float(v) for v in interval], "confidence": round(1 - 2 * ALPHA, 6)}, extra={
        "mean_nucleus_size": {"uncertain half": float(sizes[~confident].mean()),
                              "confident half": float(sizes[confident].mean())},
        "ratio_uncertain_over_confident": halves_ratio(sizes, top),
        f"ratio_bootstrap_{round(100 * (1 - 2 * ALPHA))}": [float(v) for v in interval],
        "contexts": len(sizes), "spearman_top_probability_vs_size": rho,
        "median_top_probability": float(np.median(top)), "nucleus_size_quantiles": quantiles})


@pytest.mark.claims("chain_rule")
def test_chain_rule_with_kv_cache(claim, base_lm, generation_contexts, check):
    _, lm, tokenizer = base_lm
    worst = 0.0
    for text in generation_contexts[:6]:
        ids = tokenizer(text, return_tensors="pt").input_ids
        with torch.no_grad():
            logp = torch.log_softmax(lm(ids).logits.double(), -1)
            one_pass = float(logp[0, :-1].gather(-1, ids[0, 1:, None]).sum())
            step, past = 0.0, None
            for i in range(ids.shape[1] - 1):
                out = lm(ids[:, i:i + 1], cache=past, use_cache=True)
                past = out.cache
                step += float(torch.log_softmax(out.logits[0, -1].double(), -1)[ids[0, i + 1]])
        worst = max(worst, abs(one_pass - step))
    check(worst, extra={"sequences": 6})


@pytest.mark.claims("cache_equivalence")
def test_cached_and_uncached_decoding_agree(claim, base_lm, generation_contexts, check):
    _, lm, tokenizer = base_lm
    batch = tokenizer(generation_contexts[:8], return_tensors="pt", padding=True)
    outputs = {}
    for cache in (True, False):
        with torch.no_grad():
            outputs[cache] = lm.generate(**batch, max_new_tokens=12, do_sample=False,
                                         use_cache=cache, pad_token_id=tokenizer.pad_token_id)
    same = (outputs[True] == outputs[False]).all(-1).float()
    check(float(same.mean()), extra={"contexts": 8})


def test_decoding_table_and_plots(decoding_suite, base_next_token_logits, recorder):
    runs = decoding_suite.runs
    rows = [{"method": name, "perplexity": r.perplexity, "repetition %": 100 * r.repetition,
             "distinct-1": r.distinct(1), "distinct-2": r.distinct(2)}
            for name, r in runs.items() if "seed" not in name]
    assert all(row["perplexity"] > 1 for row in rows)
    recorder.add_table(EXPERIMENT, "Decoding strategies (in the shape of Holtzman et al. 2020, Table 1)", rows,
                       note=f"{len(decoding_suite.contexts)} FLORES-200 prefixes x {decoding_suite.max_new_tokens} "
                            f"new tokens, Gemma-3-270M base; perplexity under the model itself; repetition = "
                            f"continuations that repeat a 4-gram.")
    recorder.add_table(EXPERIMENT, "Sample continuations", [
        {"method": name, "context": decoding_suite.contexts[0], "continuation": r.texts[0]}
        for name, r in runs.items() if "seed" not in name])
    h = entropies(base_next_token_logits)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(TEMPERATURES, h.mean(0), marker="o", label="mean")
    ax1.fill_between(TEMPERATURES, np.percentile(h, 10, 0), np.percentile(h, 90, 0), alpha=0.25, label="10-90%")
    ax1.set_xlabel("temperature")
    ax1.set_ylabel("next-token entropy (nats)")
    ax1.set_title(f"Entropy vs T ({len(h)} contexts)")
    ax1.legend()
    sampled = {0.1: runs["T=0.1"], 0.7: runs["T=0.7"], 1.0: runs["pure sampling"], 1.2: runs["T=1.2"]}
    ax2.plot(list(sampled), [r.distinct(2) for r in sampled.values()], marker="o")
    ax2.set_xlabel("temperature")
    ax2.set_ylabel("distinct-2")
    ax2.set_title("Diversity vs T")
    recorder.add_figure(EXPERIMENT, "Entropy and distinct-2 against temperature", "generation_temperature", fig)
