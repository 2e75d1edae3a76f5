"""The model cache with real processes: two first-time runs converting into one cache take turns and
both succeed; SIGTERM (or SIGKILL) to the run never leaves the conversion child running."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# a run that prepares the stand-in model; the conversion child is tests/test_models_cache.py's stand-in
RUN = """
import sys, pathlib
sys.path.insert(0, {tests!r})
from harness import models
from test_models_cache import child, fake_source
cache, counter, sleep = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), float(sys.argv[3])
target = models.prepare_gguf(fake_source(), cache, notify=lambda m: print(m, flush=True),
                             command=child(counter, sleep))
print("READY", target, flush=True)
""".format(tests=str(ROOT / "tests"))

# a conversion child that records its pid, dies with its parent as the real one does, then hangs
HANG = """
import os, sys, time, pathlib
from harness.convert_gguf import _die_with_parent
_die_with_parent()
pathlib.Path(sys.argv[2]).write_text(str(os.getpid()))
time.sleep(300)
"""

HANG_RUN = f"""
import sys, pathlib
sys.path.insert(0, {str(ROOT / "tests")!r})
from harness import models
from test_models_cache import fake_source
models.prepare_gguf(fake_source(), pathlib.Path(sys.argv[1]),
                    command=lambda t: [sys.executable, "-c", {HANG!r}, str(t), sys.argv[2]])
"""


def _start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_two_first_time_runs_share_one_conversion(tmp_path):
    cache, counter = tmp_path / "cache", tmp_path / "count"
    runs = [_start(RUN, str(cache), str(counter), "5.0") for _ in range(2)]  # a slow conversion: they overlap
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("READY" in out for out in outputs)
    assert len(counter.read_text().splitlines()) == 1, outputs  # one converted, the other waited
    assert any("waiting for another process" in out for out in outputs), outputs
    converted = cache / "converted"
    assert sorted(p.name for p in converted.iterdir()) == ["fake-v2", "fake-v2.lock"]
    manifest = json.loads((converted / "fake-v2" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "tokenizer.json"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process-group and /proc checks are Linux's")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_signal_to_the_run_ends_the_conversion_child(tmp_path, sig):
    pid_file = tmp_path / "child.pid"
    run = _start(HANG_RUN, str(tmp_path / "cache"), str(pid_file))
    _wait_for(pid_file)
    child = int(pid_file.read_text())
    assert _alive(child)
    run.send_signal(sig)
    run.communicate(timeout=60)
    assert run.returncode == -sig  # the run still ends as that signal says
    deadline = time.monotonic() + 15
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"conversion child {child} outlived the run after {sig.name}"
