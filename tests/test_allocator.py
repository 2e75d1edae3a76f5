"""harness/allocator.py: on Linux with glibc the malloc settings are applied and recorded, they keep a large
block that a decoding step allocates and frees again resident instead of faulting it in anew, and
give_back() returns freed heap pages that glibc would keep resident."""

from __future__ import annotations

import platform
import sys

import pytest
from test_memory import in_a_fresh_process

from harness.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD, give_back, keep_large_blocks

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="mallopt and malloc_trim are glibc's; elsewhere both are no-ops")

# A fresh interpreter (the harness plugin has applied the settings to this one), a float32 tensor of
# 50 MB (a step's float64 logit sums) allocated, written and freed: 10 times to reach the heap's steady
# state (torch's 64-byte aligned blocks do not fit exactly in the hole a freed one leaves, so the heap
# grows a few times first), then the minor page faults of 20 more. 50 MB is above glibc's own dynamic
# mmap threshold (at most 32 MiB): by default every such block is a fresh mapping, faulted in anew.
REFAULTS = """import resource
import torch
from harness.allocator import keep_large_blocks
settings = keep_large_blocks() if {keep} else None
# allocate
n = 50_000_000 // 4
for _ in range(10):
    t = torch.ones(n)
    del t
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    t = torch.ones(n)
    del t
print(settings is not None, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@glibc_only
def test_keep_large_blocks_reports_what_it_set():
    applied = keep_large_blocks()  # a glibc that caps the mmap threshold accepts only the trim setting
    assert applied and applied.items() <= {"mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD}.items()


@glibc_only
def test_large_blocks_are_reused_instead_of_faulted_in_again():
    applied, kept = in_a_fresh_process(REFAULTS.format(keep=True), touch_mb=0)
    default_applied, default = in_a_fresh_process(REFAULTS.format(keep=False), touch_mb=0)
    assert (applied, default_applied) == ("True", "False")
    pages = 20 * 50_000_000 // 4096
    assert int(default) >= pages // 2  # the test means something: by default each block is faulted in
    assert int(kept) < int(default) / 4, (kept, default)

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
