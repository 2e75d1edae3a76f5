"""The coverage file: every claim id it names exists, statuses are known, texts are the report's; errors name
the file; REPORT.md shows each statement with its claims' verdicts."""

from pathlib import Path

import pytest

from harness.claims import CatalogError, load_catalog
from harness.coverage import load_coverage
from harness.quotes import default_report_path, read_report

ROOT = Path(__file__).resolve().parent.parent
COVERAGE = '''
[[statement]]
section = "2"
text = "GPT-2, OPT"
status = "covered"
claims = ["demo.one"]

[[statement]]
section = "2"
text = "Byte-Pair Encoding"
status = "not-checkable"
why = "the training corpus is not released"

[[stand_in]]
claims = ["demo.two"]
why = "a stand-in"

[[cannot_fail]]
claims = ["demo.one"]
why = "holds by construction"
resolved = "definition; the evidence is demo.two"
by = ["demo.two"]
'''
REPORT = "| **BPE** (Byte-Pair Encoding) | GPT-2, OPT |"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coverage.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_coverage_file_loads(tmp_path):
    coverage = load_coverage(write(tmp_path, COVERAGE), {"demo.one", "demo.two"}, REPORT)
    assert [s.status for s in coverage.statements] == ["covered", "not-checkable"]
    assert coverage.statements[0].claims == ("demo.one",)
    assert coverage.cannot_fail[0].by == ("demo.two",) and coverage.cannot_fail[0].resolved.startswith("definition")
    assert coverage.unresolved == ()


def test_an_open_cannot_fail_entry_carries_its_proposal(tmp_path):
    text = COVERAGE.replace('resolved = "definition; the evidence is demo.two"\nby = ["demo.two"]\n',
                            'proposal = "measure it on sampled tokens"\n')
    coverage = load_coverage(write(tmp_path, text), {"demo.one", "demo.two"}, REPORT)
    assert [e.proposal for e in coverage.unresolved] == ["measure it on sampled tokens"]


@pytest.mark.parametrize("change, field", [
    (('claims = ["demo.one"]', 'claims = ["demo.three"]'), "statement[0].claims"),
    (('claims = ["demo.two"]', 'claims = ["demo.gone"]'), "stand_in[0].claims"),
    (('status = "covered"', 'status = "done"'), "statement[0].status"),
    (('why = "the training corpus is not released"\n', ''), "statement[1].why"),
    (('text = "GPT-2, OPT"', 'text = "GPT-3, OPT"'), "statement[0].text"),
    (('by = ["demo.two"]', 'by = ["demo.gone"]'), "cannot_fail[0].by"),
    (('resolved = "definition; the evidence is demo.two"\n', ''), "cannot_fail[0].resolved"),
    (('why = "holds by construction"\n', ''), "cannot_fail[0].why"),
])
def test_a_bad_coverage_file_names_file_and_field(tmp_path, change, field):
    path = write(tmp_path, COVERAGE.replace(*change))
    with pytest.raises(CatalogError) as info:
        load_coverage(path, {"demo.one", "demo.two"}, REPORT)
    assert str(path) in str(info.value) and f"field '{field}'" in str(info.value)


def test_the_project_coverage_names_existing_claims_and_the_reports_words():
    report = default_report_path()
    if not report.is_file():
        pytest.skip(f"the report is not at {report} (set $LLM_HARNESS_REPORT)")
    ids = {c.id for p in ROOT.glob("suites/*/catalog.toml") for c in load_catalog(p).claims}
    coverage = load_coverage(ROOT / "suites" / "coverage.toml", ids, read_report(report))
    assert len(coverage.statements) >= 100
    assert coverage.unresolved == (), "every [[cannot_fail]] entry says how it was resolved"


def test_report_md_shows_coverage_with_verdicts(tmp_path):
    from harness.render import coverage_section

    catalog = load_catalog(write_catalog(tmp_path))
    write(tmp_path, COVERAGE)
    view = {"claims": {"demo.one": {"verdict": "refuted (known)", "stands_for": "BERT-base"}}}
    section = coverage_section(view, {"demo": catalog})
    assert "## Coverage of the report" in section
    assert "demo.one: stand-in differs" in section and "not checkable" in section
    assert "the training corpus is not released" in section


def write_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "demo" / "catalog.toml"
    path.parent.mkdir()
    path.write_text('experiment = "demo"\nsection = "2"\n' + "".join(
        f'[[claim]]\nid = "demo.{n}"\nstatement = "s"\nmeasure = "m"\ncheck = "exact"\nexpected = 1\n'
        for n in ("one", "two")), encoding="utf-8")
    return path


def test_report_md_lists_the_reports_inconsistencies_and_the_resolved_cannot_fail_claims():
    from harness.render import coverage_section

    catalogs = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "suites").glob("*/catalog.toml")):
        catalog = load_catalog(path)
        catalogs[catalog.experiment] = catalog
    records = {"att.summary.early-syntax": {"verdict": "holds"}}
    text = coverage_section({"claims": records}, catalogs)
    coverage = load_coverage(Path(__file__).resolve().parents[1] / "suites" / "coverage.toml",
                             {c.id for catalog in catalogs.values() for c in catalog.claims})
    assert "### Where the report disagrees with itself" in text
    assert all(f"| {entry.name} |" in text for entry in coverage.inconsistencies)
    assert "att.summary.early-syntax: holds" in text
    assert "### Claims that could not fail, and what replaced them" in text
    assert text.count("\n| ") >= len(coverage.statements) + len(coverage.inconsistencies) + len(coverage.cannot_fail)
