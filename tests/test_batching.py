"""harness.batching.length_batches: every index once, batches of similar length, ties in arrival order."""

import pytest

from harness.batching import length_batches


def test_every_index_once_sorted_by_length_in_batches():
    lengths = [5, 1, 3, 3, 9, 1, 7]
    batches = length_batches(lengths, 3)
    assert batches == [[1, 5, 2], [3, 0, 6], [4]]  # stable: 1 before 5, 2 before 3
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


def test_no_items_no_batches_and_a_bad_size_is_refused():
    assert length_batches([], 4) == []
    with pytest.raises(ValueError, match="batch_size"):
        length_batches([1, 2], 0)
