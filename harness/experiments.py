"""Which experiment a test belongs to: the directory under suites/ its node id names."""

from __future__ import annotations


def experiment_of(nodeid: str | None) -> str | None:
    """'suites/lora/test_lora_claims.py::test_x[...]' -> 'lora'; None for a test outside suites/."""
    parts = (nodeid or "").split("::")[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "suites" else None
