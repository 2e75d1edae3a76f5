"""Peak resident memory of this process and of its finished children (fine-tuning runs in a child).

`resource.getrusage` gives the high-water mark the kernel keeps (ru_maxrss: KiB on Linux, bytes on macOS),
so a reading after an experiment is the session's peak so far, not that experiment's own.
"""

from __future__ import annotations

import sys


def peak_rss_mb(who: str = "self") -> float | None:
    """Peak RSS in MB (10^6 bytes) of this process ("self") or of its largest waited-for child ("children").

    For "self" Linux's VmHWM is used where it exists: ru_maxrss survives exec, so a process started from a
    large parent would report the parent's size at fork until it outgrew it."""
    if who == "self":
        try:
            for line in open("/proc/self/status", encoding="ascii"):
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) * 1024 / 1e6, 1)
        except OSError:
            pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN)
    unit = 1 if sys.platform == "darwin" else 1024
    return round(usage.ru_maxrss * unit / 1e6, 1)
