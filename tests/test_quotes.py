"""Quotes are found in the report up to markdown, typography and whitespace, and nothing more."""

from pathlib import Path

import pytest

from harness.quotes import (
    QuoteError,
    check_quote,
    default_report_path,
    find_quote,
    normalise,
    quote_problem,
    read_report,
)

REPORT = """## 3. Experiment 2

| "dog" vs "puppy" | ~0.85 | Very High — near-synonyms |

Sentence embeddings are **context-free** (they produce one vector per sentence by pooling
token   embeddings). See [the view](attention_head_view.html) and `d_model = 768`, _really_.
- Temperature **T scales the logits** before softmax: `logit_i / T`
BERT may use `[UNK]` for characters outside its vocabulary; “quoted” and ‘single’ – dashes.
"""


@pytest.mark.parametrize("quote", [
    "Very High — near-synonyms",
    "Very High - near-synonyms",  # em dash typed as a hyphen
    "Sentence embeddings are context-free",  # bold removed
    "by pooling token embeddings",  # line break and a run of spaces
    "Sentence embeddings are **context-free** (they produce",
    "See the view and d_model = 768, really.",  # link text, backticks, edge underscores
    "T scales the logits before softmax: logit_i / T",
    "BERT may use [UNK] for characters",  # brackets that are not a link stay
    '"quoted" and \'single\' - dashes',
    '| "dog" vs "puppy" | ~0.85 |',
])
def test_present_quotes_are_found(quote):
    assert find_quote(quote, REPORT)


@pytest.mark.parametrize("quote", [
    "Very High — synonyms",  # words changed
    "very high — near-synonyms",  # case is kept
    "~0.86",  # a different value
    "Sentence embeddings are context free",  # hyphen dropped: not typography
    "dmodel = 768",  # an underscore inside a word is not emphasis
    "UNK for characters",  # brackets are the report's text
    "",
])
def test_absent_quotes_are_not_found(quote):
    assert not find_quote(quote, REPORT)


def test_normalise_is_idempotent_and_collapses_whitespace():
    once = normalise("  **a**\n\n  _b_ `c`  ")
    assert once == "a b c"
    assert normalise(once) == once


def test_check_quote_names_claim_field_and_report():
    with pytest.raises(QuoteError) as err:
        check_quote("emb.pair.dog-puppy", "~0.95", REPORT, "report.md")
    message = str(err.value)
    assert "emb.pair.dog-puppy" in message and "'quote'" in message and "report.md" in message
    assert "not found" in message


@pytest.mark.parametrize("quote, problem", [(None, "must be a string"), ("~0.", "too short"), (["a"], "string")])
def test_check_quote_rejects_unusable_quotes(quote, problem):
    with pytest.raises(QuoteError, match=problem):
        check_quote("x.claim", quote, REPORT, "report.md")


def test_check_quote_accepts_a_present_quote():
    check_quote("x.claim", "Very High — near-synonyms", REPORT, "report.md")


def test_default_report_path_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("LLM_HARNESS_REPORT", raising=False)
    assert default_report_path(Path("/a/project")) == Path("/a/shared/report/llm-internals-report.md")
    monkeypatch.setenv("LLM_HARNESS_REPORT", str(tmp_path / "r.md"))
    assert default_report_path(Path("/a/project")) == tmp_path / "r.md"


def test_unreadable_report_is_a_clear_error(tmp_path):
    with pytest.raises(QuoteError, match="cannot read the report.*LLM_HARNESS_REPORT"):
        read_report(tmp_path / "missing.md")
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(QuoteError, match="binary.md"):
        read_report(binary)


def test_quote_problem_for_catalog_claims():
    assert quote_problem({"id": "a", "quote": "Very High — near-synonyms"}, REPORT, "r.md") is None
    assert quote_problem({"id": "a", "source": "Holtzman et al. 2020, Table 1"}, REPORT, "r.md") is None
    absent = quote_problem({"id": "a", "quote": "Very Low — synonyms"}, REPORT, "r.md")
    assert absent and "claim 'a'" in absent and "not found" in absent
    missing = quote_problem({"id": "b"}, REPORT, "r.md")
    assert missing and "claim 'b'" in missing and "'source'" in missing
    sourced_but_wrong = quote_problem({"id": "c", "source": "MTEB", "quote": "not in it"}, REPORT, "r.md")
    assert sourced_but_wrong and "not found" in sourced_but_wrong
    assert quote_problem({"id": "d", "source": "  "}, REPORT, "r.md")


def test_the_real_report_is_found_by_default():
    path = default_report_path()
    if not path.is_file():
        pytest.skip(f"the report is not at {path} (set LLM_HARNESS_REPORT)")
    assert find_quote("Only **A** and **B** are trained.", read_report(path))
