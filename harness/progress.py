"""Progress bars that stay visible under pytest's output capture."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


@contextlib.contextmanager
def capture_disabled(config: Any) -> Iterator[None]:
    capman = config.pluginmanager.getplugin("capturemanager") if config is not None else None
    if capman is None:
        yield
        return
    with capman.global_and_fixture_disabled():
        yield


def progress(items: Iterable[T], desc: str, config: Any = None, **kwargs: Any) -> Iterator[T]:
    """Iterate with a tqdm bar on the terminal (stderr), even while pytest captures output."""
    items = list(items)
    with capture_disabled(config):
        bar = tqdm(items, desc=desc, file=sys.stderr, leave=True, dynamic_ncols=True,
                   mininterval=0.5, **kwargs)
        yield from bar
        bar.close()
