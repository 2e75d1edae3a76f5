"""Malformed catalogs fail before anything runs, with one message naming file, claim and field."""

from pathlib import Path

import pytest

from harness.claims import CatalogError, check_unique_ids, load_catalog

GOOD = '''
experiment = "demo"
section = "2"
title = "Demo"

[[claim]]
id = "demo.one"
statement = "one is one"
measure = "count"
check = "exact"
expected = 1

[[claim]]
id = "demo.two"
statement = "about three"
measure = "count"
check = "approx"
expected = 3
tolerance = 0.5
tolerance_source = "self-test: a demo tolerance outside the policy, exempted by naming its source"
'''


def write(tmp_path: Path, text: str, name: str = "catalog.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_catalog_loads(tmp_path):
    catalog = load_catalog(write(tmp_path, GOOD), measures={"count"})
    assert [c.id for c in catalog.claims] == ["demo.one", "demo.two"]
    assert catalog.claims[1].report_value == "3 ± 0.5 (tolerance: see source)"
    assert catalog.claims[0].section == "2"


BAD = [
    # (what is wrong, replacement applied to GOOD, claim id in the message, field in the message)
    ("bad TOML syntax", ('expected = 1', 'expected = = 1'), None, None),
    ("unknown check kind", ('check = "exact"', 'check = "roughly"'), "demo.one", "check"),
    ("missing required field", ('statement = "one is one"\n', ''), "demo.one", "statement"),
    ("wrong type", ('expected = 3\n', 'expected = "three"\n'), "demo.two", "expected"),
    ("negative tolerance", ('tolerance = 0.5', 'tolerance = -0.5'), "demo.two", "tolerance"),
    ("tolerance of the wrong type", ('tolerance = 0.5', 'tolerance = "0.5"'), "demo.two", "tolerance"),
    ("approx without tolerance", ('tolerance = 0.5\n', ''), "demo.two", "tolerance/rel_tolerance"),
    ("duplicate id", ('id = "demo.two"', 'id = "demo.one"'), "demo.one", "id"),
    ("missing report section", ('section = "2"\n', ''), "demo.one", "section"),
    ("unknown field (typo)", ('tolerance = 0.5', 'tolerence = 0.5'), "demo.two", "tolerence"),
    ("unknown measure", ('measure = "count"\n', 'measure = "cuont"\n'), "demo.one", "measure"),
    ("bad id characters", ('id = "demo.one"', 'id = "Demo One"'), "Demo One", "id"),
    ("empty refutation reason", ('expected = 1\n', 'expected = 1\nrefuted = " "\n'), "demo.one", "refuted"),
    ("missing experiment", ('experiment = "demo"\n', ''), None, "experiment"),
    ("infinite tolerance", ('tolerance = 0.5', 'tolerance = inf'), "demo.two", "tolerance"),
    ("infinite expected value", ('expected = 3\n', 'expected = -inf\n'), "demo.two", "expected"),
    ("NaN expected value", ('expected = 3\n', 'expected = nan\n'), "demo.two", "expected"),
    ("exact count written as text", ('expected = 1\n', 'expected = "1"\n'), "demo.one", "expected"),
    ("exact number written as text", ('expected = 1\n', 'expected = "1e3"\n'), "demo.one", "expected"),
    ("unknown top-level field", ('title = "Demo"', 'titel = "Demo"'), None, "titel"),
]


@pytest.mark.parametrize("problem, change, claim_id, field", BAD, ids=[b[0] for b in BAD])
def test_malformed_catalog_names_file_claim_and_field(tmp_path, problem, change, claim_id, field):
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(CatalogError) as info:
        load_catalog(path, measures={"count"})
    message = str(info.value)
    assert str(path) in message
    if claim_id:
        assert f"claim '{claim_id}'" in message
    if field:
        assert f"field '{field}'" in message
    assert "\n" not in message  # one line


def test_ordering_needs_two_distinct_names(tmp_path):
    text = GOOD.replace('check = "exact"\nexpected = 1', 'check = "ordering"\norder = ["a", "a"]')
    with pytest.raises(CatalogError, match="field 'order'"):
        load_catalog(write(tmp_path, text))


def test_unknown_model_role(tmp_path):
    text = GOOD.replace('measure = "count"\ncheck = "exact"', 'measure = "count"\nmodel = "gpt5"\ncheck = "exact"')
    with pytest.raises(CatalogError, match="field 'model'.*gpt5"):
        load_catalog(write(tmp_path, text), models={"gpt2", "bert"})


@pytest.mark.parametrize("bounds", ["min = -inf", "max = inf", "below = nan", "above = inf"])
def test_range_bounds_must_be_finite(tmp_path, bounds):
    text = GOOD.replace('check = "exact"\nexpected = 1', f'check = "range"\n{bounds}')
    with pytest.raises(CatalogError, match=f"claim 'demo.one': field '{bounds.split()[0]}': must be a finite"):
        load_catalog(write(tmp_path, text))


def test_binary_file_names_the_file(tmp_path):
    path = tmp_path / "catalog.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    with pytest.raises(CatalogError, match=r"catalog.toml: not a UTF-8 text file") as info:
        load_catalog(path)
    assert str(path) in str(info.value)


EXPANDED = '''
experiment = "demo"
section = "2"

[defaults]
table = "Shared table"

[[claim]]
id = "demo.algorithm.{model}"
models = ["bert", "gpt2", "sentencepiece"]
statement = "uses BPE"
measure = "algorithm"
check = "exact"
expected = "BPE"
labels = { Property = "algorithm" }
per_model.bert = { statement = "uses WordPiece", expected = "WordPiece", labels = { Family = "BERT" } }
per_model.sentencepiece = { id = "demo.algorithm.llama", refuted = "not LLaMA's own vocabulary" }
'''


def test_one_claim_per_model_with_overrides(tmp_path):
    claims = load_catalog(write(tmp_path, EXPANDED), models={"bert", "gpt2", "sentencepiece"}).claims
    assert [c.id for c in claims] == ["demo.algorithm.bert", "demo.algorithm.gpt2", "demo.algorithm.llama"]
    bert, gpt2, llama = claims
    assert [c.model for c in claims] == ["bert", "gpt2", "sentencepiece"]
    assert (bert.statement, bert.spec["expected"]) == ("uses WordPiece", "WordPiece")
    assert (gpt2.statement, gpt2.spec["expected"]) == ("uses BPE", "BPE")
    assert list(bert.labels.items()) == [("Family", "BERT"), ("Property", "algorithm")]
    assert gpt2.labels == {"Property": "algorithm"}
    assert llama.refuted and not gpt2.refuted
    assert all(c.table == "Shared table" for c in claims)


@pytest.mark.parametrize("change, field", [
    (('models = ["bert", "gpt2", "sentencepiece"]', 'models = ["bert", "bert"]'), "models"),
    (('per_model.bert', 'per_model.opt'), "per_model"),
    (('id = "demo.algorithm.{model}"', 'id = "demo.algorithm"'), "id"),
    (('expected = "WordPiece"', 'expected = 3.5, tolerance = 1'), "tolerance"),
    (('models = ["bert", "gpt2", "sentencepiece"]', 'models = ["bert", "gpt2", "sentencepiece"]\nmodel = "bert"'),
     "model"),
])
def test_bad_expansion_names_the_field(tmp_path, change, field):
    with pytest.raises(CatalogError, match=f"field '{field}'"):
        load_catalog(write(tmp_path, EXPANDED.replace(*change)), models={"bert", "gpt2", "sentencepiece", "opt"})


def test_unreadable_file(tmp_path):
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.toml")


def test_duplicate_ids_across_files(tmp_path):
    a = load_catalog(write(tmp_path, GOOD, "a.toml"))
    b = load_catalog(write(tmp_path, GOOD.replace('experiment = "demo"', 'experiment = "other"'), "b.toml"))
    with pytest.raises(CatalogError, match="also defined in"):
        check_unique_ids([a, b])


def test_project_catalogs_are_valid_and_ids_unique():
    root = Path(__file__).resolve().parent.parent
    catalogs = [load_catalog(p) for p in sorted(root.glob("suites/*/catalog.toml"))]
    assert catalogs
    check_unique_ids(catalogs)


REPORT_TEXT = """## 2. Tokenization

| **BPE** (Byte-Pair Encoding) | GPT-2, OPT |

Sentence embeddings are **context-free** (they produce one vector
per sentence by pooling token embeddings).
"""
QUOTED = GOOD.replace('statement = "one is one"', 'statement = "one is one"\nquote = "GPT-2, OPT"').replace(
    'statement = "about three"', 'statement = "about three"\nsource = "Someone et al. 2023, Table 1"')


def report(tmp_path: Path) -> tuple[Path, str]:
    path = write(tmp_path, REPORT_TEXT, "report.md")
    return path, REPORT_TEXT


def test_quotes_and_sources_load_with_the_report(tmp_path):
    claims = load_catalog(write(tmp_path, QUOTED), report=report(tmp_path)).claims
    assert claims[0].quote == "GPT-2, OPT" and claims[1].source.startswith("Someone")


def test_a_quote_differing_only_in_emphasis_and_whitespace_is_found(tmp_path):
    quote = "Sentence embeddings are *context-free*  (they produce one vector per sentence"
    text = QUOTED.replace('quote = "GPT-2, OPT"', f'quote = "{quote}"')
    assert load_catalog(write(tmp_path, text), report=report(tmp_path)).claims[0].quote == quote


@pytest.mark.parametrize("change, problem", [
    (('quote = "GPT-2, OPT"', 'quote = "GPT-2, OPT, LLaMA"'), "not found in the report"),
    (('quote = "GPT-2, OPT"', 'quote = "sentence embeddings are context-free"'), "not found in the report"),
    (('quote = "GPT-2, OPT"\n', ''), "missing"),
    (('quote = "GPT-2, OPT"', 'quote = 3'), "must be a string"),
])
def test_a_quote_not_in_the_report_names_file_claim_and_field(tmp_path, change, problem):
    path = write(tmp_path, QUOTED.replace(*change))
    report_path, _ = report(tmp_path)
    with pytest.raises(CatalogError, match=problem) as info:
        load_catalog(path, report=report(tmp_path))
    message = str(info.value)
    assert str(path) in message and "claim 'demo.one'" in message and "field 'quote'" in message
    if problem != "must be a string":
        assert str(report_path) in message


def test_each_expanded_claim_gets_its_quote(tmp_path):
    text = EXPANDED.replace('labels = { Property = "algorithm" }', 'labels = { Property = "algorithm" }\n'
                            'quote = "Byte-Pair Encoding"').replace(
        'labels = { Family = "BERT" } }', 'labels = { Family = "BERT" }, quote = "GPT-2, OPT" }')
    claims = load_catalog(write(tmp_path, text), report=report(tmp_path)).claims
    assert [c.quote for c in claims] == ["GPT-2, OPT", "Byte-Pair Encoding", "Byte-Pair Encoding"]


def test_every_project_claim_quotes_the_report_or_names_its_source():
    from harness.quotes import default_report_path, read_report

    path = default_report_path()
    if not path.is_file():
        pytest.skip(f"the report is not at {path} (set $LLM_HARNESS_REPORT)")
    root = Path(__file__).resolve().parent.parent
    claims = [c for p in sorted(root.glob("suites/*/catalog.toml"))
              for c in load_catalog(p, report=(path, read_report(path))).claims]
    assert claims and all(c.quote or c.source for c in claims)


# --- the tolerance policy is enforced at load time (harness/policy.toml) ------------------------------

POLICY_DEMO = '''
experiment = "demo"
section = "3"

[[claim]]
id = "demo.similarity"
statement = "the pair scores ~0.85"
measure = "similarity"
check = "approx"
expected = 0.85
as_written = "~0.85"
tolerance = 0.01

[[claim]]
id = "demo.premium"
statement = "significantly more tokens"
measure = "premium"
check = "ratio"
min = 1.5
policy = "significantly"
'''


def test_tolerances_from_the_policy_load(tmp_path):
    claims = load_catalog(write(tmp_path, POLICY_DEMO)).claims
    assert [(c.as_written, c.policy) for c in claims] == [("~0.85", None), (None, "significantly")]


@pytest.mark.parametrize("change, field, problem", [
    (("tolerance = 0.01", "tolerance = 0.1"), "tolerance", r"policy reads '~0.85' as \[0.84, 0.86\]"),
    (('as_written = "~0.85"\n', ""), "as_written", "needs the report's figure as written"),
    (('as_written = "~0.85"', 'as_written = "~0.9"'), "as_written", "not the report's figure"),
    (("min = 1.5", "min = 1.0"), "min", "policy word 'significantly' gives"),
    (('policy = "significantly"\n', ""), "policy", "need the policy rule"),
    (('policy = "significantly"', 'policy = "hugely"'), "policy", "no rule for 'hugely'"),
])
def test_a_tolerance_outside_the_policy_fails_to_load(tmp_path, change, field, problem):
    with pytest.raises(CatalogError, match=f"claim '[a-z.]+': field '{field}': .*{problem}"):
        load_catalog(write(tmp_path, POLICY_DEMO.replace(*change)))


def test_a_named_source_exempts_a_tolerance_but_must_say_something(tmp_path):
    loose = POLICY_DEMO.replace("tolerance = 0.01", "tolerance = 0.1")
    sourced = loose.replace("tolerance = 0.1", 'tolerance = 0.1\ntolerance_source = "MTEB rounds to 0.1"')
    assert load_catalog(write(tmp_path, sourced)).claims[0].tolerance_source == "MTEB rounds to 0.1"
    with pytest.raises(CatalogError, match="field 'tolerance_source'"):
        load_catalog(write(tmp_path, loose.replace("tolerance = 0.1", 'tolerance = 0.1\ntolerance_source = " "')))


def test_as_written_must_be_printed_in_the_report(tmp_path):
    report = tmp_path / "report.md"
    report.write_text("Dog / Puppy scores **~0.85** on the pair. It needs significantly more tokens.", encoding="utf-8")
    quoted = POLICY_DEMO.replace('statement = "the pair scores ~0.85"',
                                 'statement = "the pair scores ~0.85"\nquote = "Dog / Puppy scores ~0.85"')
    quoted = quoted.replace('statement = "significantly more tokens"',
                            'statement = "significantly more tokens"\nquote = "It needs significantly more tokens"')
    assert load_catalog(write(tmp_path, quoted), report=(report, report.read_text())).claims
    wrong = quoted.replace('as_written = "~0.85"', 'as_written = "~0.850"').replace("tolerance = 0.01",
                                                                                     "tolerance = 0.001")
    with pytest.raises(CatalogError, match="field 'as_written': '~0.850' is not written in the report"):
        load_catalog(write(tmp_path, wrong), report=(report, report.read_text()))


def test_evidence_is_a_measurement_or_a_definition(tmp_path):
    text = POLICY_DEMO.replace('measure = "premium"', 'measure = "premium"\nevidence = "definition"')
    assert [c.evidence for c in load_catalog(write(tmp_path, text)).claims] == ["measurement", "definition"]
    with pytest.raises(CatalogError, match="field 'evidence': must be one of measurement, definition"):
        load_catalog(write(tmp_path, text.replace('"definition"', '"proof"')))


def test_a_claim_about_any_model_is_never_a_stand_in_difference(tmp_path):
    from types import SimpleNamespace

    from harness.record import stands_for

    text = POLICY_DEMO.replace('measure = "premium"', 'measure = "premium"\nany_model = true')
    general, specific = load_catalog(write(tmp_path, text)).claims[::-1]
    minilm = SimpleNamespace(stands_for="BERT-base")
    assert general.any_model and stands_for(general, minilm) is None
    assert stands_for(specific, minilm) == "BERT-base"
