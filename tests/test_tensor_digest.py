"""fixtures.finetune.tensor_digest: the bit-for-bit fingerprint the LoRA freezing claim compares
base weights with (instead of a copy of every weight)."""

from __future__ import annotations

import torch

from fixtures.finetune import tensor_digest


def test_equal_bits_equal_digests_and_one_bit_differs():
    torch.manual_seed(0)
    weight = torch.randn(64, 48, requires_grad=True)
    assert tensor_digest(weight) == tensor_digest(weight.detach().clone())
    flipped = weight.detach().clone()
    flipped.view(torch.int32)[17, 5] ^= 1  # the lowest mantissa bit of one element
    assert tensor_digest(flipped) != tensor_digest(weight)


def test_dtype_shape_and_layout():
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    assert tensor_digest(x) != tensor_digest(x.reshape(4, 3))
    assert tensor_digest(x) != tensor_digest(x.view(torch.int32))
    assert tensor_digest(x.T) == tensor_digest(x.T.contiguous())  # values, not strides
    assert tensor_digest(x.bfloat16()) != tensor_digest(x.half())
    assert tensor_digest(torch.tensor(1.0)) != tensor_digest(torch.tensor([1.0]))


def test_bits_not_values():
    assert tensor_digest(torch.tensor([0.0])) != tensor_digest(torch.tensor([-0.0]))
    nan = torch.tensor([float("nan")])
    assert tensor_digest(nan) == tensor_digest(nan.clone())
