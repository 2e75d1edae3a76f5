"""Hardware profiles and model sets, read from data (profiles.toml, models.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES_FILE = Path(__file__).with_name("profiles.toml")
MODEL_SETS = ("packaged", "hub")
DEFAULT_PROFILE = "cpu"
DEFAULT_MODEL_SET = "packaged"


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    device: str
    dtype: str
    threads: int
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


def available_profiles(path: Path = PROFILES_FILE) -> dict[str, dict[str, Any]]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_profile(name: str, path: Path = PROFILES_FILE) -> Profile:
    profiles = available_profiles(path)
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}; valid profiles: {', '.join(profiles)} "
                           f"(defined in {path})")
    raw = dict(profiles[name])
    core = {k: raw.pop(k) for k in ("description", "device", "dtype", "threads", "seed")}
    return Profile(name=name, settings=raw, **core)


def check_model_set(name: str) -> str:
    if name not in MODEL_SETS:
        raise ProfileError(f"unknown model set {name!r}; valid model sets: {', '.join(MODEL_SETS)}")
    return name
