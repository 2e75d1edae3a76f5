"""Headless Chromium with the network shut, to prove a page renders on its own."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

INSTALL = "apt-get install chromium (Debian/Ubuntu), or put a Chromium binary on PATH"
OFFLINE_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
    # no network: every host name fails to resolve and any proxied request goes nowhere
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(page: Path, extra: list[str], timeout: float) -> subprocess.CompletedProcess:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError(f"no Chromium found; install it with: {INSTALL}")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([binary, *OFFLINE_FLAGS, f"--user-data-dir={profile}",
                               "--virtual-time-budget=8000", *extra, page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout, check=True)


def rendered_dom(page: Path, timeout: float = 90) -> str:
    """The DOM after the page's scripts ran."""
    return _run(page, ["--dump-dom"], timeout).stdout


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1000, 760), timeout: float = 90) -> bytes:
    _run(page, [f"--screenshot={png}", f"--window-size={size[0]},{size[1]}"], timeout)
    return png.read_bytes()
