"""The session's model store: every model or tokenizer is loaded once, and each load is timed.

The store knows nothing of pytest or of the results: it reports each load through `on_load`
and one-off preparation messages (GGUF conversion) through `notify`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import models
from harness.models import ModelSource, ModelUnavailable
from harness.profiles import Profile

# (role, kind, source, load seconds, one-off preparation seconds)
LoadCallback = Callable[[str, str, ModelSource, float, float], None]


class ModelStore:
    def __init__(self, *, profile: Profile, model_set: str, cache_dir: Path,
                 on_load: LoadCallback | None = None, notify: Callable[[str], None] | None = None):
        self.profile, self.model_set, self.cache_dir = profile, model_set, cache_dir
        self.on_load, self.notify = on_load, notify
        self._loaded: dict[tuple[str, str], Any] = {}
        self._failed: dict[tuple[str, str], ModelUnavailable] = {}

    def source(self, role: str) -> ModelSource:
        return models.resolve(role, self.model_set)

    def _get(self, role: str, kind: str, load: Callable[[ModelSource], Any]) -> Any:
        key = (role, kind)
        if key in self._failed:
            raise self._failed[key]
        if key not in self._loaded:
            try:
                source = self.source(role)
                prepare_s = self._prepare(source)
                start = time.perf_counter()
                self._loaded[key] = load(source)
            except ModelUnavailable as exc:
                self._failed[key] = exc  # remembered, so a missing model costs one probe
                raise
            if self.on_load is not None:
                self.on_load(role, kind, source, time.perf_counter() - start, prepare_s)
        return self._loaded[key]

    def _prepare(self, source: ModelSource) -> float:
        """One-off work before a load (GGUF conversion into the cache), timed apart from the load."""
        if source.model_set != "packaged" or source.spec.get("loader") != "gguf":
            return 0.0
        start = time.perf_counter()
        models.prepare_gguf(source, self.cache_dir, notify=self.notify)
        return time.perf_counter() - start

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
