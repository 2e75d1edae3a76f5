"""Command line: `python -m harness compare ...` (see harness/compare.py)."""

import sys

from harness.compare import main as compare_main

COMMANDS = {"compare": compare_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m harness {{{','.join(COMMANDS)}}} ...")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
