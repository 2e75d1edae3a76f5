"""A float32 matrix kept in a file and read back a block of rows at a time.

The generation suite's next-token logits ([400 contexts, 262,144 words] for Gemma-3 on `cpu`: 420 MB)
are read by half a dozen claims, each a block of rows at a time. Held in memory for the whole module they
sat under every peak of it, decoding included. In a file they cost the process nothing between reads:
blocks are read with plain reads, not a memory mapping, so the pages stay in the kernel's cache (which it
may drop) and never count in the process's resident set. (Where the temporary directory is a tmpfs, the
file itself is in RAM: out of the process's RSS, not out of memory.) The values read back are the bytes
written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch


class RowFile:
    """[rows, columns] float32, rows in order; `split(n)` yields [<= n, columns] tensors as Tensor.split
    does, and iteration yields the rows one by one."""

    def __init__(self, path: Path, rows: int, columns: int) -> None:
        self.path, self.rows, self.columns = Path(path), rows, columns
        expected = rows * columns * 4
        if self.path.stat().st_size != expected:
            raise ValueError(f"{self.path}: {self.path.stat().st_size} bytes, expected {expected} "
                             f"for [{rows}, {columns}] float32")

    @classmethod
    def write(cls, path: Path, blocks: Iterable[torch.Tensor]) -> RowFile:
        """Write [n, columns] blocks in order (any float dtype is stored as float32)."""
        rows, columns = 0, None
        with open(path, "wb") as out:
            for block in blocks:
                if block.dim() != 2 or (columns is not None and block.shape[1] != columns):
                    raise ValueError(f"{path}: block of shape {list(block.shape)} after {columns} columns")
                columns = block.shape[1]
                out.write(memoryview(block.detach().to("cpu", torch.float32).contiguous().numpy()))  # no copy
                rows += block.shape[0]
        return cls(path, rows, columns or 0)

    def __len__(self) -> int:
        return self.rows

    def split(self, rows: int) -> Iterator[torch.Tensor]:
        with open(self.path, "rb") as source:
            for start in range(0, self.rows, rows):
                block = torch.empty((min(rows, self.rows - start), self.columns), dtype=torch.float32)
                if source.readinto(block.numpy()) != block.numel() * 4:
                    raise ValueError(f"{self.path}: ended before row {start + len(block)} of {self.rows}")
                yield block

    def __iter__(self) -> Iterator[torch.Tensor]:
        for block in self.split(32):
            yield from block
