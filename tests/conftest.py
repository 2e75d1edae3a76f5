"""Fixtures shared by the harness's self-tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import models


@pytest.fixture(scope="session")
def gpt2():
    """The packaged GPT-2 vocabulary (a real tokenizer, no weights); skips with the reason if absent."""
    try:
        return models.load_tokenizer(models.resolve("gpt2", "packaged"), Path("/nonexistent-cache"))
    except models.ModelUnavailable as exc:
        pytest.skip(f"packaged GPT-2 vocabulary unavailable: {exc}")
