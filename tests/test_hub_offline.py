"""The hub code path, proven offline: a local Hugging Face cache in the Hub's own layout holds the
packaged all-MiniLM-L6-v2 files under their Hub id; the embeddings claims run with `--model-set hub`
and HF_HUB_OFFLINE=1 measure exactly what the packaged set measures, and the hub run records the
cache's commit as the model's revision."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import models

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def build_hub_cache(hub: Path, model_id: str, files: Path) -> str:
    """Lay `files` out as huggingface_hub does: blobs/<digest>, snapshots/<commit>/<path> -> blob, refs/main."""
    repo = hub / f"models--{model_id.replace('/', '--')}"
    sources = sorted(p for p in files.rglob("*") if p.is_file())
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sources}
    commit = hashlib.sha1("".join(f"{p.relative_to(files)}:{d}" for p, d in digests.items()).encode()).hexdigest()
    for path, digest in digests.items():
        blob = repo / "blobs" / digest
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(path.read_bytes())
        link = repo / "snapshots" / commit / path.relative_to(files)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit


def run_embeddings(model_set: str, results: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "suites/embeddings", "--model-set", model_set, "--profile", "ci",
           "--data-dir", str(DATA), "--results-dir", str(results), "-q", "-p", "no:cacheprovider",
           "--benchmark-skip"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)


def run_records(results: Path) -> list[dict]:
    """The claim records of the one run written under `results` (runs/ci/<id>/claims.json)."""
    files = sorted(results.glob("runs/ci/*/claims.json"))
    assert len(files) == 1, f"expected one ci run under {results}, found {files}"
    data = json.loads(files[0].read_text())
    claims = data["claims"]
    return list(claims.values()) if isinstance(claims, dict) else claims


@pytest.mark.skipif(not DATA.is_dir(), reason=f"no data directory at {DATA}")
def test_hub_set_offline_measures_what_the_packaged_set_measures(tmp_path):
    try:
        source = models.resolve("minilm", "packaged")
        files = models.verified_package_dir(source) / source.spec["path"]
    except models.ModelUnavailable as exc:
        pytest.skip(str(exc))
    hf_home = tmp_path / "hf"
    commit = build_hub_cache(hf_home / "hub", HUB_ID, files)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub"),
           "LLM_HARNESS_CACHE": str(tmp_path / "harness-cache")}
    runs = {}
    for model_set in ("hub", "packaged"):
        done = run_embeddings(model_set, tmp_path / model_set, env)
        assert done.returncode == 0, f"{model_set} run failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
        runs[model_set] = {r["id"]: r for r in run_records(tmp_path / model_set)}
    hub, packaged = runs["hub"], runs["packaged"]
    # only MiniLM is in the fake Hub cache: claims that also need another role (the word-in-context claims take
    # token vectors from bert-base-uncased on the hub set) skip there
    on_minilm = {cid for cid, r in packaged.items() if r.get("model_role") == "minilm"}
    measured = {cid for cid in on_minilm if packaged[cid].get("measured") is not None}
    assert measured, "the packaged run measured nothing"
    assert set(hub) == on_minilm
    for cid in sorted(measured):
        assert hub[cid]["measured"] == packaged[cid]["measured"], cid
        assert hub[cid].get("verdict") == packaged[cid].get("verdict"), cid
    assert all(r["model"] == HUB_ID for r in hub.values())  # the hub code path ran, not the packaged one
    recorded = _recorded_revisions(tmp_path / "hub")
    assert recorded == {commit}, f"the hub run recorded revisions {recorded}, not the cache's {commit}"


def _recorded_revisions(results: Path) -> set[str]:
    """Every `revision` value the run wrote (records or model loads), wherever the store puts it."""
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("revision") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in results.glob("runs/ci/*/*.json"):
        walk(json.loads(path.read_text()))
    return found


def test_hub_cache_layout_resolves_offline(tmp_path, monkeypatch):
    """The layout itself, without a suite run: the hub loader finds the model and its commit."""
    try:
        source = models.resolve("minilm", "packaged")
        files = models.verified_package_dir(source) / source.spec["path"]
    except models.ModelUnavailable as exc:
        pytest.skip(str(exc))
    commit = build_hub_cache(tmp_path / "hub", HUB_ID, files)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    hub = models.resolve("minilm", "hub")
    assert hub.revision == commit and hub.stands_for is None
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(HUB_ID, local_files_only=True, cache_dir=str(tmp_path / "hub"))
    assert len(tokenizer) == 30522
