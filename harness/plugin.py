"""pytest plugin: command-line options, the session's context, and writing results at the end."""

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

from harness.claims import CatalogError, Claim, load_catalog
from harness.profiles import DEFAULT_MODEL_SET, DEFAULT_PROFILE, Profile, ProfileError, check_model_set, load_profile
from harness.record import ClaimRefuted, Recorder
from harness.report import ResultsError, check_writable, write_results

CONTEXT_KEY = pytest.StashKey["HarnessContext"]()
VERSION_PACKAGES = ("torch", "transformers", "tokenizers", "sentence-transformers", "peft",
                    "datasets", "accelerate", "numpy", "pandas", "pytest", "pytest-benchmark")


@dataclass
class HarnessContext:
    profile: Profile
    model_set: str
    data_dir: Path
    data_dir_given: bool
    results_dir: Path
    cache_dir: Path
    write_results: bool
    recorder: Recorder
    run_id: str
    versions: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-harness", "LLM internals harness")
    group.addoption("--profile", default=None,
                    help=f"hardware profile (default: $LLM_HARNESS_PROFILE or {DEFAULT_PROFILE})")
    group.addoption("--model-set", default=None,
                    help="packaged (offline, default) or hub (the report's own models; needs the "
                         "Hub or a warm HF cache); also $LLM_HARNESS_MODEL_SET")
    group.addoption("--data-dir", default=None,
                    help="directory holding sst2/, stsb/, flores200/ (default: $LLM_HARNESS_DATA "
                         "or ../shared/data next to the project)")
    group.addoption("--results-dir", default=None,
                    help="where results are written (default: $LLM_HARNESS_RESULTS or results/)")
    group.addoption("--cache-dir", default=None,
                    help="converted-model cache (default: $LLM_HARNESS_CACHE or "
                         "~/.cache/llm-internals-harness)")
    group.addoption("--no-results", action="store_true",
                    help="measure and decide, but write nothing to the results directory")
    group.addoption("--seed", type=int, default=None, help="override the profile's seed")
    group.addoption("--retrain", action="store_true",
                    help="fine-tune again even when a cached result for the same config and data exists")
    parser.addini("harness_catalogs", "glob of claims catalogs, relative to the rootdir",
                  default="suites/*/catalog.toml")


def _choose(config: pytest.Config, option: str, env: str, default: Any) -> tuple[Any, bool]:
    value = config.getoption(option)
    if value is not None:
        return value, True
    if os.environ.get(env):
        return os.environ[env], True
    return default, False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from harness.models import default_cache_dir

    markexpr = getattr(config.option, "markexpr", "") or ""
    if "benchmark" in markexpr and "not benchmark" not in markexpr and hasattr(config.option, "benchmark_autosave"):
        config.option.benchmark_autosave = True  # every benchmark run is kept for comparisons

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
    results_dir, _ = _choose(config, "results_dir", "LLM_HARNESS_RESULTS", root / "results")
    results_dir = Path(results_dir).resolve()
    cache_dir, _ = _choose(config, "cache_dir", "LLM_HARNESS_CACHE", default_cache_dir())
    write = not config.getoption("no_results") and not getattr(config.option, "collectonly", False)
    if write and not hasattr(config, "workerinput"):
        try:
            check_writable(results_dir)
        except ResultsError as exc:
            raise pytest.UsageError(str(exc)) from None
    seed = config.getoption("seed")
    seed = profile.seed if seed is None else seed
    worker = getattr(config, "workerinput", None)
    run_id = worker["harness_run_id"] if worker else \
        f"{time.strftime('%Y%m%d-%H%M%S')}-{profile.name}-{os.getpid()}"
    recorder = Recorder(profile=profile.name, model_set=model_set, seed=seed, run_id=run_id)
    config.stash[CONTEXT_KEY] = HarnessContext(
        profile=profile, model_set=model_set, data_dir=data_dir, data_dir_given=data_given,
        results_dir=results_dir, cache_dir=Path(cache_dir), write_results=write,
        recorder=recorder, run_id=run_id, versions=library_versions())
    if worker is None:
        config.pluginmanager.register(SuiteTimer(recorder), "harness-suite-timer")
    random.seed(seed)
    try:
        import numpy
        import torch
        numpy.random.seed(seed)
        torch.manual_seed(seed)
        if profile.threads:
            torch.set_num_threads(profile.threads)
    except ImportError:
        pass


def context(config: pytest.Config) -> HarnessContext:
    return config.stash[CONTEXT_KEY]


def pytest_report_header(config: pytest.Config) -> list[str]:
    ctx = context(config)
    notes = []
    if getattr(config.option, "numprocesses", None):
        notes.append("harness: pytest-xdist run: benchmarks are kept out (pytest-benchmark disables "
                     "them under xdist); run `pytest suites -m benchmark` without -n to time")
    return notes + [f"harness: profile={ctx.profile.name} model-set={ctx.model_set} seed={ctx.recorder.seed} "
            f"run={ctx.run_id}",
            f"harness: data={ctx.data_dir} results={ctx.results_dir if ctx.write_results else 'off'} "
            f"cache={ctx.cache_dir}"]


