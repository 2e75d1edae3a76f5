"""Report section 2: every tokenization claim of the catalog, measured on real vocabularies."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from fixtures.tokenization import (
    Vocabulary,
    algorithm_from_files,
    script_char_costs,
    script_characters,
    script_group_premiums,
    sentencepiece_spec,
    tokenizer_files,
)

MARKERS = ("##", "Ġ", "▁")
MARKER_PROBE = "Tokenization splits unbelievably long words into pieces"


def tokens_of(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False).input_ids)


@pytest.mark.claims("algorithm")
def test_tokenizer_algorithm(claim, models, check):
    """The algorithm the tokenizer's own files state (a SentencePiece model's trainer_spec.model_type,
    tokenizer.json's model.type), not the class transformers rebuilds it as."""
    tokenizer = models.tokenizer(claim.model)
    try:
        algorithm, where = algorithm_from_files(tokenizer)
    except LookupError as exc:
        pytest.fail(f"{claim.id}: {exc}", pytrace=False)
    check(algorithm, extra={**where, "transformers_model": Vocabulary(tokenizer).algorithm})


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
    extra = {"tokens": pieces}
    spm = next((path for name, path in tokenizer_files(tokenizer).items() if name.endswith(".model")), None)
    if spm is not None:  # what the SentencePiece model file itself says
        extra["file_byte_fallback"] = sentencepiece_spec(spm)["byte_fallback"]
    check(handling, extra=extra)


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


@pytest.mark.claims("sentence_gap")
def test_multilingual_vocabulary_narrows_the_sentence_gap(claim, models, check):
    """The report's sentence pair with every named tokenizer: the lowest English-trained ratio against
    the highest multilingual one."""
    def ratio(role: str) -> float:
        tokenizer = models.tokenizer(role)
        num, den = (tokens_of(tokenizer, claim.args[k]) for k in ("numerator", "denominator"))
        return len(num) / len(den)

    english = {r: ratio(r) for r in claim.args["english"]}
    multilingual = {r: ratio(r) for r in claim.args["multilingual"]}
    first, second = claim.spec["order"]
    check({first: min(english.values()), second: max(multilingual.values())},
          extra={"ratios": {**english, **multilingual}})


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


def script_texts(claim, request) -> list[str]:
    """The claim's text, or every FLORES-200 sentence of its language."""
    if "text" in claim.args:
        return [claim.args["text"]]
    return request.getfixturevalue("flores").sentences(claim.args["language"])


@pytest.mark.claims("utf8_bytes_per_char")
def test_script_utf8_bytes_per_character(claim, request, check):
    """Characters chosen by their Unicode name (the script), not by their length in UTF-8."""
    chars = script_characters(script_texts(claim, request), claim.args["script"])
    sizes = Counter(len(ch.encode("utf-8")) for ch in chars)
    check(sum(n * k for n, k in sizes.items()) / len(chars),
          extra={"characters": len(chars), "distinct": len(set(chars)), "bytes_per_character": dict(sizes)})


@pytest.mark.claims("script_char_cost_share")
def test_script_characters_costing_n_tokens(claim, models, request, check):
    """Share of the script's characters carried by exactly `tokens` tokens, each text encoded whole."""
    tokenizer = models.tokenizer(claim.model)
    script, n = claim.args["script"], claim.args["tokens"]
    costs = script_char_costs(Vocabulary(tokenizer), script_texts(claim, request), script)
    chars = sum(costs.values())
    check(costs[n] / chars,
          extra={"characters": chars, "characters_by_tokens": dict(sorted(costs.items())),
                 "mean_tokens_per_character": sum(k * v for k, v in costs.items()) / chars})


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


@pytest.mark.claims("script_group_premium")
def test_non_latin_premium_over_latin(claim, flores_sweep, check):
    """Median FLORES-200 premium of the non-Latin-script languages over that of the Latin-script ones
    (script from the language code, English left out): the Latin languages are the baseline."""
    groups = script_group_premiums(flores_sweep, claim.model)
    medians = {g: statistics.median(p.values()) for g, p in groups.items()}
    check({"numerator": medians["non-latin"], "denominator": medians["latin"]},
          extra={"languages": {g: len(p) for g, p in groups.items()}, "median_premium": medians,
                 "lowest_non_latin": dict(sorted(groups["non-latin"].items(), key=lambda kv: kv[1])[:5])})
