"""Report section 4: attention, measured on the encoder's own attention probabilities."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fixtures.attention import (
    attend,
    cls_breadth,
    group_mean_share,
    group_ratio,
    layer_groups,
    positional_heads,
    relation_by_group,
    relation_heads,
    relation_hits,
    relation_vs_chance,
    self_attention,
    sink_heads,
    strongest_word_target,
)
from harness.collect import suite_catalog

CATALOG = suite_catalog(__file__)
DEFS = CATALOG.definitions
EXPERIMENT = CATALOG.experiment
FORMULA_SENTENCES = (DEFS["sentence"], "Attention is a learnable, dynamic routing mechanism.",
                     "She went to the bank to deposit her paycheck.")


def groups_of(stats) -> dict[str, list[int]]:
    return layer_groups(stats.layers, DEFS["layer_groups"])


# --- the formula ---------------------------------------------------------------------------

def recompute_attention(model, tokenizer, sentence: str) -> tuple[float, float, float]:
    """Max |difference| of softmax(QK^T/sqrt(d_k)) against the model's probabilities, and of
    softmax(...)V against each self-attention block's output, over every layer and head; and, as
    a negative control, of the wrong formula softmax(QK^T/d_k) against the probabilities."""
    encoded = tokenizer(sentence, return_tensors="pt")
    captured: dict[int, torch.Tensor] = {}
    hooks = [layer.attention.self.register_forward_hook(
        lambda module, args, output, i=i: captured.__setitem__(i, output[0]))
        for i, layer in enumerate(model.encoder.layer)]
    try:
        with torch.no_grad():
            output = model(**encoded, output_attentions=True, output_hidden_states=True)
    finally:
        for hook in hooks:
            hook.remove()
    heads = model.config.num_attention_heads
    worst_probs = worst_out = wrong_probs = 0.0
    for i, layer in enumerate(model.encoder.layer):
        hidden = output.hidden_states[i][0]  # the layer's input
        with torch.no_grad():
            probs, context = self_attention(layer.attention.self, hidden, heads)
            wrong, _ = self_attention(layer.attention.self, hidden, heads, scale_power=1.0)
        worst_probs = max(worst_probs, float((probs - output.attentions[i][0]).abs().max()))
        worst_out = max(worst_out, float((context - captured[i].reshape(context.shape)).abs().max()))
        wrong_probs = max(wrong_probs, float((wrong - output.attentions[i][0]).abs().max()))
    return worst_probs, worst_out, wrong_probs


@pytest.fixture(scope="module")
def formula_differences(models):
    model, tokenizer = models.encoder("encoder")
    results = [recompute_attention(model, tokenizer, s) for s in FORMULA_SENTENCES]
    return tuple(max(r[i] for r in results) for i in range(3))


@pytest.mark.claims("formula_probabilities", "formula_outputs")
def test_attention_formula(claim, formula_differences, models, check):
    index = 0 if claim.measure == "formula_probabilities" else 1
    model, _ = models.encoder(claim.model)
    check(formula_differences[index],
          extra={"sentences": list(FORMULA_SENTENCES), "layers": model.config.num_hidden_layers,
                 "heads": model.config.num_attention_heads, "dtype": "float32",
                 "wrong_formula_d_k_not_sqrt_max_difference": formula_differences[2]})


# --- what Q, K and V are (the pipeline diagram: "Q, K, V = token embeddings") ----------------

def qkv_differences(model, tokenizer, sentence: str) -> dict[str, np.ndarray]:
    """Per layer: ||P - X|| / ||X|| for P in Q, K, V (X = the layer's input; layer 0's is the token
    embeddings), and max |P - (X W^T + b)| against the projection the block itself computed."""
    encoded = tokenizer(sentence, return_tensors="pt")
    captured: dict[tuple[int, str], torch.Tensor] = {}
    hooks = [getattr(layer.attention.self, name).register_forward_hook(
        lambda module, args, output, key=(i, name): captured.__setitem__(key, output[0]))
        for i, layer in enumerate(model.encoder.layer) for name in ("query", "key", "value")]
    try:
        with torch.no_grad():
            output = model(**encoded, output_hidden_states=True)
    finally:
        for hook in hooks:
            hook.remove()
    layers = len(model.encoder.layer)
    relative, identity = np.zeros((layers, 3)), np.zeros((layers, 3))
    with torch.no_grad():
        for i, layer in enumerate(model.encoder.layer):
            x = output.hidden_states[i][0]
            for j, name in enumerate(("query", "key", "value")):
                linear, projected = getattr(layer.attention.self, name), captured[(i, name)]
                relative[i, j] = float((projected - x).norm() / x.norm())
                identity[i, j] = float((projected - (x @ linear.weight.T + linear.bias)).abs().max())
    return {"relative": relative, "identity": identity}


@pytest.fixture(scope="module")
def qkv(models):
    model, tokenizer = models.encoder("encoder")
    found = [qkv_differences(model, tokenizer, s) for s in FORMULA_SENTENCES]
    return {key: np.max([f[key] for f in found], axis=0) for key in ("relative", "identity")}


@pytest.mark.claims("qkv_vs_embeddings")
def test_qkv_are_not_the_embeddings(claim, qkv, check):
    check(float(qkv["relative"][0].max()),
          extra={"layer0_relative_difference": dict(zip("QKV", qkv["relative"][0])),
                 "min_relative_difference_any_layer": float(qkv["relative"].min()),
                 "sentences": list(FORMULA_SENTENCES)})


@pytest.mark.claims("qkv_projection_identity")
def test_qkv_are_projections(claim, qkv, check):
    check(float(qkv["identity"].max()),
          extra={"per_layer_max": qkv["identity"].max(1), "sentences": list(FORMULA_SENTENCES)})


# --- corpus statistics ---------------------------------------------------------------------
# The measurements live in fixtures/attention.py, where tests/test_attention_baselines.py runs the
# same functions on a randomly initialised model: none of these claims may hold there.

@pytest.mark.claims("group_ratio")
def test_layer_group_comparison(claim, corpus_attention_stats, check):
    value, extra = group_ratio(corpus_attention_stats, claim.args["statistic"], claim.args["higher"],
                               claim.args["lower"], groups_of(corpus_attention_stats))
    check(value, extra={**extra, "uniform_entropy": corpus_attention_stats.uniform_entropy})


@pytest.mark.claims("group_neighbour_sep_share")
def test_early_layers_attend_to_neighbours_and_sep(claim, corpus_attention_stats, check):
    value, extra = group_mean_share(corpus_attention_stats, "neighbour_sep_share", claim.args["group"],
                                    groups_of(corpus_attention_stats))
    check(value, extra=extra)


@pytest.mark.claims("positional_heads")
def test_positional_heads_exist(claim, corpus_attention_stats, check):
    value, extra = positional_heads(corpus_attention_stats, claim.args["direction"], DEFS["positional_share"])
    check(value, extra=extra)


@pytest.mark.claims("sink_heads")
def test_sep_is_an_attention_sink(claim, corpus_attention_stats, check):
    value, extra = sink_heads(corpus_attention_stats, claim.args["token"], DEFS["sink_share"])
    check(value, extra=extra)


@pytest.mark.claims("cls_breadth")
def test_cls_spreads_over_the_sentence(claim, corpus_attention_stats, check):
    value, extra = cls_breadth(corpus_attention_stats)
    check(value, extra=extra)


# --- the report's sentence -----------------------------------------------------------------

@pytest.fixture(scope="module")
def report_sentence(models):
    model, tokenizer = models.encoder("encoder")
    return attend(model, tokenizer, DEFS["sentence"])


RELATIONS = DEFS["relations"]


@pytest.fixture(scope="module")
def relations(models):
    model, tokenizer = models.encoder("encoder")
    return {name: relation_hits(model, tokenizer, spec["pairs"]) for name, spec in RELATIONS.items()}


def report_sentence_heads(report_sentence, pair: list[str], layers: list[int]) -> list[tuple[int, int]]:
    tokens, att = report_sentence.tokens, report_sentence.attentions
    source, target = tokens.index(pair[0]), tokens.index(pair[1])
    best = strongest_word_target(att, len(tokens), source)
    return [(layer, int(h)) for layer in layers for h in np.flatnonzero(best[layer] == target)]


@pytest.mark.claims("relation_vs_chance")
def test_relation_beats_chance(claim, relations, report_sentence, check):
    found = relations[claim.args["relation"]]
    groups = layer_groups(found.hits.shape[1], DEFS["layer_groups"])
    value, extra = relation_vs_chance(found, claim.args["group"], groups)
    check(value, extra={**extra,
                        "report_sentence_heads": report_sentence_heads(
                            report_sentence, RELATIONS[claim.args["relation"]]["report_pair"], extra["layers"]),
                        "report_sentence_heads_of": len(extra["layers"]) * found.hits.shape[2]})


@pytest.mark.claims("relation_heads")
def test_syntactic_heads(claim, relations, corpus_attention_stats, check):
    count, extra = relation_heads(relations[claim.args["relation"]], DEFS["positional_share"],
                                  DEFS["specific_factor"])
    check(count, extra={**extra, "corpus_previous_token_rate_of_those_heads":
                        [float(corpus_attention_stats.previous_argmax[h]) for h in extra["heads"]]})


@pytest.mark.claims("relation_by_group")
def test_syntax_by_layer_group(claim, relations, check):
    """Pooled syntactic share, one layer group against another, judged on the sample ([policy.sampling]):
    holds only when the lower end of the paired 90% bootstrap interval of higher / lower is beyond the bound."""
    groups = layer_groups(next(iter(relations.values())).hits.shape[1], DEFS["layer_groups"])
    value, extra = relation_by_group(relations, claim.args["higher"], claim.args["lower"], groups)
    check(value, extra=extra)


def test_sat_attention_table(report_sentence, recorder):
    """Where 'sat' puts its attention, per layer and head (the report's 'sat' -> 'cat')."""
    tokens, att = report_sentence.tokens, report_sentence.attentions
    source = tokens.index("sat")
    assert np.allclose(att.sum(-1), 1.0, atol=1e-5)  # each query's distribution sums to 1
    best = strongest_word_target(att, len(tokens), source)
    rows = [{"layer": layer, **{f"head {h}": f"{tokens[best[layer, h]]} ({att[layer, h, source, best[layer, h]]:.2f})"
                                for h in range(att.shape[1])}}
            for layer in range(att.shape[0])]
    recorder.add_table(EXPERIMENT, "Where 'sat' attends in 'The cat sat on the mat.'", rows,
                       note="Strongest word target of 'sat' per layer and head ([CLS], [SEP] and 'sat' "
                            "itself excluded), with its attention weight.")
    full = [{"layer": layer, "head": h, **{f"{i}:{t}": float(att[layer, h, source, i])
                                          for i, t in enumerate(tokens)}}
            for layer in range(att.shape[0]) for h in range(att.shape[1])]
    recorder.add_table(EXPERIMENT, "Attention of 'sat', every layer and head", full, in_report=False)


def test_per_layer_table_and_plots(corpus_attention_stats, recorder):
    stats = corpus_attention_stats
    groups = {layer: name for name, layers in groups_of(stats).items() for layer in layers}
    per_layer = {
        "[SEP] share": stats.sep_share.mean(1), "[CLS] share": stats.cls_share.mean(1),
        "entropy (nats)": stats.entropy.mean(1), "neighbours+[SEP] share": stats.neighbour_sep_share.mean(1),
        "mean distance (tokens)": stats.distance.mean(1),
        "previous-token heads": (stats.previous_argmax > DEFS["positional_share"]).sum(1),
        "next-token heads": (stats.next_argmax > DEFS["positional_share"]).sum(1),
    }
    assert all(len(v) == stats.layers for v in per_layer.values())
    assert np.all(stats.entropy >= 0) and np.all(stats.entropy <= stats.uniform_entropy + 1.0)
    rows = [{"layer": layer, "group": groups.get(layer, ""), **{k: v[layer] for k, v in per_layer.items()}}
            for layer in range(stats.layers)]
    recorder.add_table(EXPERIMENT, f"Attention by layer ({stats.sentences} FLORES-200 English sentences)",
                       rows, note="Means over word queries and sentences. Early/middle/deep map the "
                                  "report's BERT-base layers 0-3/4-8/9-11 by depth.")
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for ax, key in zip(axes, ["[SEP] share", "[CLS] share", "entropy (nats)", "mean distance (tokens)"]):
        ax.plot(range(stats.layers), per_layer[key], marker="o")
        ax.set_title(key)
        ax.set_xlabel("layer")
    fig.suptitle(f"Attention by layer, mean over {stats.sentences} sentences")
    recorder.add_figure(EXPERIMENT, "Attention statistics by layer", "attention_by_layer", fig)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    image = ax.imshow(stats.sep_share, aspect="auto", cmap="magma", vmin=0, vmax=1)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title("share of attention on [SEP], per head")
    fig.colorbar(image, ax=ax)
    recorder.add_figure(EXPERIMENT, "[SEP] share per layer and head", "attention_sep_share_heads", fig)
