"""The sliced output layer (harness/lm_head.py) is a drop-in: same logits as nn.Linear, the same
(tied) Parameter, the same generated tokens; tiny random models only."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from harness.lm_head import SlicedLMHead, slice_output_layer


def tiny_llama(tied: bool) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=5000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         pad_token_id=0, tie_word_embeddings=tied, attn_implementation="eager")
    return LlamaForCausalLM(config).eval()


@pytest.mark.parametrize("shape", [(1, 1, 48), (3, 1, 48), (16, 1, 48), (64, 1, 48), (2, 7, 48), (48,), (5, 48),
                                   (65, 1, 48), (200, 1, 48), (0, 1, 48)])
def test_sliced_head_gives_the_linear_layer_logits(shape):
    torch.manual_seed(1)
    linear = nn.Linear(48, 5000, bias=False)
    hidden = torch.randn(shape)
    sliced = SlicedLMHead(linear, slice_rows=512)
    logits = sliced(hidden)
    assert logits.shape == (*shape[:-1], 5000) and logits.is_contiguous()
    torch.testing.assert_close(logits, linear(hidden), rtol=1e-5, atol=1e-5)


def test_sliced_head_reads_a_strided_last_position():
    """What logits_to_keep = 1 passes: the last position of [batch, seq, hidden], not contiguous."""
    torch.manual_seed(2)
    linear = nn.Linear(48, 5000, bias=False)
    hidden = torch.randn(4, 9, 48)[:, -1:, :]
    assert not hidden.is_contiguous()
    torch.testing.assert_close(SlicedLMHead(linear, slice_rows=512)(hidden), linear(hidden), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [1, 3, 16, 24, 64])
def test_products_written_in_place_equal_the_concatenated_slices(rows):
    """Without autograd the slices' products go into one preallocated tensor; with it they are
    concatenated (out= records no graph): the same bits either way, and a graph where one is needed."""
    torch.manual_seed(3)
    linear = nn.Linear(48, 5000, bias=False)  # 5000 / 512: an uneven last slice
    hidden = torch.randn(rows, 1, 48)
    sliced = SlicedLMHead(linear, slice_rows=512)
    with torch.inference_mode():
        in_place = sliced(hidden)
    concatenated = sliced(hidden)
    assert concatenated.requires_grad and not in_place.requires_grad
    assert torch.equal(in_place, concatenated)
    concatenated.sum().backward()
    assert linear.weight.grad is not None


def test_a_head_with_a_bias_is_refused():
    with pytest.raises(ValueError, match="bias-free"):
        SlicedLMHead(nn.Linear(8, 16))


@pytest.mark.parametrize("tied", [True, False])
def test_sliced_model_keeps_its_weight_and_generates_the_same_tokens(tied):
    model = tiny_llama(tied)
    ids = torch.tensor([[5, 17, 99, 4000], [0, 0, 8, 9]])
    mask = (ids != 0).long()
    with torch.inference_mode():
        before = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False,
                                pad_token_id=0)
    weight = model.get_output_embeddings().weight
    slice_output_layer(model)
    head = model.get_output_embeddings()
    assert isinstance(head, SlicedLMHead) and head.weight is weight
    assert (head.weight is model.get_input_embeddings().weight) == tied
    with torch.inference_mode():
        after = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False,
                               pad_token_id=0)
    assert torch.equal(before, after)
