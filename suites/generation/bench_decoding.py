"""Decoding speed (pytest-benchmark): `pytest suites -m benchmark`. Tokens per second with and
without the KV cache, per-token latency, and cached decoding against the memory-bandwidth bound."""

from __future__ import annotations

import pytest
import torch

from fixtures.generation import prepare_tokenizer
from harness.machine import copy_bandwidth_gbs

pytestmark = pytest.mark.benchmark
NEW_TOKENS = 32
PROMPT = "The history of the city begins with"


@pytest.fixture(scope="module")
def bandwidth_gbs() -> float:
    return copy_bandwidth_gbs()


@pytest.mark.parametrize("cache", [True, False], ids=["kv-cache", "no-cache"])
@pytest.mark.parametrize("role", ["smollm2", "gemma3"])
def test_decoding_tokens_per_second(benchmark, models, role, cache, bandwidth_gbs):
    lm = models.causal_lm(role)
    tokenizer = prepare_tokenizer(models.tokenizer(role))
    batch = tokenizer([PROMPT], return_tensors="pt")

    def run():
        with torch.no_grad():
            return lm.generate(**batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                               use_cache=cache, pad_token_id=tokenizer.pad_token_id)

    benchmark.group = f"decoding-{role}"
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    seconds = benchmark.stats.stats.mean
    weight_bytes = sum(p.numel() * p.element_size() for p in lm.parameters())
    bound = bandwidth_gbs * 1e9 / weight_bytes  # tokens/s if every token reads every weight once
    achieved = NEW_TOKENS / seconds
    benchmark.extra_info.update({
        "model": role, "kv_cache": cache, "new_tokens": NEW_TOKENS, "tokens_per_second": achieved,
        "ms_per_token": 1000 * seconds / NEW_TOKENS, "weight_bytes": weight_bytes,
        "copy_bandwidth_gbs": bandwidth_gbs, "bandwidth_bound_tokens_per_second": bound,
        "share_of_bandwidth_bound": achieved / bound})
