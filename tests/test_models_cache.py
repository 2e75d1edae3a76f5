"""The converted-model cache: a corrupt copy is detected and rebuilt; a hub that cannot be
reached gives a skip within seconds, not a hang."""

import json
import shutil
import time
from pathlib import Path

import pytest

from harness import models


def make_cache(folder, files):
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps({"files": {n: len(d) for n, d in files.items()}}))
    return folder


def test_valid_cache_is_accepted(tmp_path):
    assert models.cache_is_valid(make_cache(tmp_path / "m", {"model.safetensors": b"x" * 10}))


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest"])
def test_corrupt_cache_is_detected(tmp_path, damage):
    folder = make_cache(tmp_path / "m", {"model.safetensors": b"x" * 10, "tokenizer.json": b"{}"})
    if damage == "truncate":
        (folder / "model.safetensors").write_bytes(b"x" * 3)
    elif damage == "delete":
        (folder / "tokenizer.json").unlink()
    else:
        (folder / "manifest.json").write_text("{not json")
    assert not models.cache_is_valid(folder)


def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    source = models.resolve("smollm2", "packaged")
    target = models.converted_dir(source, tmp_path)
    make_cache(target, {"model.safetensors": b"x" * 10})
    (target / "model.safetensors").write_bytes(b"broken")
    calls = []

    def fake_convert(cmd, check, cwd):
        calls.append(cmd)
        shutil.rmtree(cmd[-1], ignore_errors=True)
        make_cache(Path(cmd[-1]), {"model.safetensors": b"y" * 10})

    monkeypatch.setattr(models.subprocess, "run", fake_convert)
    monkeypatch.setattr(models, "_gguf_file", lambda s, c: tmp_path / "model.gguf")
    assert models.prepare_gguf(source, tmp_path) == target
    assert len(calls) == 1 and "harness.convert_gguf" in calls[0]
    assert models.cache_is_valid(target)


def test_unreachable_hub_skips_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "HUB_HOST", ("127.0.0.1", 9))  # a closed local port: nothing answers
    monkeypatch.setattr(models, "_hub_reachable", None)
    start = time.monotonic()
    with pytest.raises(models.ModelUnavailable, match="not in the local Hugging Face cache"):
        models.load_tokenizer(models.resolve("gpt2", "hub"), cache_dir=None)
    assert time.monotonic() - start < 20
