"""This machine's limits: fp32 matrix-multiply throughput and memory copy bandwidth.

Benchmarks state model throughput as a share of these, so a number means the same thing on a
laptop and on a server. The limits are measured once per host (best of repeated runs over several
sizes, so that no model's share can exceed 1.0 from a lucky model run against an unlucky probe)
and cached in the cache directory under a fingerprint of the host.

The copy buffers are larger than the last-level cache (copy_megabytes): the decoding bound assumes each
step streams the model's weights (540 MB and 1,073 MB for the packaged LMs) from memory, and a buffer
that fits in the cache measures the cache. On a host with a 300 MiB L3 the best of 64 and 256 MiB copies
was 48.8 GB/s, the 64 MiB copy (128 MiB touched) running in the cache: 54.5 GB/s in a probe, against
27.4 at 256 MiB and 25.7 and 25.2 at 600 and 1,200 MiB (2 and 4 x that L3).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

MATMUL_SIZES = (512, 1024, 2048)
COPY_CACHE_MULTIPLES = (2, 4)  # copy buffers of 2 and 4 x the last-level cache (src + dst: 4 and 8 x)
COPY_MEGABYTES_WITHOUT_CACHE_SIZE = (256, 1024)
FORMAT = 3  # bump when the measurement changes, so cached limits are measured again (3: beyond the LLC)
_UNCACHED: dict[Path, dict[str, Any]] = {}  # limits measured under load, reused within this process only


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    """The fastest of `repeats` timed calls after one warm-up call."""
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
    return 2 * n ** 3 / best_of(lambda: torch.mm(a, b), repeats) / 1e9


def copy_bandwidth_gbs(megabytes: int = 256, repeats: int = 5) -> float:
    """Best-of-N GB/s of copying a large buffer (bytes read + bytes written)."""
    src = torch.empty(megabytes * 2 ** 20, dtype=torch.uint8).fill_(1)
    dst = torch.empty_like(src)
    return 2 * src.numel() / best_of(lambda: dst.copy_(src), repeats) / 1e9


def last_level_cache_bytes(cpu: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> int | None:
    """The largest cache sysfs lists for the first CPU (None where there is no such listing)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    sizes = []
    for index in cpu.glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        number, unit = text[:-1], text[-1:].upper()
        if unit in units and number.isdigit():
            sizes.append(int(number) * units[unit])
        elif text.isdigit():
            sizes.append(int(text))
    return max(sizes, default=None)


def copy_megabytes(llc_bytes: int | None = None, memory: int | None = None) -> tuple[int, ...]:
    """Copy buffer sizes (MiB) beyond the last-level cache, at least 256 MiB each; a size whose source and
    destination would take more than a quarter of the memory is left out (the smallest one always stays)."""
    llc_bytes = last_level_cache_bytes() if llc_bytes is None else llc_bytes
    memory = memory_bytes() if memory is None else memory
    if not llc_bytes:
        sizes = COPY_MEGABYTES_WITHOUT_CACHE_SIZE
    else:
        sizes = tuple(max(256, -(-multiple * llc_bytes // (1 << 20))) for multiple in COPY_CACHE_MULTIPLES)
    fitting = tuple(mb for mb in sizes if not memory or 2 * (mb << 20) <= memory // 4)
    return fitting or sizes[:1]


def forward_flops(fn: Callable[[], Any]) -> int:
    """Floating-point operations of one call, counted by torch's own FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def host_fingerprint() -> str:
    """What decides the limits: host, CPU, cores, torch threads, memory and torch build."""
    parts = [platform.node(), platform.machine(), _cpu_model(), str(os.cpu_count()),
             str(torch.get_num_threads()), str(memory_bytes()), torch.__version__, str(FORMAT)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load_average() -> float | None:
    """The host's 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def under_load(load: float | None, cpus: int | None = None) -> bool:
    """Busy enough that a probe would understate the host: load above half the cores."""
    cpus = cpus or os.cpu_count() or 1
    return load is not None and load > cpus / 2


def measure_limits() -> dict[str, Any]:
    load = load_average()  # beside the figures: what else ran while they were measured
    sizes = copy_megabytes()
    return {"matmul_gflops_fp32": round(max(matmul_gflops(n, repeats=5) for n in MATMUL_SIZES), 1),
            "copy_bandwidth_gbs": round(max(copy_bandwidth_gbs(mb, repeats=5) for mb in sizes), 1),
            "copy_megabytes": list(sizes), "last_level_cache_bytes": last_level_cache_bytes(),
            "memory_bytes": memory_bytes(), "load_avg_1min": load, "cpus": os.cpu_count()}


def _cache_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "machine" / f"{host_fingerprint()}.json"


def cached_limits(cache_dir: Path) -> dict[str, Any] | None:
    """The limits already measured on this host (cached, or measured earlier in this process), without
    measuring: a claims run reports them, only the benchmarks that divide by them pay for a probe."""
    path = _cache_path(cache_dir)
    try:
        return json.loads(path.read_text())["limits"]
    except (OSError, ValueError, KeyError):
        return _UNCACHED.get(path)


def machine_limits(cache_dir: Path) -> dict[str, Any]:
    """This host's limits, measured on first use and read from the cache afterwards. Limits
    measured under load are used for this run but not cached, so a quiet run measures again."""
    path = _cache_path(cache_dir)
    known = cached_limits(cache_dir)
    if known is not None:
        return known
    limits = measure_limits()
    if under_load(limits["load_avg_1min"]) or under_load(load_average()):
        limits["cached"] = False
        _UNCACHED[path] = limits
        return limits
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp-{os.getpid()}")
    temporary.write_text(json.dumps({"host": platform.node(), "cpu": _cpu_model(),
                                     "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "limits": limits}, indent=1))
    temporary.replace(path)
    return limits
