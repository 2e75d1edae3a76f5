"""Report section 2: every tokenization claim of the catalog, measured on real vocabularies."""

from __future__ import annotations

import re
import statistics

import pytest

from fixtures.tokenization import Vocabulary

SCRIPTS = {"Devanagari": re.compile(r"[\u0900-\u097F\uA8E0-\uA8FF]+")}
MARKERS = ("##", "Ġ", "▁")
MARKER_PROBE = "Tokenization splits unbelievably long words into pieces"


def tokens_of(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False).input_ids)


@pytest.mark.claims("algorithm")
def test_tokenizer_algorithm(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    check(Vocabulary(tokenizer).algorithm)


@pytest.mark.claims("marker")
def test_marker_style(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    pieces = tokens_of(tokenizer, MARKER_PROBE)
    found = [m for m in MARKERS if any(p.startswith(m) for p in pieces)]
    check(",".join(found) or "none",
          extra={"probe": MARKER_PROBE, "tokens": pieces})


@pytest.mark.claims("casing")
def test_casing(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    text = "Hello World, I love AI"
    decoded = tokenizer.decode(tokenizer(text, add_special_tokens=False).input_ids)
    casing = "cased" if decoded.strip() == text else \
        "lowercased" if decoded.strip() == text.lower() else f"other ({decoded!r})"
    check(casing, extra={"decoded": decoded})


@pytest.mark.claims("unknown_character")
def test_character_outside_vocabulary(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    vocab = Vocabulary(tokenizer)
    ids = tokenizer(claim.args["text"], add_special_tokens=False).input_ids
    pieces = tokenizer.convert_ids_to_tokens(ids)
    if vocab.unk_id is not None and vocab.unk_id in ids:
        handling = "unknown token"
    elif any(vocab.is_byte_fallback_piece(p) for p in pieces):
        handling = "byte fallback"
    elif vocab.byte_level:
        handling = "byte-level"
    else:
        handling = "other"
    check(handling, extra={"tokens": pieces})


@pytest.mark.claims("tokens")
def test_sentence_split(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    check(tokens_of(tokenizer, claim.args["text"]))


@pytest.mark.claims("token_count")
def test_sentence_token_count(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    pieces = tokens_of(tokenizer, claim.args["text"])
    check(len(pieces), extra={"tokens": pieces})


@pytest.mark.claims("token_counts")
def test_misspelled_sentence_costs_more_tokens(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    counts = {name: len(tokens_of(tokenizer, text)) for name, text in claim.args["texts"].items()}
    check(counts)


@pytest.mark.claims("tokens_per_word")
def test_rare_or_misspelled_words_cost_more_tokens(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    means = {name: statistics.fmean(len(tokens_of(tokenizer, w)) for w in words)
             for name, words in claim.args["groups"].items()}
    check(means)


@pytest.mark.claims("token_count_ratio")
def test_marathi_sentence_costs_more_than_english(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    num, den = (tokens_of(tokenizer, claim.args[k]) for k in ("numerator", "denominator"))
    check({"numerator": len(num), "denominator": len(den)}, extra={"numerator_tokens": num,
                                                   "denominator_tokens": den})


@pytest.mark.claims("flores_premium")
def test_flores_premium_against_english(claim, flores_sweep, check):
    language = claim.args["language"]
    stats = flores_sweep.get(claim.model, language)
    check(flores_sweep.premium(claim.model, language),
          extra={"tokens": stats.tokens,
                 "english_tokens": flores_sweep.get(claim.model, "eng_Latn").tokens,
                 "sentences": stats.sentences})


@pytest.mark.claims("unk_fraction")
def test_unknown_token_share(claim, models, request, check):
    tokenizer = models.tokenizer(claim.model)
    vocab = Vocabulary(tokenizer)
    if "text" in claim.args:
        ids = tokenizer(claim.args["text"], add_special_tokens=False).input_ids
        unk, total = sum(i == vocab.unk_id for i in ids), len(ids)
    else:
        stats = request.getfixturevalue("flores_sweep").get(claim.model, claim.args["language"])
        unk, total = stats.unk_tokens, stats.tokens
    check(unk / total,
          extra={"unk_tokens": unk, "tokens": total})


def script_runs(text: str, script: str) -> list[str]:
    return SCRIPTS[script].findall(text)


def script_corpus(claim, request) -> list[str]:
    if "text" in claim.args:
        return script_runs(claim.args["text"], claim.args["script"])
    sentences = request.getfixturevalue("flores").sentences(claim.args["language"])
    return [run for s in sentences for run in script_runs(s, claim.args["script"])]


@pytest.mark.claims("utf8_bytes_per_char")
def test_script_utf8_bytes_per_character(claim, request, check):
    runs = script_corpus(claim, request)
    chars = sum(len(r) for r in runs)
    check(sum(len(r.encode("utf-8")) for r in runs) / chars,
          extra={"characters": chars})


@pytest.mark.claims("tokens_per_script_char")
def test_tokens_per_script_character(claim, models, request, check):
    """Each run of the script's characters (a word) is encoded on its own, so the count holds
    only tokens for those characters (no spaces, digits or Latin text)."""
    tokenizer = models.tokenizer(claim.model)
    runs = script_corpus(claim, request)
    token_ids = Vocabulary(tokenizer).encode_ids(runs)
    tokens, chars = sum(len(ids) for ids in token_ids), sum(len(r) for r in runs)
    check(tokens / chars,
          extra={"tokens": tokens, "characters": chars, "words": len(runs)})


@pytest.mark.claims("premium_gap")
def test_multilingual_vocabulary_narrows_the_gap(claim, flores_sweep, check):
    """Every named tokenizer is measured: an unavailable one skips the claim (premium() says which and why)."""
    language = claim.args["language"]
    english = {r: flores_sweep.premium(r, language) for r in claim.args["english"]}
    multilingual = {r: flores_sweep.premium(r, language) for r in claim.args["multilingual"]}
    first, second = claim.spec["order"]
    check({first: min(english.values()), second: max(multilingual.values())},
          extra={"premiums": {**english, **multilingual}})


@pytest.mark.claims("flores_published")
def test_flores_counts_equal_the_published_ones(claim, flores_sweep, check):
    """Petrov et al. 2023's procedure, language by language; extra: the largest difference and where."""
    agreement = flores_sweep.agreement(claim.model)
    check(agreement.equal,
          extra={"languages": agreement.languages, "max_abs_difference": agreement.max_abs_difference,
                 "worst_language": agreement.worst_language, "column": claim.args["column"],
                 "differences": dict(sorted(agreement.differences.items())[:20])})
