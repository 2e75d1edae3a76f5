"""Command line: `python -m harness compare|matrix|history ...` (see each module's docstring)."""

import importlib
import sys

COMMANDS = {"compare": "harness.compare", "matrix": "harness.matrix", "history": "harness.history"}
USAGE = """usage: python -m harness COMMAND ...

  compare A B | --profile P   claims that moved or changed verdict between two runs, and timings
  matrix                      each claim per profile/model set side by side, benchmark means per profile
  history CLAIM_ID            a claim's measured value across all saved runs, with a plot

`python -m harness COMMAND --help` for the options."""


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
