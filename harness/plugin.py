"""pytest plugin: the hooks. Options, the session's context (harness.session), claims as tests
(harness.collect), the known-refutation policy, device skips, timing, and writing results at the end."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from harness.allocator import give_back, keep_large_blocks
from harness.claims import Claim
from harness.experiments import experiment_of
from harness.memory import peak_rss_mb, reset_peak_rss
from harness.profiles import DEFAULT_PROFILE, Profile
from harness.record import ClaimRefuted, Recorder
from harness.report import ResultsError, refresh_report, write_results
from harness.session import HarnessContext, build_context, library_versions, run_info, seed_everything

pytest_plugins = ["harness.collect"]
os.environ.setdefault("MPLBACKEND", "Agg")  # plots are written to files; never open a window

CONTEXT_KEY = pytest.StashKey[HarnessContext]()
DEFAULT_BENCHMARK_STORAGE = "results/benchmarks"  # pyproject's addopts: relative to the working directory
__all__ = ["HarnessContext", "context", "library_versions", "run_info", "load_catalogs"]


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
    group.addoption("--seed", default=None, help="override the profile's seed (0 .. 2**32 - 1)")
    group.addoption("--retrain", action="store_true",
                    help="fine-tune again even when a cached result for the same config and data exists")
    group.addoption("--train-processes", type=int, default=1, metavar="N",
                    help="fine-tune data-parallel in N processes (accelerate launch --multi_gpu --num_processes N: "
                         "one per GPU on cuda, gloo on CPU); each step's batch is split between them")
    parser.addini("harness_catalogs", "glob of claims catalogs, relative to the rootdir",
                  default="suites/*/catalog.toml")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "benchmark_only", False) and getattr(config.option, "benchmark_autosave", 1) is None:
        from pytest_benchmark.utils import get_tag

        config.option.benchmark_autosave = get_tag()  # pytest-benchmark's own name: counter_commit_date
    ctx = build_context(config)
    config.stash[CONTEXT_KEY] = ctx
    if ctx.write_results and getattr(config.option, "benchmark_storage", None) == DEFAULT_BENCHMARK_STORAGE:
        # pytest-benchmark reads the option when it sets up its session, after this hook
        config.option.benchmark_storage = str(ctx.results_dir / "benchmarks")  # follows --results-dir
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(SuiteTimer(ctx.recorder), "harness-suite-timer")
    seed_everything(ctx.recorder.seed, ctx.profile.threads)
    ctx.allocator = keep_large_blocks()  # before any model: see harness/allocator.py
    reset_peak_rss()  # from here on (imports before it are not the harness's); also finds out whether it can


def context(config: pytest.Config) -> HarnessContext:
    return config.stash[CONTEXT_KEY]


def pytest_report_header(config: pytest.Config) -> list[str]:
    ctx = context(config)
    notes = []
    if getattr(config.option, "numprocesses", None):
        notes.append("harness: pytest-xdist run: benchmarks are kept out (pytest-benchmark disables "
                     "them under xdist); run `pytest suites --benchmark-only` without -n to time")
    return notes + [f"harness: profile={ctx.profile.name} model-set={ctx.model_set} seed={ctx.recorder.seed} "
                    f"run={ctx.run_id}",
                    f"harness: data={ctx.data_dir} results={ctx.results_dir if ctx.write_results else 'off'} "
                    f"cache={ctx.cache_dir}"]


def pytest_configure_node(node: Any) -> None:  # pytest-xdist: workers share the run id
    node.workerinput["harness_run_id"] = context(node.config).run_id


CURRENT_EXPERIMENT = pytest.StashKey[str]()
OUTSIDE_EXPERIMENTS = "(outside experiments)"  # a peak_rss key with no run-time row; the session peak includes it


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """An experiment's peak RSS is its own: the high-water mark restarts before its first test's
    fixtures are set up (after the previous experiment's models were let go, fixtures/models.py)."""
    experiment = experiment_of(item.nodeid)
    if experiment is not None and item.config.stash.get(CURRENT_EXPERIMENT, None) != experiment:
        item.config.stash[CURRENT_EXPERIMENT] = experiment
        # the mark so far (self-tests, teardowns) still counts in the session's peak, under its own key
        context(item.config).recorder.note_peak_rss(OUTSIDE_EXPERIMENTS, peak_rss_mb())
        reset_peak_rss()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """The process's peak RSS when an experiment's test ends (on the worker that ran it, under xdist);
    then the heap's free pages go back to the kernel, so that what one test freed (a training step's
    activations, a module's logits) is not still resident under the next test's own peak."""
    experiment = experiment_of(item.nodeid)
    if experiment is not None:
        context(item.config).recorder.note_peak_rss(experiment, peak_rss_mb())
    give_back()


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
    missing_device = _missing_device(ctx.profile)
    for item in items:
        if missing_device and item.nodeid.startswith("suites/"):
            item.add_marker(pytest.mark.skip(reason=missing_device))
        claim = getattr(item, "callspec", None) and item.callspec.params.get("claim")
        reason = claim.known_refutation(ctx.model_set) if isinstance(claim, Claim) else None
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
    """Every catalog by experiment (loaded once per session; see harness.collect)."""
    from harness.collect import catalogs

    return catalogs(config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if CONTEXT_KEY not in config.stash:
        return
    ctx = context(config)
    if hasattr(config, "workerinput"):
        config.workeroutput["harness"] = ctx.recorder.to_dict()
        return
    if ctx.write_results and ctx.recorder.is_empty() and ctx.benchmarks_saved:
        show_benchmarks(config, ctx)
        return
    if not ctx.write_results or ctx.recorder.is_empty():
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        note(config, "run interrupted: results not written; earlier results are untouched")
        return
    try:
        write_results(ctx.results_dir, ctx.recorder, run_info(ctx), load_catalogs(config))
    except ResultsError as exc:  # the terminal summary names the files; this says why they are missing
        note(config, f"results not written: {exc}", red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def show_benchmarks(config: pytest.Config, ctx: HarnessContext) -> None:
    """After a benchmark-only session (pytest-benchmark saves before this hook's plain implementations
    run): REPORT.md rewritten from the saved claims runs, with the new benchmark table."""
    try:
        report = refresh_report(ctx.results_dir, ctx.profile.name, ctx.model_set, load_catalogs(config))
    except (ResultsError, OSError) as exc:
        note(config, f"REPORT.md not refreshed with the benchmarks: {exc}", red=True)
        return
    note(config, f"benchmarks shown in {report}" if report else
         f"REPORT.md not refreshed: no claims run of profile {ctx.profile.name} / {ctx.model_set} is saved in "
         f"{ctx.results_dir} (run `pytest suites --profile {ctx.profile.name}` once)")


def note(config: pytest.Config, text: str, **markup: bool) -> None:
    """A line on the terminal, even while pytest captures output (e.g. from inside a fixture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is None:
        reporter.write_line(f"[harness] {text}", **markup)
        return
    with capman.global_and_fixture_disabled():
        reporter.write_line(f"[harness] {text}", **markup)


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

    from harness.machine import memory_bytes

    ctx = context(config)
    machine_info.update({
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "memory_bytes": memory_bytes(), "harness_profile": ctx.profile.name,
        "harness_model_set": ctx.model_set})


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    ctx = context(config)
    output_json["harness_run_id"] = ctx.run_id  # lets `python -m harness compare` pair runs
    ctx.benchmarks_saved = ctx.benchmarks_saved or bool(benchmarks)
