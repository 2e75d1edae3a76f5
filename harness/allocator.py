"""Giving freed memory back to the kernel when the session lets go of an experiment's models.

glibc's malloc returns the free top of its heap to the kernel, but not free blocks below a block
still in use: after an experiment's models and tensors are freed, many of their pages would stay
resident and count in the next experiment's peak. malloc_trim(0) returns every free page, wherever
it sits in the heap. Elsewhere than glibc give_back() does nothing.

(Tried and left out: raising glibc's mmap and trim thresholds so that the large per-step tensors of
decoding are reused instead of mapped afresh. Once the token statistics run in blocks of 4 rows,
fixtures/generation.py, it saved nothing measurable on Gemma-3 decoding and kept up to the trim
threshold of free memory resident.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def give_back() -> bool:
    """Return the heap's free pages to the kernel (glibc malloc_trim(0)); True if any were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
