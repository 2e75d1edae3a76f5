"""Peak resident memory of this process and of its finished children (fine-tuning runs in a child).

The kernel keeps a high-water mark (VmHWM on Linux; ru_maxrss elsewhere: KiB on Linux, bytes on macOS).
On Linux the plugin restarts it when an experiment begins (reset_peak_rss), so a reading when the
experiment's last test ends is that experiment's own peak (what earlier experiments left resident
included); where it cannot be restarted a reading is the session's peak so far.
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


_restarted: list[bool] = []  # what reset_peak_rss() last found


def reset_peak_rss() -> bool:
    """Restart this process's high-water mark from its current RSS (Linux: 5 written to
    /proc/self/clear_refs). False where that is not possible; the mark then keeps the session's peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        done = True
    except OSError:
        done = False
    _restarted[:] = [done]
    return done


def peak_rss_restarts() -> bool:
    """Whether this process could restart its high-water mark, as reset_peak_rss() last found."""
    return bool(_restarted and _restarted[0])
