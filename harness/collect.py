"""Claims become tests: `@pytest.mark.claims("measure", ...)` on a test function parametrises its
`claim` argument with every claim of those measures in the sibling catalog.toml (test id = claim id),
and the `check` fixture records a measurement with the claim, its model, timing and run known.

Catalogs are loaded once per session and cached on the config. At collection, a catalog measure no
test declares, a declared measure the catalog lacks, and a claim id used by two catalogs are errors.
Every claim's `quote` is checked against the report (`--report-file`, $LLM_HARNESS_REPORT, or
../shared/report/llm-internals-report.md); a report that cannot be read is a usage error.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.claims import Catalog, CatalogError, Claim, check_unique_ids, load_catalog
from harness.quotes import QuoteError, default_report_path, read_report
from harness.record import Record, Recorder

CATALOG_FILE = "catalog.toml"


@dataclass
class CatalogCache:
    catalogs: dict[Path, Catalog] = field(default_factory=dict)  # those this session used
    declared: dict[Path, set[str]] = field(default_factory=dict)  # catalog -> measures some test declares
    modules: set[Path] = field(default_factory=set)  # test modules collected
    all_loaded: bool = False


CACHE_KEY = pytest.StashKey[CatalogCache]()


def _cache(config: pytest.Config) -> CatalogCache:
    if CACHE_KEY not in config.stash:
        config.stash[CACHE_KEY] = CatalogCache()
    return config.stash[CACHE_KEY]


_LOADED: dict[tuple[Path, int, int, Path], Catalog | CatalogError] = {}  # once per process and report
_REPORT: list[Path] = []  # the session's report file, set at configure (the default until then)


def report_file() -> Path:
    """The report the claims quote: the session's `--report-file`, else the default."""
    return _REPORT[0] if _REPORT else default_report_path()


def load_once(path: Path | str) -> Catalog:
    """A catalog, read and validated (quotes against `report_file()`) once per process, again only if the
    file changes. Raises CatalogError."""
    from harness.models import model_roles

    path, report = Path(path).resolve(), report_file()
    try:
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size, report)
    except OSError:
        key = (path, -1, -1, report)
    if key not in _LOADED:
        try:
            _LOADED[key] = load_catalog(path, models=set(model_roles()), report=(report, read_report(report)))
        except QuoteError as exc:
            _LOADED[key] = CatalogError(path, None, None, str(exc))
        except CatalogError as exc:
            _LOADED[key] = exc
    found = _LOADED[key]
    if isinstance(found, CatalogError):
        raise found
    return found


def suite_catalog(module_file: Path | str) -> Catalog:
    """The catalog next to a test module (`suite_catalog(__file__)`), for its definitions; a bad
    catalog fails that module's collection with the one-line CatalogError."""
    try:
        return load_once(Path(module_file).with_name(CATALOG_FILE))
    except CatalogError as exc:
        pytest.fail(str(exc), pytrace=False)


def load(config: pytest.Config, path: Path) -> Catalog:
    catalog = load_once(path)
    _cache(config).catalogs[Path(catalog.path).resolve()] = catalog
    return catalog


def catalogs(config: pytest.Config) -> dict[str, Catalog]:
    """Every catalog of the project (ini `harness_catalogs`) by experiment; unreadable ones left out
    (they were reported at collection)."""
    found = {}
    for path in sorted(Path(config.rootpath).glob(config.getini("harness_catalogs"))):
        try:
            catalog = load(config, path)
        except CatalogError:
            continue
        found[catalog.experiment] = catalog
    return found


def _check_unique_ids(config: pytest.Config) -> None:
    """Raises CatalogError (once per session) when two catalogs share a claim id or the coverage file is bad."""
    cache = _cache(config)
    if not cache.all_loaded:
        cache.all_loaded = True
        found = catalogs(config).values()
        check_unique_ids(found)
        _check_coverage(found)


def _check_coverage(found: Any) -> None:
    """suites/coverage.toml, when present, names only existing claims and quotes the report (CatalogError)."""
    from harness.coverage import coverage_path, load_coverage

    path = coverage_path(c.path for c in found)
    if path is not None and path.is_file():
        load_coverage(path, {c.id for catalog in found for c in catalog.claims}, read_report(report_file()))


