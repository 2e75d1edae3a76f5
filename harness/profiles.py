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
    """Every profile with the file's [defaults] filled in (tables such as `targets` merged key by key),
    so a new setting needs one line in [defaults] and only the profiles that differ say more."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults = data.pop("defaults", {})
    merged = {}
    for name, raw in data.items():
        profile = {**defaults, **raw}
        for key, value in defaults.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                profile[key] = {**value, **raw[key]}
        merged[name] = profile
    return merged


def load_profile(name: str, path: Path = PROFILES_FILE) -> Profile:
    profiles = available_profiles(path)
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}; valid profiles: {', '.join(profiles)} "
                           f"(defined in {path})")
    raw = dict(profiles[name])
    missing = [k for k in ("description", "device", "dtype", "threads", "seed") if k not in raw]
    if missing:
        raise ProfileError(f"profile {name!r} in {path} lacks {', '.join(missing)} (and [defaults] has none)")
    core = {k: raw.pop(k) for k in ("description", "device", "dtype", "threads", "seed")}
    return Profile(name=name, settings=raw, **core)


def check_model_set(name: str) -> str:
    if name not in MODEL_SETS:
        raise ProfileError(f"unknown model set {name!r}; valid model sets: {', '.join(MODEL_SETS)}")
    return name
