"""harness.models.tokenizer_from_json: a converted model's tokenizer.json read by transformers' generic
class behaves as the class its config names (here a small GemmaTokenizer, the class Gemma-3's converted
tokenizer names), without that class's Python copy of the vocabulary and merges."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AddedToken, AutoTokenizer, GemmaTokenizer, PreTrainedTokenizerFast

from harness.models import tokenizer_from_json

TEXTS = ["", " ", "hello world", "a<extra>b <tight>c<turn>",
         "  lower  upper\n\ttab", "héllo wörld ünïcode", "日本語 🤗 mixed", "<bos>x<eos>",
         "a" * 200, "the the the low lower lowest"]


def small_gemma(folder):
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    pieces = specials + [f"<0x{b:02X}>" for b in range(256)] + list("abcdefghijklmnopqrstuvwxyz▁")
    merges = [("l", "o"), ("lo", "w"), ("▁", "low"), ("e", "r"), ("▁", "t"), ("h", "e"), ("▁t", "he")]
    pieces += ["".join(m) for m in merges]
    vocab = {p: i for i, p in enumerate(dict.fromkeys(pieces))}
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges)
    tokenizer.add_tokens(["<extra>", AddedToken("<tight>", lstrip=True, normalized=False)])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<turn>"]})
    tokenizer.save_pretrained(folder)
    return folder


def encodings(tok):
    padded = tok(TEXTS, padding=True, return_tensors="pt")
    return ([tok(t)["input_ids"] for t in TEXTS], [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS],
            padded["input_ids"], padded["attention_mask"])


def test_same_backend_padding_and_encodings_as_the_named_class(tmp_path):
    folder = small_gemma(tmp_path)
    named, generic = AutoTokenizer.from_pretrained(folder), tokenizer_from_json(folder)
    assert type(named).__name__ == "GemmaTokenizer" and type(generic).__name__ != "GemmaTokenizer"
    assert json.loads(generic.backend_tokenizer.to_str()) == json.loads(named.backend_tokenizer.to_str())
    assert generic.padding_side == named.padding_side == "left"
    assert generic.truncation_side == named.truncation_side
    assert (generic.bos_token_id, generic.eos_token_id, generic.pad_token_id, generic.unk_token_id) == \
        (named.bos_token_id, named.eos_token_id, named.pad_token_id, named.unk_token_id)
    for a, b in zip(encodings(named), encodings(generic)):
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
    ids = named(TEXTS)["input_ids"]
    assert generic.batch_decode(ids, skip_special_tokens=True) == named.batch_decode(ids, skip_special_tokens=True)
    assert not hasattr(generic, "_merges")  # the point: no Python copy of the merges


def test_added_tokens_come_from_the_backend_as_a_full_parse_gives_them(tmp_path):
    """tokenizer_from_json skips from_pretrained's Python parse of tokenizer.json's added tokens; the
    tokenizer must be the one that parse gives: same added tokens with their flags, specials, backend."""
    folder = small_gemma(tmp_path)
    parsed, fast = PreTrainedTokenizerFast.from_pretrained(folder, padding_side="left"), tokenizer_from_json(folder)
    assert {i: repr(t) for i, t in fast.added_tokens_decoder.items()} == \
        {i: repr(t) for i, t in parsed.added_tokens_decoder.items()}
    assert {"<extra>", "<tight>", "<turn>"} <= set(fast.get_added_vocab())
    assert fast.special_tokens_map == parsed.special_tokens_map and fast.all_special_ids == parsed.all_special_ids
    assert fast.backend_tokenizer.to_str() == parsed.backend_tokenizer.to_str()
    for a, b in zip(encodings(parsed), encodings(fast)):
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_side_the_config_sets_wins(tmp_path, side):
    folder = small_gemma(tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "padding_side": side}))
    assert tokenizer_from_json(folder).padding_side == AutoTokenizer.from_pretrained(folder).padding_side == side


def test_generic_config_keeps_the_generic_default(tmp_path):
    folder = small_gemma(tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "TokenizersBackend"}))
    assert tokenizer_from_json(folder).padding_side == "right"


def test_a_broken_config_names_its_file(tmp_path):
    folder = small_gemma(tmp_path)
    (folder / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer_config.json: unreadable tokenizer config"):
        tokenizer_from_json(folder)
