"""The converted-model cache is verified by content: each corruption probe of issue 11 is detected and
the entry rebuilt with a visible message; a failed conversion is not retried; orphans are removed.
A tiny synthetic entry (a real safetensors file and a tokenizer.json) stands for the 500 MB one."""

import json
import os
import sys
import time
from pathlib import Path

import pytest

from harness import model_cache, models

# stand-in conversion child: writes a small model.safetensors and tokenizer.json into argv[1]
CHILD = """
import json, struct, sys, time, pathlib
target = pathlib.Path(sys.argv[1])
with open(sys.argv[2], "a") as log:
    log.write("converted\\n")
time.sleep(float(sys.argv[3]))
if sys.argv[4] == "fail":
    print("boom: the stand-in conversion fails", flush=True)
    sys.exit(3)
data = struct.pack("<4096f", *range(4096))  # a real safetensors file: header length, JSON header, data
header = json.dumps({"w": {"dtype": "F32", "shape": [64, 64], "data_offsets": [0, len(data)]}}).encode()
(target / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + data)
(target / "tokenizer.json").write_text('{"model": {"vocab": {"hello": 0, "world": 1}}}')
print("stand-in conversion done", flush=True)
"""


def fake_source(file: str = "fake.gguf") -> models.ModelSource:
    return models.ModelSource(role="fake", display="fake (0M)", family="fake", model_set="packaged",
                              name="a stand-in GGUF", package="fake", spec={"loader": "gguf", "file": file})


def child(counter: Path, sleep: float = 0.0, outcome: str = "ok"):
    return lambda target: [sys.executable, "-c", CHILD, str(target), str(counter), str(sleep), outcome]


def conversions(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    """Each test starts as a new session would: nothing verified, no failure remembered."""
    monkeypatch.setattr(model_cache, "_verified", {})
    monkeypatch.setattr(model_cache, "_failed", {})
    monkeypatch.setattr(model_cache, "_package_files", {})


@pytest.fixture
def built(tmp_path):
    """A converted entry built through the real code path (lock, child process, manifest)."""
    messages: list[str] = []
    target = models.prepare_gguf(fake_source(), tmp_path, notify=messages.append,
                                 command=child(tmp_path / "count"))
    assert conversions(tmp_path / "count") == 1
    return target, messages


def test_entry_has_digest_manifest_and_nothing_else(built, tmp_path):
    target, messages = built
    manifest = json.loads((target / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "tokenizer.json"}
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())
    assert any("converting fake.gguf" in m for m in messages) and any("stand-in conversion done" in m
                                                                     for m in messages)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, target.name + ".lock"]
    assert models.cache_is_valid(target)


def _zeroed(data: bytes) -> bytes:
    return bytes(len(data))


def _random(data: bytes) -> bytes:
    return os.urandom(len(data))


def _bad_header(data: bytes) -> bytes:
    # safetensors: 8-byte header length, then a JSON header; break the JSON, keep the size
    return data[:8] + b"\xff" * 16 + data[24:]


def _one_weight(data: bytes) -> bytes:
    return data[:-4] + bytes(4)


PROBES = {
    "zeroed weights": ("model.safetensors", _zeroed),
    "random bytes": ("model.safetensors", _random),
    "corrupt safetensors header": ("model.safetensors", _bad_header),
    "one weight changed": ("model.safetensors", _one_weight),
    "edited tokenizer file": ("tokenizer.json", lambda d: d.replace(b"hello", b"jello")),
}


@pytest.mark.parametrize("probe", PROBES)
def test_same_size_corruption_is_detected_and_rebuilt(built, tmp_path, probe):
    target, _ = built
    name, damage = PROBES[probe]
    data = (target / name).read_bytes()
    (target / name).write_bytes(damage(data))
    assert (target / name).stat().st_size == len(data)
    model_cache._verified.clear()  # a new session
    problem = model_cache.entry_problem(target)
    assert problem is not None and name in problem and "sha256" in problem
    messages: list[str] = []
    assert models.prepare_gguf(fake_source(), tmp_path, notify=messages.append,
                               command=child(tmp_path / "count")) == target
    assert conversions(tmp_path / "count") == 2
    assert any("failed verification" in m and name in m and "rebuilding" in m for m in messages)
    assert (target / name).read_bytes() == data  # the stand-in child is deterministic
    assert models.cache_is_valid(target)


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest", "extra file"])
def test_structural_damage_is_detected(built, damage):
    target, _ = built
    if damage == "truncate":
        (target / "model.safetensors").write_bytes(b"x" * 3)
    elif damage == "delete":
        (target / "tokenizer.json").unlink()
    elif damage == "manifest":
        (target / "manifest.json").write_text("{not json")
    else:
        (target / "model.safetensors.tmp").write_bytes(b"left over")
    assert not models.cache_is_valid(target)


