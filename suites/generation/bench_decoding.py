"""Decoding speed (pytest-benchmark): `pytest suites --benchmark-only`. Tokens per second with and
without the KV cache, per-token latency, and cached greedy decoding at batch 1 against the
memory-bandwidth bound.

The bound, and what it assumes:
- At batch 1 a decoding step is a chain of matrix-vector products, so it reads every weight once
  and does ~2 flops per weight byte / 4: memory traffic, not arithmetic, sets its speed.
- Bytes read per token = the model's unique parameter bytes (a tied embedding counted once: the LM
  head reads the whole matrix, the input lookup one row of it) + the KV cache attention reads at that
  step (2 x layers x kv heads x head dim x cached positions x element size, averaged over the
  decoded steps). Activations (a few KB), sampling and Python dispatch are not memory traffic and
  count against the achieved rate, not the bound.
- Bandwidth = the larger of this host's cached copy figure (harness.machine, buffers beyond the
  last-level cache) and a read probe run right next to the measurement (best of repeats of a float32
  sum over as many bytes as the model's weights, which reads like a matrix-vector product), so a probe
  run while the machine was busy never inflates the share. Both read more than the cache holds, as the
  weights do. (Before, the host figure took 64 MiB copies too, which ran in a 300 MiB L3 at 54.5 GB/s
  against 25-27 GB/s beyond it, and the read probe was 256 MiB: 33.3 GB/s against 28.4-30.9 GB/s over
  as many bytes as SmolLM2's or Gemma-3's weights.)
- Only decoding steps are timed: (time of generate(1 + N tokens) - time of generate(1 token)) / N,
  which removes the prompt's prefill and generate()'s fixed set-up from the per-token time.

Configurations: the suite's own (fp32, eager attention, dynamic cache: what the claims measure), the
fast path (fp32, SDPA attention, static KV cache: pre-allocated, so a step appends nothing and
allocates nothing), and the fast path compiled: transformers' own `CompileConfig` compiles the
decoding step with torch.compile (inductor, fixed shapes), which fuses each layer's few hundred small
operations into generated C++ kernels. At batch 1 most of an eager step beyond the weight reads is
per-operation dispatch (SmolLM2's 30 layers of 576-wide matrices: 40.9 ms per token against the
bound's 20.3 at 26.6 GB/s), and that is what compiling removes (28.6 ms in a standalone probe; in
three benchmark runs on 2 cores SmolLM2 reached 0.69 / 0.79 / 0.65 of the bound compiled against
0.54 / 0.55 / 0.48 eager). Gemma-3's step is mostly its 671 MB output layer, so it gains less and not
in every run (0.84 / 0.63 / 0.66 compiled, 0.71 / 0.69 / 0.60 with SDPA and the static cache alone).
The first compiled call (outside the timing) took 34-63 s, 9-57 s with inductor's on-disk kernel cache
warm; the compiled run's tokens are compared with the uncompiled run's (`same_tokens_as_uncompiled`),
and a run in which nothing was compiled fails rather than report eager decoding as compiled.
Weights stay fp32: the CPU this was measured on (AVX2, no AVX512-BF16/AMX; later
hosts of this project have AMX, not re-measured) multiplied bf16/fp16
matrices far slower than fp32 (a 576x1536 bf16 matrix-vector product took ~20 ms against 0.12 ms),
so a smaller dtype halves the bytes but not the time. On CPU the output layer is
harness.lm_head.SlicedLMHead (the same weight; at batch 1 as fast as F.linear: 86 against 85 ms
for Gemma-3's head). The 1-thread variant: a batch-1 step is a few
hundred small operations, each ending in an OpenMP barrier; on a shared 2-core machine a barrier waits
for a descheduled thread (measured under load ~6-10: SmolLM2 195-261 ms/token with 1 thread against
417-690 ms with 2), while one core already streams most of the bandwidth a matrix-vector product uses.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

from fixtures.generation import prepare_tokenizer
from harness.machine import best_of, machine_limits

NEW_TOKENS = 32
TOKENIZERS_PARALLELISM = "TOKENIZERS_PARALLELISM"  # the tokenizers library's switch for its thread pool
PROMPT = "The history of the city begins with"
CONFIGS = {  # id: (attention, cache implementation or None for the dynamic cache, threads or 0 = as set, compiled)
    "eager-dynamic": ("eager", None, 0, False),
    "sdpa-static": ("sdpa", "static", 0, False),
    "sdpa-static-1thread": ("sdpa", "static", 1, False),
    "sdpa-static-compiled": ("sdpa", "static", 0, True),  # last: the uncompiled runs of the same model come first
}


def compile_config() -> Any:
    """transformers' own compilation of generate()'s decoding steps (CompileConfig, used with a static
    cache), on CPU as well: transformers compiles by itself only on GPU-like devices, and
    `_compile_all_devices` is its flag for any other. Inductor, fixed shapes (the static cache's)."""
    from transformers import CompileConfig

    config = CompileConfig(fullgraph=False, dynamic=False, mode="default")
    config._compile_all_devices = True
    return config


def compiled_graphs() -> int:
    """Graphs torch.compile (dynamo) has compiled in this process so far."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def missing_compiler() -> str | None:
    """Why torch.compile cannot build CPU kernels here (inductor writes C++ and needs a compiler), or None."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        return (f"torch.compile on CPU needs a C++ compiler ({compiler!r} not found): "
                "install one (`apt-get install g++`) or set CXX")
    return None