def pytest_configure_node(node: Any) -> None:  # pytest-xdist: workers share the run id
    node.workerinput["harness_run_id"] = context(node.config).run_id


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    context(item.config).recorder.call_started = time.perf_counter()
    yield
    context(item.config).recorder.call_started = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A claim the catalog records as refuted (for this model set) runs as a strict xfail that
    only a ClaimRefuted satisfies: an error elsewhere still fails, and a claim that starts to
    hold fails loudly."""
    ctx = context(config)
    model_set = ctx.model_set
    missing_device = _missing_device(ctx.profile)
    for item in items:
        if missing_device and item.nodeid.startswith("suites/"):
            item.add_marker(pytest.mark.skip(reason=missing_device))
        claim = getattr(item, "callspec", None) and item.callspec.params.get("claim")
        reason = claim.known_refutation(model_set) if isinstance(claim, Claim) else None
        if reason:
            item.add_marker(pytest.mark.xfail(raises=ClaimRefuted, strict=True,
                                              reason=f"known refutation: {reason}"))


class SuiteTimer:
    """Time per experiment (suites/<experiment>/...), fixtures included, for the run-time table.
    Registered on the controlling process only: with pytest-xdist it sees every worker's reports."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        parts = report.nodeid.split("/")
        if len(parts) > 2 and parts[0] == "suites":
            seconds = self.recorder.suite_seconds
            seconds[parts[1]] = seconds.get(parts[1], 0.0) + report.duration


def _missing_device(profile: Profile) -> str | None:
    """Why the profile's hardware is absent here, or None when it is present."""
    if profile.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return (f"profile '{profile.name}' needs a CUDA GPU and torch sees none "
                    f"(torch {torch.__version__}, CUDA build: {torch.version.cuda is not None})")
    return None


def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("harness")
    if data:
        context(node.config).recorder.merge_dict(data)


def load_catalogs(config: pytest.Config) -> dict[str, Any]:
    catalogs = {}
    for path in sorted(Path(config.rootpath).glob(config.getini("harness_catalogs"))):
        try:
            catalog = load_catalog(path)
        except CatalogError:
            continue  # already reported at collection
        catalogs[catalog.experiment] = catalog
    return catalogs


def run_info(ctx: HarnessContext) -> dict[str, Any]:
    import torch

    from harness.machine import copy_bandwidth_gbs, matmul_gflops
    return {
        "machine": {"matmul_gflops_fp32": round(matmul_gflops(), 1),
                    "copy_bandwidth_gbs": round(copy_bandwidth_gbs(), 1),
                    "memory_bytes": _memory_bytes()},
        "run_id": ctx.run_id, "profile": ctx.profile.name, "model_set": ctx.model_set,
        "seed": ctx.recorder.seed, "device": ctx.profile.device, "dtype": ctx.profile.dtype,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "versions": ctx.versions, "data_dir": str(ctx.data_dir),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "session_seconds": round(time.time() - ctx.started, 1),
        "suite_seconds": {k: round(v, 1) for k, v in ctx.recorder.suite_seconds.items()},
        "targets": dict(ctx.profile.get("targets", {})),
        "model_loads": [{"role": load.role, "kind": load.kind, "model": load.model,
                         "package": load.package, "loads": load.loads,
                         "load_s": round(load.load_s, 2),
                         "conversion_s (one-off)": round(load.prepare_s, 1)}
                        for load in ctx.recorder.loads.values()],
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if CONTEXT_KEY not in config.stash:
        return
    ctx = context(config)
    if hasattr(config, "workerinput"):
        config.workeroutput["harness"] = ctx.recorder.to_dict()
        return
    if not ctx.write_results or ctx.recorder.is_empty():
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        _note(config, "run interrupted: results not written; earlier results are untouched")
        return
    report = write_results(ctx.results_dir, ctx.recorder, run_info(ctx), load_catalogs(config))
    _note(config, f"results: {report} (+ claims.json, tables/, runs/{ctx.profile.name}/{ctx.run_id}/)")


def _note(config: pytest.Config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"[harness] {text}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A refuted claim fails with its own message (report's value, measured, tolerance), not with
    the harness's traceback."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(ClaimRefuted) and report.failed:
        report.longrepr = str(call.excinfo.value)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """pytest-benchmark's machine info, extended with what decides these models' speed."""
    import torch

    ctx = context(config)
    machine_info.update({
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "memory_bytes": _memory_bytes(), "harness_profile": ctx.profile.name,
        "harness_model_set": ctx.model_set})


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    output_json["harness_run_id"] = context(config).run_id  # lets `python -m harness compare` pair runs


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
