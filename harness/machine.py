"""This machine's limits: fp32 matrix-multiply throughput and memory copy bandwidth.

Benchmarks state model throughput as a share of these, so a number means the same thing on a
laptop and on a server.
"""

from __future__ import annotations

import time

import torch


def _best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Best-of-N GFLOP/s of an n x n by n x n matrix product (2 n^3 floating-point operations)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n ** 3 / _best_of(lambda: torch.mm(a, b), repeats) / 1e9


def copy_bandwidth_gbs(megabytes: int = 256, repeats: int = 5) -> float:
    """Best-of-N GB/s of copying a large buffer (bytes read + bytes written)."""
    src = torch.empty(megabytes * 2 ** 20, dtype=torch.uint8).fill_(1)
    dst = torch.empty_like(src)
    return 2 * src.numel() / _best_of(lambda: dst.copy_(src), repeats) / 1e9


def forward_flops(fn) -> int:
    """Floating-point operations of one call, counted by torch's own FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())
