"""The session's context: options resolved into a profile, model set, directories, seed and run
id, plus what a run reports about itself (run_info). No pytest hooks here (see harness.plugin)."""

from __future__ import annotations

import os
import platform
import random
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from harness.profiles import DEFAULT_MODEL_SET, DEFAULT_PROFILE, Profile, ProfileError, check_model_set, load_profile
from harness.record import Recorder
from harness.report import ResultsError, check_writable

VERSION_PACKAGES = ("torch", "transformers", "tokenizers", "sentence-transformers", "peft",
                    "datasets", "accelerate", "numpy", "pandas", "pytest", "pytest-benchmark")
MAX_SEED = 2 ** 32 - 1  # numpy's limit


@dataclass
class HarnessContext:
    profile: Profile
    model_set: str
    data_dir: Path
    results_dir: Path
    cache_dir: Path
    write_results: bool
    recorder: Recorder
    run_id: str
    versions: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    allocator: dict[str, int] | None = None  # malloc settings applied (harness/allocator.py); None: defaults
    benchmarks_saved: bool = False  # pytest-benchmark wrote this session's results (REPORT.md shows them)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _choose(config: pytest.Config, option: str, env: str, default: Any) -> tuple[Any, bool]:
    value = config.getoption(option)
    if value is not None:
        return value, True
    if os.environ.get(env):
        return os.environ[env], True
    return default, False


def parse_seed(text: str) -> int:
    """--seed: a whole number 0 .. 2**32 - 1 (what numpy and torch both accept)."""
    try:
        seed = int(text, 10)
    except ValueError:
        raise pytest.UsageError(f"--seed {text}: must be a whole number from 0 to {MAX_SEED}") from None
    if not 0 <= seed <= MAX_SEED:
        raise pytest.UsageError(f"--seed {text}: must be from 0 to {MAX_SEED}")
    return seed


def build_context(config: pytest.Config) -> HarnessContext:
    """Resolve the options (command line, then environment, then defaults); a bad one is a UsageError."""
    from harness.models import default_cache_dir

    root = Path(config.rootpath)
    profile_name, _ = _choose(config, "profile", "LLM_HARNESS_PROFILE", DEFAULT_PROFILE)
    model_set, _ = _choose(config, "model_set", "LLM_HARNESS_MODEL_SET", DEFAULT_MODEL_SET)
    try:
        profile = load_profile(profile_name)
        check_model_set(model_set)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    data_dir, data_given = _choose(config, "data_dir", "LLM_HARNESS_DATA", root.parent / "shared" / "data")
    data_dir = Path(data_dir)
    if not data_dir.is_absolute():
        data_dir = (Path.cwd() / data_dir).resolve()
    if data_given and not data_dir.is_dir():
        raise pytest.UsageError(f"data directory {data_dir} does not exist (from --data-dir or "
                                f"LLM_HARNESS_DATA); it should hold sst2/, stsb/ and flores200/")
    results_dir = Path(_choose(config, "results_dir", "LLM_HARNESS_RESULTS", root / "results")[0]).resolve()
    cache_dir, _ = _choose(config, "cache_dir", "LLM_HARNESS_CACHE", default_cache_dir())
    write = not config.getoption("no_results") and not getattr(config.option, "collectonly", False)
    worker = getattr(config, "workerinput", None)
    if write and worker is None:
        try:
            check_writable(results_dir)
        except ResultsError as exc:
            raise pytest.UsageError(str(exc)) from None
    seed = config.getoption("seed")
    seed = profile.seed if seed is None else parse_seed(seed)
    run_id = worker["harness_run_id"] if worker else \
        f"{time.strftime('%Y%m%d-%H%M%S')}-{profile.name}-{os.getpid()}"
    recorder = Recorder(profile=profile.name, model_set=model_set, seed=seed, run_id=run_id)
    return HarnessContext(profile=profile, model_set=model_set, data_dir=data_dir, results_dir=results_dir,
                          cache_dir=Path(cache_dir), write_results=write, recorder=recorder, run_id=run_id,
                          versions=library_versions())


def seed_everything(seed: int, threads: int = 0) -> None:
    random.seed(seed)
    try:
        import numpy
        import torch
    except ImportError:
        return
    numpy.random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)


def run_info(ctx: HarnessContext) -> dict[str, Any]:
    """What the run reports about itself, next to its records (claims.json, REPORT.md)."""
    import torch

    from harness.machine import cached_limits
    from harness.memory import peak_rss_mb, peak_rss_restarts
    return {
        "machine": cached_limits(ctx.cache_dir),  # measured by the benchmarks that need them, not per run
        "run_id": ctx.run_id, "profile": ctx.profile.name, "model_set": ctx.model_set,
        "seed": ctx.recorder.seed, "device": ctx.profile.device, "dtype": ctx.profile.dtype,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "allocator": ctx.allocator or "C library defaults",
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "versions": ctx.versions, "data_dir": str(ctx.data_dir),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "session_seconds": round(time.time() - ctx.started, 1),
        "suite_seconds": {k: round(v, 1) for k, v in ctx.recorder.suite_seconds.items()},
        "suite_peak_rss_mb": dict(ctx.recorder.peak_rss),
        "one_off_s": {k: round(v, 1) for k, v in ctx.recorder.one_off.items()},  # {}: nothing built
        # the session's peak: this process and, under xdist, its workers (by their last readings). Children's
        # ru_maxrss is not reported: it starts from the parent's size at fork, so it says nothing of the child
        "peak_rss_mb": max([peak_rss_mb() or 0.0, *ctx.recorder.peak_rss.values()]),
        "peak_rss_per_experiment": peak_rss_restarts(),  # see harness.memory
        "targets": dict(ctx.profile.get("targets", {})),
        "model_loads": [{"role": load.role, "kind": load.kind, "model": load.model,
                         "package": load.package, "loads": load.loads,
                         "load_s": round(load.load_s, 2),
                         "conversion_s (one-off)": round(load.prepare_s, 1)}
                        for load in ctx.recorder.loads.values()],
    }