def read_bandwidth_gbs(nbytes: int, repeats: int = 5) -> float:
    """Best-of-N GB/s of reading a float32 buffer of `nbytes` once (a sum)."""
    buffer = torch.ones(nbytes // 4)
    return buffer.numel() * 4 / best_of(buffer.sum, repeats) / 1e9


def weight_bytes(lm) -> int:
    """Unique parameter bytes: `parameters()` yields a tied embedding / LM head once."""
    return sum(p.numel() * p.element_size() for p in lm.parameters())


def kv_bytes_per_token(lm, prompt_tokens: int, new_tokens: int) -> float:
    """KV cache bytes read by one decoding step, averaged over the decoded steps."""
    config = lm.config.get_text_config()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    per_position = 2 * config.num_hidden_layers * kv_heads * head_dim * next(lm.parameters()).element_size()
    return per_position * (prompt_tokens + (new_tokens + 1) / 2)


def bandwidth_gbs(harness, read_bytes: int) -> dict[str, float | None]:
    """The larger of the host's copy bandwidth (beyond its last-level cache, harness/machine.py) and a read
    of as many bytes as the model's weights, next to the workload: what one decoding step must stream."""
    limits = machine_limits(harness.cache_dir)  # cached per host unless measured under load
    cached = float(limits["copy_bandwidth_gbs"])
    probe = read_bandwidth_gbs(read_bytes)
    return {"host_copy_gbs": cached, "host_load_avg_1min": limits.get("load_avg_1min"),
            "read_probe_bytes": read_bytes, "read_probe_gbs": probe, "bandwidth_gbs": max(cached, probe)}


def generator(lm, tokenizer, batch, new_tokens: int, **settings: Any) -> Callable[[], torch.Tensor]:
    def run() -> torch.Tensor:
        with torch.inference_mode():
            return lm.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                               pad_token_id=tokenizer.pad_token_id, **settings)
    return run


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("role", ["smollm2", "gemma3"])
def test_cached_decoding_share_of_bound(benchmark, models, harness, role, config):
    attention, cache, threads, compiled = CONFIGS[config]
    if compiled and (reason := missing_compiler()):
        pytest.skip(reason)
    lm = models.causal_lm(role, attn_implementation=attention)
    bandwidth = bandwidth_gbs(harness, weight_bytes(lm))  # probed with every thread, whatever the decoding uses
    before, parallelism = torch.get_num_threads(), os.environ.get(TOKENIZERS_PARALLELISM)
    if threads:
        torch.set_num_threads(threads)
    try:
        measure_cached(benchmark, bandwidth, lm, models.tokenizer(role), role, attention, cache, compiled)
    finally:
        torch.set_num_threads(before)
        # generate() sets it to "0" for the whole process when it compiles, which left the FLORES sweep
        # benchmark after it on one core (265 s against 148)
        if parallelism is None:
            os.environ.pop(TOKENIZERS_PARALLELISM, None)
        else:
            os.environ[TOKENIZERS_PARALLELISM] = parallelism


