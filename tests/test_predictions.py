"""fixtures.finetune.predictions_correct batches examples by length; its outcomes must still be each
example's own, in the order given, and the same as one example at a time (tiny random BERT only)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from fixtures.finetune import predictions_correct

WORDS = ["good", "bad", "film", "plot", "dull", "great", "acting", "long", "short", "fun"]


@dataclass
class Example:
    text: str
    label: int


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    vocab = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2,
                        initializer_range=1.0)  # wide weights: predictions that vary between inputs
    return BertForSequenceClassification(config).eval(), tokenizer


def one_at_a_time(model, tokenizer, examples) -> list[int]:
    with torch.no_grad():
        return [int(model(**tokenizer(e.text, return_tensors="pt")).logits.argmax(-1)) for e in examples]


def test_outcomes_are_each_examples_own_in_the_given_order(classifier):
    model, tokenizer = classifier
    generator = torch.Generator().manual_seed(1)
    # lengths 1..12 in shuffled order, so that sorting by length moves almost every example
    texts = [" ".join(WORDS[int(i)] for i in torch.randint(len(WORDS), (n,), generator=generator))
             for n in torch.randperm(12, generator=generator).add(1).repeat(3).tolist()]
    predicted = one_at_a_time(model, tokenizer, [Example(t, 0) for t in texts])
    assert 0 < sum(predicted) < len(predicted), "the random model must predict both labels for the test to bite"
    # gold = the prediction at even positions, the other label at odd ones: an outcome moved to another
    # example's place breaks the alternation
    examples = [Example(t, p if i % 2 == 0 else 1 - p) for i, (t, p) in enumerate(zip(texts, predicted))]
    for batch_size in (1, 4, 64):
        outcomes = predictions_correct(model, tokenizer, examples, batch_size=batch_size)
        assert outcomes == [i % 2 == 0 for i in range(len(examples))], batch_size


def test_no_examples_give_no_outcomes(classifier):
    model, tokenizer = classifier
    assert predictions_correct(model, tokenizer, []) == []
