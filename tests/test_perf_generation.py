"""The batched generation helpers give what the one-row-at-a-time procedure gives (tiny random
model), and the prompting templates are read from the generation catalog with clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from fixtures.generation import continuation_perplexity
from fixtures.prompting import load_prompting_spec
from harness.claims import CatalogError

ROOT = Path(__file__).resolve().parent.parent
PAD = 0


@pytest.fixture(scope="module")
def tiny_lm() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         pad_token_id=PAD, attn_implementation="eager")
    return LlamaForCausalLM(config).eval()


def left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, prompts))
    ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def rowwise_perplexity(lm, prompts: list[list[int]], generated: torch.Tensor) -> float:
    """The reference procedure: each prompt + continuation alone, no padding."""
    nll = 0.0
    for prompt, new in zip(prompts, generated):
        sequence = torch.cat([torch.tensor(prompt), new]).unsqueeze(0)
        with torch.no_grad():
            logits = lm(sequence).logits[0, len(prompt) - 1:-1]
        nll += float(torch.nn.functional.cross_entropy(logits, new, reduction="sum"))
    return math.exp(nll / generated.numel())


@pytest.mark.parametrize("rows", [1, 2, 4])
def test_batched_perplexity_matches_rowwise(tiny_lm, rows):
    generator = torch.Generator().manual_seed(1)
    prompts = [torch.randint(1, 97, (n,), generator=generator).tolist() for n in (3, 7, 5, 1, 6)]
    generated = torch.randint(1, 97, (len(prompts), 4), generator=generator)
    ids, mask = left_padded(prompts)
    batched = continuation_perplexity(tiny_lm, ids, mask, generated, rows=rows)
    assert batched == pytest.approx(rowwise_perplexity(tiny_lm, prompts, generated), rel=1e-5)


def test_prompting_spec_from_the_generation_catalog():
    spec = load_prompting_spec(ROOT / "suites" / "generation" / "catalog.toml")
    assert set(spec["tasks"]) == {"sentiment", "one_word", "three_lines", "numbered_list"}
    assert all(spec["examples"][kind] for kind in spec["tasks"])


def edited_catalog(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "suites" / "generation" / "catalog.toml").read_text()
    assert old in text
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(text.replace(old, new, 1) if old != "definitions.prompting" else text.replace(old, new))
    return catalog


def test_prompting_spec_missing_names_file_and_field(tmp_path):
    catalog = edited_catalog(tmp_path, "definitions.prompting", "definitions.unused")
    with pytest.raises(CatalogError, match=r"catalog.toml.*definitions\.prompting"):
        load_prompting_spec(catalog)


def test_prompting_task_field_missing_is_named(tmp_path):
    catalog = edited_catalog(tmp_path, "max_new_tokens = 4\n", "")
    with pytest.raises(CatalogError, match=r"tasks\.sentiment\.max_new_tokens"):
        load_prompting_spec(catalog)
