"""Batches of items of similar length, so that padding to the longest in a batch pads little."""

from __future__ import annotations

from collections.abc import Sequence


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Item indices sorted by length (a stable sort: equal lengths keep their order), cut into batches of
    `batch_size`; a caller writes each batch's results back at these indices."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
