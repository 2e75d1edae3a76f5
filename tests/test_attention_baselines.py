"""No attention head-pattern claim holds on a randomly initialised model.

A claim about what a trained model's heads do is evidence only if an untrained model of the same shape
fails it. A random BERT attends almost uniformly, with small biases fixed by its random weights: a check
that uniform attention passes (the [CLS] query's share on the words is words / (words + 2)) or that such a
bias passes (a head whose random key favours every determiner; a layer group a few percent more diffuse,
established on the sample) holds here too. So this test builds BertModel(config) with the packaged
encoder's config and tokenizer (seed 0, eager attention), runs the attention suite's own measurement
functions (fixtures/attention.py) on the catalog's labelled sentences, and asserts that each claim's own
check, read from suites/attention/catalog.toml, does NOT hold.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from fixtures import attention
from fixtures.attention import (
    cls_breadth,
    corpus_attention,
    group_mean_share,
    group_ratio,
    layer_groups,
    positional_heads,
    relation_by_group,
    relation_heads,
    relation_hits,
    relation_vs_chance,
    sink_heads,
)
from harness.checks import decide
from harness.claims import load_catalog
from harness.models import ModelUnavailable, resolve, verified_package_dir

CATALOG = load_catalog(Path(__file__).resolve().parents[1] / "suites" / "attention" / "catalog.toml")
DEFS = CATALOG.definitions
# the head-pattern measurements; the formula and Q, K, V claims are about the architecture
MEASURES = ("cls_breadth", "sink_heads", "positional_heads", "group_ratio", "group_neighbour_sep_share",
            "relation_vs_chance", "relation_heads", "relation_by_group")


@pytest.fixture(scope="module")
def random_model():
    from transformers import AutoTokenizer, BertConfig, BertModel

    try:
        source = resolve("encoder", "packaged")
        path = verified_package_dir(source) / source.spec["path"]
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    config = BertConfig.from_pretrained(path, attn_implementation="eager")
    torch.manual_seed(0)
    model = BertModel(config).eval()
    assert model.config._attn_implementation == "eager"  # sdpa returns no attention probabilities
    return model, AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def measured(random_model):
    model, tokenizer = random_model
    cached = functools.lru_cache(maxsize=None)(attention.attend)  # each sentence runs once (84, in 108 pairs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attention, "attend", cached)
        relations = {name: relation_hits(model, tokenizer, spec["pairs"])
                     for name, spec in DEFS["relations"].items()}
        sentences = sorted({pair[0] for spec in DEFS["relations"].values() for pair in spec["pairs"]})
        stats = corpus_attention(model, tokenizer, sentences)
    return stats, relations, layer_groups(stats.layers, DEFS["layer_groups"])


def measure(claim, stats, relations, groups):
    args = claim.args
    if claim.measure == "cls_breadth":
        return cls_breadth(stats)
    if claim.measure == "sink_heads":
        return sink_heads(stats, args["token"], DEFS["sink_share"])
    if claim.measure == "positional_heads":
        return positional_heads(stats, args["direction"], DEFS["positional_share"])
    if claim.measure == "group_ratio":
        return group_ratio(stats, args["statistic"], args["higher"], args["lower"], groups)
    if claim.measure == "group_neighbour_sep_share":
        return group_mean_share(stats, "neighbour_sep_share", args["group"], groups)
    if claim.measure == "relation_vs_chance":
        return relation_vs_chance(relations[args["relation"]], args["group"], groups)
    if claim.measure == "relation_heads":
        return relation_heads(relations[args["relation"]], DEFS["positional_share"], DEFS["specific_factor"])
    if claim.measure == "relation_by_group":
        return relation_by_group(relations, args["higher"], args["lower"], groups)
    raise AssertionError(f"{claim.id}: no measurement for {claim.measure!r}")


def test_every_head_pattern_claim_is_measured_here():
    measures = {claim.measure for claim in CATALOG.claims if claim.evidence != "definition"}
    architecture = {"formula_probabilities", "formula_outputs", "qkv_vs_embeddings"}
    assert measures - architecture == set(MEASURES), "a new attention measurement needs its random-model check"


@pytest.mark.parametrize("catalog_claim", CATALOG.by_measure(*MEASURES), ids=lambda c: c.id)
def test_claim_does_not_hold_on_a_random_model(catalog_claim, measured):
    claim = catalog_claim  # not named `claim`: the plugin would treat it as a suite claim
    value, extra = measure(claim, *measured)
    decision = decide(claim.check, claim.spec, value)
    shown = {k: v for k, v in extra.items() if k in ("ratio", "ratio_interval", "best_share")}
    assert not decision.holds, (f"{claim.id} holds on a randomly initialised model ({decision.detail}; {shown}): "
                                f"it is no evidence about the trained model")
