"""Embedding throughput (pytest-benchmark): `pytest suites --benchmark-only`. Targets are reported in
extra_info, never asserted."""

from __future__ import annotations

import pytest
import torch

from harness.machine import forward_flops, machine_limits

SENTENCES = 256
TARGET_SHARE_OF_MATMUL = 0.40


@pytest.fixture(scope="module")
def english(flores):
    return flores.sentences("eng_Latn")[:SENTENCES]


@pytest.mark.parametrize("batch_size", [1, 8, 32, 64, 128])
def test_embedding_throughput(benchmark, models, english, batch_size):
    model = models.sentence_encoder("minilm")
    benchmark.group = "embedding-throughput"
    benchmark.pedantic(model.encode, args=(english,), kwargs={"batch_size": batch_size},
                       rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update({"batch_size": batch_size, "sentences": len(english),
                                 "sentences_per_second": len(english) / benchmark.stats.stats.mean})


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_attention_implementation_cost(benchmark, models, english, implementation):
    model, tokenizer = models.encoder("encoder", implementation)
    batch = tokenizer(english[:64], padding=True, truncation=True, max_length=128, return_tensors="pt")

    def forward():
        with torch.no_grad():
            return model(**batch)

    benchmark.group = "attention-implementation"
    benchmark.pedantic(forward, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update({"implementation": implementation, "batch": 64,
                                 "sequence_length": int(batch["input_ids"].shape[1])})


def test_embedder_share_of_matmul_throughput(benchmark, models, english, harness):
    """At batch 64, the embedder's achieved GFLOP/s against this machine's fp32 matmul GFLOP/s (measured
    once per host, best over sizes and repeats; harness.machine). Target: at least 40%."""
    model, tokenizer = models.encoder("encoder", "sdpa")
    batch = tokenizer(english[:64], padding=True, truncation=True, max_length=128, return_tensors="pt")

    def forward():
        with torch.no_grad():
            return model(**batch)

    flops = forward_flops(forward)
    benchmark.group = "machine-share"
    benchmark.pedantic(forward, rounds=5, iterations=1, warmup_rounds=1)
    achieved = flops / benchmark.stats.stats.min / 1e9
    peak = machine_limits(harness.cache_dir)["matmul_gflops_fp32"]
    benchmark.extra_info.update({
        "forward_gflop": flops / 1e9, "embedder_gflops": achieved, "matmul_gflops": peak,
        "share_of_matmul": achieved / peak, "target_share": TARGET_SHARE_OF_MATMUL,
        "meets_target": achieved / peak >= TARGET_SHARE_OF_MATMUL,
        "torch_threads": torch.get_num_threads()})