def sibling_catalog(config: pytest.Config, module_path: Path | str) -> Catalog:
    return load(config, Path(module_path).with_name(CATALOG_FILE))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("harness").addoption(
        "--report-file", default=None,
        help="the report whose words the claims quote (default: $LLM_HARNESS_REPORT, else "
             "../shared/report/llm-internals-report.md)")


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--report-file", None)
    report = Path(chosen).expanduser() if chosen else default_report_path()
    if not report.is_file():
        raise pytest.UsageError(f"report file not found: {report} (the claims quote it; pass --report-file PATH "
                                f"or set $LLM_HARNESS_REPORT)")
    _REPORT[:] = [report.resolve()]
    config.addinivalue_line("markers", "claims(*measures): parametrise `claim` with the sibling catalog's "
                                       "claims of these measures")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cache = _cache(metafunc.config)
    module = Path(metafunc.definition.path).resolve()
    cache.modules.add(module)
    marker = metafunc.definition.get_closest_marker("claims")
    if marker is None:
        return
    where = f"{metafunc.definition.nodeid}"
    if "claim" not in metafunc.fixturenames:
        pytest.fail(f"{where}: @pytest.mark.claims needs a `claim` argument", pytrace=False)
    try:
        catalog = sibling_catalog(metafunc.config, module)
        _check_unique_ids(metafunc.config)
    except CatalogError as exc:
        pytest.fail(str(exc), pytrace=False)
    measures = set(marker.args)
    unknown = measures - {c.measure for c in catalog.claims}
    if not measures or unknown:
        pytest.fail(f"{where}: @pytest.mark.claims names measure(s) {sorted(unknown)} that no claim of "
                    f"{catalog.path} has", pytrace=False)
    cache.declared.setdefault(Path(catalog.path).resolve(), set()).update(measures)
    claims = catalog.by_measure(*marker.args)
    metafunc.parametrize("claim", claims, ids=[c.id for c in claims])


def _suite_modules(config: pytest.Config, directory: Path) -> set[Path]:
    patterns = config.getini("python_files")
    return {p.resolve() for p in directory.iterdir() if any(fnmatch.fnmatch(p.name, pat) for pat in patterns)}


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection: every collected test counts
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A claim whose measure no test declares would silently never run: an error, checked for every
    catalog whose whole suite folder was collected."""
    cache = _cache(config)
    for path, declared in cache.declared.items():
        if not _suite_modules(config, path.parent) <= cache.modules:
            continue
        orphans = [c for c in cache.catalogs[path].claims if c.measure not in declared]
        if orphans:
            raise pytest.UsageError(
                f"catalog error in {path}: claim '{orphans[0].id}': field 'measure': no test declares measure "
                f"{orphans[0].measure!r} (add @pytest.mark.claims({orphans[0].measure!r}) to the test that "
                f"measures it)" + (f"; {len(orphans) - 1} more such claim(s)" if len(orphans) > 1 else ""))


class Check:
    """`check(value, extra=...)`: decide the test's claim from a measurement and record it."""

    def __init__(self, claim: Claim, recorder: Recorder, model_set: str):
        self.claim, self.recorder, self.model_set = claim, recorder, model_set

    def source(self) -> Any:
        """The claim's model as resolved in this model set; for a claim over several models, all of
        them at once, standing in for what any of them stands in for (None: no model resolves)."""
        from harness.models import ModelUnavailable, resolve

        sources = []
        for role in self.claim.models:
            try:
                sources.append(resolve(role, self.model_set))
            except ModelUnavailable:
                continue
        if len(self.claim.models) == 1 or not sources:
            return sources[0] if sources else None
        return SimpleNamespace(
            role=" + ".join(s.role for s in sources), name=" vs ".join(s.name for s in sources),
            display=" vs ".join(s.display for s in sources), package=None, revision=None,
            stands_for="; ".join(f"{s.display} for {s.stands_for}" for s in sources if s.stands_for) or None)

    def __call__(self, measured: Any, *, extra: Mapping[str, Any] | None = None) -> Record:
        return self.recorder.check(self.claim, measured, model=self.source(), extra=extra)


@pytest.fixture
def check(request: pytest.FixtureRequest) -> Check:
    from harness.plugin import context

    claim = getattr(getattr(request.node, "callspec", None), "params", {}).get("claim")
    if not isinstance(claim, Claim):
        pytest.fail(f"{request.node.nodeid}: the `check` fixture needs a test marked "
                    f"@pytest.mark.claims(...)", pytrace=False)
    ctx = context(request.config)
    return Check(claim, ctx.recorder, ctx.model_set)
