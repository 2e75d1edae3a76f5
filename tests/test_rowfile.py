"""harness/rowfile.py gives back exactly the rows written, in order, and refuses a damaged file."""

from __future__ import annotations

import pytest
import torch

from harness.rowfile import RowFile


def blocks(rows: int = 70, columns: int = 1000, size: int = 32) -> tuple[torch.Tensor, list[torch.Tensor]]:
    matrix = torch.randn(rows, columns, generator=torch.Generator().manual_seed(0))
    matrix[3, 7], matrix[5, 0] = float("-inf"), float("nan")  # the bytes come back, not a rounding of them
    return matrix, list(matrix.split(size))


def test_rows_come_back_bit_for_bit_in_order(tmp_path):
    matrix, parts = blocks()
    stored = RowFile.write(tmp_path / "m.f32", parts)
    assert len(stored) == 70 and stored.columns == 1000
    for size in (1, 32, 33, 70, 100):
        read = list(stored.split(size))
        assert [len(b) for b in read] == [len(b) for b in matrix.split(size)]
        assert torch.equal(torch.cat(read).view(torch.int32), matrix.view(torch.int32))
    rows = list(stored)
    assert len(rows) == 70 and all(torch.equal(r.view(torch.int32), m.view(torch.int32)) for r, m in zip(rows, matrix))


def test_float64_blocks_are_stored_as_float32(tmp_path):
    matrix = torch.randn(4, 5, dtype=torch.float64)
    assert torch.equal(torch.cat(list(RowFile.write(tmp_path / "m.f32", [matrix]).split(4))), matrix.float())


def test_a_truncated_file_or_a_ragged_block_is_refused(tmp_path):
    _, parts = blocks()
    stored = RowFile.write(tmp_path / "m.f32", parts)
    with open(stored.path, "r+b") as damaged:
        damaged.truncate(4 * 1000 * 69)
    with pytest.raises(ValueError, match="expected"):
        RowFile(stored.path, 70, 1000)
    with pytest.raises(ValueError, match="ended before row"):
        list(_unchecked(stored.path, 70, 1000).split(32))
    with pytest.raises(ValueError, match="block of shape"):
        RowFile.write(tmp_path / "ragged.f32", [torch.zeros(2, 3), torch.zeros(2, 4)])


def _unchecked(path, rows: int, columns: int) -> RowFile:
    stored = RowFile.__new__(RowFile)
    stored.path, stored.rows, stored.columns = path, rows, columns
    return stored


def test_no_blocks_is_an_empty_matrix(tmp_path):
    stored = RowFile.write(tmp_path / "empty.f32", [])
    assert len(stored) == 0 and list(stored.split(32)) == [] and list(stored) == []
