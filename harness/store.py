"""The session's model store: every model and tokenizer is loaded once until release() (between
experiments, fixtures/models.py), and each load is timed.

At most `resident_causal_lms` causal LMs (a profile setting; 0 = no limit) stay loaded: loading
another lets go of the least recently used one. Their weights are memory-mapped from the cache, so
loading one again took 0.2-0.35 s on the 2-core machine, while Gemma-3 and SmolLM2 side by side hold
1.6 GB of fp32 weights.

Loads are keyed by what is loaded (model set, loader fields, revision), not by role: two roles
that name the same packaged files (`base-lm` and `gemma3`) share one load.

The store knows nothing of pytest or of the results: it reports each load through `on_load`
and one-off preparation messages (GGUF conversion) through `notify`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import models
from harness.allocator import give_back
from harness.models import ModelSource, ModelUnavailable
from harness.profiles import Profile

# (role, kind, source, load seconds, one-off preparation seconds)
LoadCallback = Callable[[str, str, ModelSource, float, float], None]
DESCRIPTIVE = frozenset({"display", "name", "stands_for"})  # spec fields that say what it is, not what loads


def source_key(source: ModelSource) -> tuple[Any, ...]:
    """What decides the loaded object: equal for roles that name the same files."""
    spec = tuple(sorted((k, repr(v)) for k, v in source.spec.items() if k not in DESCRIPTIVE))
    return source.model_set, source.package, source.revision, spec


class ModelStore:
    def __init__(self, *, profile: Profile, model_set: str, cache_dir: Path,
                 on_load: LoadCallback | None = None, notify: Callable[[str], None] | None = None):
        self.profile, self.model_set, self.cache_dir = profile, model_set, cache_dir
        self.on_load, self.notify = on_load, notify
        self._loaded: dict[tuple[Any, str], Any] = {}
        self._failed: dict[tuple[Any, str], ModelUnavailable] = {}
        self._sources: dict[str, ModelSource] = {}
        self.resident_causal_lms = int(profile.get("resident_causal_lms", 0))

    def source(self, role: str) -> ModelSource:
        if role not in self._sources:
            self._sources[role] = models.resolve(role, self.model_set)
        return self._sources[role]

    def _get(self, role: str, kind: str, load: Callable[[ModelSource], Any]) -> Any:
        if (role, kind) in self._failed:
            raise self._failed[role, kind]
        try:
            source = self.source(role)
        except ModelUnavailable as exc:
            self._failed[role, kind] = exc
            raise
        key = (source_key(source), kind)
        if key in self._failed:
            raise self._failed[key]
        if key not in self._loaded:
            if kind.startswith("causal-lm/"):  # before the load, so that two LMs are never resident at once
                self._evict_causal_lms(keep=key)
            try:
                start = time.perf_counter()
                built = self._prepare(source)
                prepared = time.perf_counter()
                self._loaded[key] = load(source)
            except ModelUnavailable as exc:
                self._failed[key] = exc  # remembered, so a missing model costs one probe
                raise
            if self.on_load is not None:
                # a conversion is one-off work; checking an existing entry is part of every load
                self.on_load(role, kind, source, time.perf_counter() - (prepared if built else start),
                             prepared - start if built else 0.0)
            give_back()  # what the load parsed and dropped (a model's state dict, a tokenizer's files)
        self._loaded[key] = self._loaded.pop(key)  # most recently used last
        return self._loaded[key]

    def _evict_causal_lms(self, keep: tuple[Any, str]) -> None:
        """Let go of the least recently used causal LMs so that, with the one `keep` names, the limit holds
        (their memory is freed once no caller holds them either)."""
        if self.resident_causal_lms <= 0:
            return
        lms = [key for key in self._loaded if key[1].startswith("causal-lm/") and key != keep]
        evicted = lms[:max(len(lms) + 1 - self.resident_causal_lms, 0)]
        for key in evicted:
            del self._loaded[key]
        if evicted:
            gc.collect()
            give_back()

    def release(self) -> int:
        """Forget every loaded model and tokenizer (a later request loads it again); returns how many.
        Memory is freed once no fixture or test holds them either. Tokenizers go too: Gemma-3's 262k-entry
        tokenizer holds ~110 MB (read through harness.models.tokenizer_from_json; ~290-460 MB through its own
        class); kept for the session, it sat under every later experiment's peak."""
        loaded = list(self._loaded)
        for key in loaded:
            del self._loaded[key]
        return len(loaded)

    def _prepare(self, source: ModelSource) -> bool:
        """One-off work before a load (GGUF conversion into the cache); whether this call converted
        (a missing or corrupt entry), rather than finding the entry or waiting for another process."""
        if source.model_set != "packaged" or source.spec.get("loader") != "gguf":
            return False
        built: list[bool] = []
        models.prepare_gguf(source, self.cache_dir, notify=self.notify, on_build=lambda: built.append(True))
        return bool(built)

    def tokenizer(self, role: str) -> Any:
        return self._get(role, "tokenizer", lambda s: models.load_tokenizer(s, self.cache_dir))

    def causal_lm(self, role: str, attn_implementation: str = "eager") -> Any:
        return self._get(role, f"causal-lm/{attn_implementation}", lambda s: models.load_causal_lm(
            s, self.cache_dir, attn_implementation=attn_implementation,
            dtype=self.profile.dtype if self.profile.device != "cpu" else "float32",
            device=self.profile.device))

    def encoder(self, role: str, attn_implementation: str = "eager") -> Any:
        """(model, tokenizer) of a bare encoder."""
        return self._get(role, f"encoder/{attn_implementation}", lambda s: models.load_encoder(
            s, attn_implementation=attn_implementation, device=self.profile.device))

    def sentence_encoder(self, role: str) -> Any:
        return self._get(role, "sentence-encoder",
                         lambda s: models.load_sentence_encoder(s, device=self.profile.device))