def measure_cached(benchmark, bandwidth: dict[str, float], lm, tokenizer, role: str, attention: str,
                   cache: str | None, compiled: bool = False) -> None:
    tokenizer = prepare_tokenizer(tokenizer)
    batch = tokenizer([PROMPT], return_tensors="pt")
    settings = {"cache_implementation": cache} if cache else {}
    prefill = best_of(generator(lm, tokenizer, batch, 1, **settings))  # one token: the prefill, never compiled
    extra: dict[str, Any] = {"compiled": compiled}
    if compiled:  # compile outside the timing, and check the compiled steps decode the same tokens
        plain = generator(lm, tokenizer, batch, 1 + NEW_TOKENS, **settings)()
        settings["compile_config"] = compile_config()
        graphs = compiled_graphs()
        started = time.perf_counter()
        tokens = generator(lm, tokenizer, batch, 1 + NEW_TOKENS, **settings)()
        extra.update(first_call_seconds=time.perf_counter() - started, compiled_graphs=compiled_graphs() - graphs,
                     same_tokens_as_uncompiled=bool(torch.equal(plain, tokens)))
        if not extra["compiled_graphs"]:  # transformers may stop honouring the flag: never time eager as compiled
            pytest.fail("generate() compiled nothing on CPU: transformers ignored CompileConfig._compile_all_devices",
                        pytrace=False)
    benchmark.group = f"decoding-{role}"
    benchmark.pedantic(generator(lm, tokenizer, batch, 1 + NEW_TOKENS, **settings), rounds=3, iterations=1,
                       warmup_rounds=1)
    per_token = (benchmark.stats.stats.min - prefill) / NEW_TOKENS
    bytes_per_token = weight_bytes(lm) + kv_bytes_per_token(lm, batch["input_ids"].shape[1], NEW_TOKENS)
    bound = bandwidth["bandwidth_gbs"] * 1e9 / bytes_per_token
    benchmark.extra_info.update({
        "model": role, "attention": attention, "kv_cache": cache or "dynamic", "dtype": str(lm.dtype),
        "output_layer": type(lm.get_output_embeddings()).__name__,
        "threads": torch.get_num_threads(),
        "new_tokens": NEW_TOKENS, "prefill_ms": 1000 * prefill, "ms_per_token": 1000 * per_token,
        "tokens_per_second": 1 / per_token, "weight_bytes": weight_bytes(lm), "bytes_per_token": bytes_per_token,
        **bandwidth, "bandwidth_bound_tokens_per_second": bound, "share_of_bandwidth_bound": 1 / per_token / bound,
        "target_share": 0.5, **extra})


@pytest.mark.parametrize("role", ["smollm2", "gemma3"])
def test_uncached_decoding(benchmark, models, role):
    """Without the KV cache every step recomputes the whole prefix: the cost the cache removes."""
    lm = models.causal_lm(role)
    tokenizer = prepare_tokenizer(models.tokenizer(role))
    batch = tokenizer([PROMPT], return_tensors="pt")
    benchmark.group = f"decoding-{role}"
    benchmark.pedantic(generator(lm, tokenizer, batch, NEW_TOKENS, use_cache=False), rounds=3, iterations=1,
                       warmup_rounds=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update({"model": role, "kv_cache": False, "new_tokens": NEW_TOKENS,
                                 "tokens_per_second": NEW_TOKENS / seconds,
                                 "ms_per_token": 1000 * seconds / NEW_TOKENS})
