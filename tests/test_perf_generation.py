"""The batched generation helpers give what the one-row-at-a-time procedure gives (tiny random
model), and the prompting templates are read from the generation catalog with clear errors."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from fixtures.generation import (
    banned_ids,
    continuation_perplexity,
    continuation_statistics,
    prepare_tokenizer,
    step_statistics,
    token_statistics,
)
from fixtures.prompting import label_choices, label_logits, load_prompting_spec, shared_prefix_length
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


@pytest.mark.parametrize("sampling", [True, False])
def test_statistics_from_generate_match_a_teacher_forced_pass(tiny_lm, sampling):
    """decode() scores each token with the logits generate() computed (KV cache, left padding): the
    same log-probabilities, ranks, nucleus membership and surprisal moments as a second, teacher-forced
    pass over prompt + continuation, which the suite no longer runs."""
    generator = torch.Generator().manual_seed(2)
    prompts = [torch.randint(3, 97, (n,), generator=generator).tolist() for n in (3, 7, 5, 1)]
    ids, mask = left_padded(prompts)
    settings = {"temperature": 0.7, "top_p": 0.9, "banned": banned_ids(tiny_lm)}
    torch.manual_seed(0)
    with step_statistics(tiny_lm, settings if sampling else None) as steps, torch.inference_mode():
        out = tiny_lm.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, min_new_tokens=6,
                               do_sample=sampling, temperature=0.7 if sampling else 1.0,
                               top_p=0.9 if sampling else 1.0, top_k=None, pad_token_id=PAD)
    generated = out[:, ids.shape[1]:]
    ppl, per_token = steps.finish(generated)
    reference_ppl, reference, _ = continuation_statistics(tiny_lm, ids, mask, generated,
                                                          token_stats=settings if sampling else None)
    assert ppl == pytest.approx(reference_ppl, rel=1e-5)
    for key, values in reference.items():
        assert per_token[key] == pytest.approx(values, rel=1e-4, abs=1e-5), key
    assert len(per_token["logp"]) == generated.numel()


@pytest.mark.parametrize("temperature, top_p, banned", [(0.7, 0.9, [2]), (1.0, 1.0, []), (1.3, None, [0, 5])])
def test_token_statistics_follow_their_definitions(temperature, top_p, banned):
    """Each statistic recomputed from its definition in float64, one token at a time."""
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 50, generator=generator) * 3
    tokens = torch.tensor([1, 7, 3, 49, 20, 11])
    got = token_statistics(logits, tokens, temperature=temperature, top_p=top_p, banned=banned)
    for i, token in enumerate(tokens.tolist()):
        logp = torch.log_softmax(logits[i].double(), -1)
        keep = torch.ones(50, dtype=torch.bool)
        keep[banned] = False
        sampled = torch.where(keep, logp, torch.tensor(-math.inf, dtype=torch.float64)).softmax(-1)
        higher = sampled > sampled[token]
        nucleus = top_p if top_p is not None and top_p < 1.0 else 0.9
        expected = {"logp": float(logp[token]), "rank": float(higher.sum() + 1),
                    "in_nucleus": float(sampled[higher].sum() < nucleus)}
        for suffix, t in (("", temperature), ("_T1", 1.0)):
            q = torch.where(keep, logp / t, torch.tensor(-math.inf, dtype=torch.float64)).softmax(-1)
            mean = float((q * -logp).sum())
            expected[f"surprisal_mean{suffix}"] = mean
            expected[f"surprisal_var{suffix}"] = float((q * (-logp - mean) ** 2).sum())
        for key, value in expected.items():
            assert got[key][i] == pytest.approx(value, rel=1e-4, abs=1e-5), (key, i)


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


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("shared", ["", "Is this review positive or negative? Review: "])
def test_label_logits_equal_one_full_pass_per_prompt(gpt2, shared, family):
    """Batched, length-sorted label scoring with the shared prefix computed once equals a plain forward
    pass over each whole prompt: on GPT-2 (absolute positions), where a wrong position after the shared
    part or the padding changes the logits, and on Llama (rotary positions, grouped key/value heads)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    lm = (GPT2LMHeadModel(GPT2Config(vocab_size=len(gpt2), n_positions=64, n_embd=32, n_layer=2, n_head=4))
          if family == "gpt2" else
          LlamaForCausalLM(LlamaConfig(vocab_size=len(gpt2), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                       attn_implementation="eager"))).eval()
    tokenizer = prepare_tokenizer(copy.deepcopy(gpt2))  # the session fixture stays as it was
    texts = [shared + t for t in ("a much longer review that goes on and on about the film:", "a short review:",
                                  "fine.", "the plot, the cast and the music all work together:", "not my kind:")]
    labels = [tokenizer(w, add_special_tokens=False).input_ids[0] for w in (" negative", " positive")]
    with torch.inference_mode():
        reference = torch.stack([lm(**tokenizer([text], return_tensors="pt", add_special_tokens=False))
                                 .logits[0, -1, labels] for text in texts])
    batched = label_logits(lm, tokenizer, texts, labels, batch_size=2)  # sorted by length: three batches
    torch.testing.assert_close(batched, reference, rtol=1e-4, atol=1e-4)
    assert label_choices(lm, tokenizer, texts, labels, batch_size=2) == reference.argmax(-1).tolist()


def test_shared_prefix_leaves_each_prompt_a_token():
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3, 4, 6]]) == 3
    assert shared_prefix_length([[1, 2], [1, 2, 3]]) == 1
    assert shared_prefix_length([[7, 8, 9]]) == 2
    assert shared_prefix_length([[1], [2]]) == 0 and shared_prefix_length([]) == 0


def test_label_logits_of_no_prompts_is_empty(gpt2):
    assert label_logits(None, prepare_tokenizer(copy.deepcopy(gpt2)), [], [0, 1]).shape == (0, 2)


def test_label_logits_refuse_right_padding(gpt2):
    tokenizer = prepare_tokenizer(copy.deepcopy(gpt2))
    tokenizer.padding_side = "right"
    with pytest.raises(ValueError, match="pad on the left"):
        label_logits(None, tokenizer, ["text"], [0])