def test_verification_hashes_once_per_session(built, monkeypatch):
    target, _ = built
    model_cache._verified.clear()
    hashed: list[Path] = []
    real = model_cache.sha256_file
    monkeypatch.setattr(model_cache, "sha256_file", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        assert model_cache.entry_problem(target) is None
    assert len(hashed) == 2  # two files, hashed on the first check only
    (target / "tokenizer.json").write_bytes((target / "tokenizer.json").read_bytes())  # touched: stat changes
    assert model_cache.entry_problem(target) is None and len(hashed) == 4


def test_failed_conversion_is_remembered(tmp_path):
    counter = tmp_path / "count"
    for _ in range(3):
        with pytest.raises(models.CacheBuildFailed, match="(?s)status 3.*boom"):
            models.prepare_gguf(fake_source(), tmp_path, notify=lambda m: None,
                                command=child(counter, outcome="fail"))
    assert conversions(counter) == 1
    target = models.converted_dir(fake_source(), tmp_path)
    assert not target.exists() and not model_cache.partial_dir(target).exists()


def test_orphaned_partial_is_removed(tmp_path):
    target = models.converted_dir(fake_source(), tmp_path)
    orphan = model_cache.partial_dir(target)
    orphan.mkdir(parents=True)
    (orphan / "model.safetensors").write_bytes(b"\0" * 1_000_000)
    messages: list[str] = []
    models.prepare_gguf(fake_source(), tmp_path, notify=messages.append, command=child(tmp_path / "count"))
    assert not orphan.exists()
    assert any("removed" in m and orphan.name in m for m in messages)
    assert set(json.loads((target / "manifest.json").read_text())["files"]) == {"model.safetensors",
                                                                                 "tokenizer.json"}


def test_source_change_rebuilds(built, tmp_path):
    target, _ = built
    source = fake_source()
    source.spec["gguf_sha256"] = "0" * 64  # models.toml now names another GGUF file
    messages: list[str] = []
    builds: list[bool] = []
    models.prepare_gguf(source, tmp_path, notify=messages.append, command=child(tmp_path / "count"),
                        on_build=lambda: builds.append(True))
    assert conversions(tmp_path / "count") == 2
    assert any("different source" in m for m in messages)
    assert builds == [True]  # a rebuilt entry is one-off work (the run is cold), not load time
    models.prepare_gguf(source, tmp_path, notify=messages.append, command=child(tmp_path / "count"),
                        on_build=lambda: builds.append(True))
    assert builds == [True] and conversions(tmp_path / "count") == 2  # found: nothing built


def test_two_environments_with_the_same_package_share_an_entry(tmp_path):
    """A vocabulary staged from one virtual environment's site-packages is reused from another's
    (tox runs each profile in its own): the source names files and digests, not absolute paths."""
    source = models.ModelSource(role="fake", display="fake (0M)", family="fake", model_set="packaged",
                                name="a stand-in vocabulary", package="fake",
                                spec={"loader": "sentencepiece_model", "sha256": {"data/v.model": "ab" * 32}})
    for env in ("env-a", "env-b"):
        (tmp_path / env / "data").mkdir(parents=True)
        (tmp_path / env / "data" / "v.model").write_bytes(b"the same vocabulary")
    messages: list[str] = []
    first, second = (models._staged_dir(tmp_path / "cache", "fake",
                                        {"tokenizer.model": tmp_path / env / "data" / "v.model"}, source,
                                        messages.append) for env in ("env-a", "env-b"))
    assert first == second and not any("different source" in m for m in messages)
    assert str(tmp_path) not in (first / model_cache.MANIFEST).read_text()
    undigested = models.ModelSource(role="fake", display="fake (0M)", family="fake", model_set="packaged",
                                    name="a stand-in vocabulary", package="fake", spec={"sha256": {}})
    with pytest.raises(ValueError, match="no sha256"):
        models._staged_dir(tmp_path / "cache", "fake", {"tokenizer.model": tmp_path / "env-a" / "data" / "v.model"},
                           undigested, messages.append)


def test_unreachable_hub_skips_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "HUB_HOST", ("127.0.0.1", 9))  # a closed local port: nothing answers
    monkeypatch.setattr(models, "_hub_reachable", None)
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hf-cache")
    from transformers import AutoTokenizer, GPT2TokenizerFast  # noqa: F401  (imports are not the probe)

    start = time.monotonic()
    with pytest.raises(models.ModelUnavailable, match="not in the local Hugging Face cache"):
        models.load_tokenizer(models.resolve("gpt2", "hub"), cache_dir=None)
    assert time.monotonic() - start < 20


def test_earlier_cache_formats_are_removed_when_building(tmp_path):
    old_entry = tmp_path / "converted" / "gemma3-v1"
    old_entry.mkdir(parents=True)
    (old_entry / "model.safetensors").write_bytes(b"\0" * 1000)
    old_gguf = tmp_path / "gguf" / "old.gguf"
    old_gguf.parent.mkdir()
    old_gguf.write_bytes(b"GGUF")
    messages: list[str] = []
    models.prepare_gguf(fake_source(), tmp_path, notify=messages.append, command=child(tmp_path / "count"))
    assert not old_entry.exists() and not old_gguf.exists()
    assert sum("earlier cache format" in m for m in messages) == 2
