"""Convert a GGUF checkpoint into a plain transformers directory (fp32 safetensors + tokenizer).

`run_conversion` (parent side) runs `python -m harness.convert_gguf MODEL.gguf EMPTY_DIR` in a
child process, so the session's memory stays at the converted model's size, forwards its progress
through `notify`, and never leaves it running: on an exception, Ctrl-C or SIGTERM the child's whole
process group is killed, and the child itself dies with its parent (PR_SET_PDEATHSIG on Linux).

transformers dequantises GGUF weights on load but refuses to save a gguf-quantised model, so the
weights are copied into a model built from the same config without its quantization_config.

transformers opens the file anew with gguf's `GGUFReader` for the tokenizer, for each config read and
for the weights; each reader parses every metadata field (Gemma-3's 262,144-token vocabulary arrays as
numpy views): 61% of a Gemma-3 conversion in a py-spy profile on 2 cores. `one_reader_per_file` lets those
calls share one reader (standalone, interleaved: 89.6 / 76.5 -> 55.6 / 52.4 s; output byte-identical).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PARENT_ENV = "LLM_HARNESS_CONVERT_PARENT"
KILL_GRACE_S = 5.0


class _Terminated(BaseException):
    """SIGTERM arrived while a conversion child was running."""


@contextlib.contextmanager
def one_reader_per_file() -> Iterator[None]:
    """Inside the block `gguf.GGUFReader(path)` returns one reader per file and mode, parsed once.
    transformers imports the class from `gguf` at each call and only reads from it (a read-only memmap)."""
    import gguf

    original = gguf.GGUFReader
    readers: dict[tuple[str, str], Any] = {}

    def reader(path: os.PathLike | str, mode: str = "r") -> Any:
        key = (os.path.realpath(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def convert(gguf: Path, target: Path) -> None:
    """Write the converted model and tokenizer into `target` (an empty directory)."""
    with one_reader_per_file():
        _convert(gguf, target)


def _convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"  loading tokenizer from {gguf.name} ...", file=sys.stderr, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(target)
    print(f"  tokenizer ready ({time.perf_counter() - t0:.0f} s); dequantising weights ...",
          file=sys.stderr, flush=True)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantised.state_dict())
    del quantised
    plain.save_pretrained(target)
    print(f"  weights written ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)


# --- parent side ----------------------------------------------------------------------------

def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into an exception for the duration (main thread only), so clean-up runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def run_conversion(gguf: Path, target: Path, notify: Callable[[str], None],
                   command: list[str] | None = None) -> None:
    """Convert `gguf` into the empty directory `target` in a child process; raise on failure.

    `command` replaces the child's command line (self-tests use it to run a stand-in child).
    """
    cmd = command or [sys.executable, "-m", "harness.convert_gguf", str(gguf), str(target)]
    env = {**os.environ, PARENT_ENV: str(os.getpid()), "TRANSFORMERS_VERBOSITY": "error",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}
    tail: collections.deque[str] = collections.deque(maxlen=20)
    terminated = False
    with _sigterm_raises():
        proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", start_new_session=True)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip()
                if line:
                    tail.append(line)
                    notify(f"[harness]   {line}")
            returncode = proc.wait()
        except _Terminated:
            terminated = True
            _kill_group(proc)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
    if terminated:
        # the handler is restored: deliver SIGTERM again so the process ends as it would have
        os.kill(os.getpid(), signal.SIGTERM)
        raise RuntimeError(f"conversion of {gguf.name} interrupted by SIGTERM")
    if returncode != 0:
        raise RuntimeError(f"the conversion child exited with status {returncode}; last output:\n  "
                           + "\n  ".join(tail))


def _die_with_parent() -> None:
    """Linux: ask the kernel to kill this child if its parent dies, even by SIGKILL."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m harness.convert_gguf MODEL.gguf TARGET_DIR")
    _die_with_parent()
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
