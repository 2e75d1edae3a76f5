"""harness/allocator.py: give_back() returns freed heap pages that glibc would keep resident."""

from __future__ import annotations

import platform
import sys

import pytest
from test_memory import in_a_fresh_process

from harness.allocator import give_back

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="malloc_trim is glibc's; elsewhere give_back() does nothing")

# 300 MB in 64 KB blocks (below glibc's mmap threshold: they live on the heap), all freed but the last,
# which pins the heap's top, so glibc's own trimming cannot return the free pages below it.
PINNED_HEAP = """from harness.allocator import give_back
def rss():
    return next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmRSS"))
blocks = [bytearray(b"x" * 65536) for _ in range(4800)]
pin = blocks[-1]
del blocks
# allocate
held = rss()
print(held, give_back(), rss())
"""


@glibc_only
def test_freed_heap_pages_below_a_live_block_go_back_to_the_kernel():
    held, returned, after = in_a_fresh_process(PINNED_HEAP, touch_mb=0)
    assert returned == "True"
    assert int(after) <= int(held) - 200, (held, after)  # ~300 MB freed, resident until give_back()


def test_give_back_answers_whether_pages_were_returned():
    assert isinstance(give_back(), bool)
    assert isinstance(give_back(), bool)  # again, with nothing left to give back
