"""The batched generation helpers give what the one-row-at-a-time procedure gives (tiny random
model), and the prompting templates are read from the generation catalog with clear errors."""

from __future__ import annotations

import copy
import math
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from fixtures.generation import (
    banned_ids,
    continuation_perplexity,
    continuation_statistics,
    prepare_tokenizer,
    step_statistics,
    token_statistics,
)
from fixtures.prompting import (
    answer_block,
    answer_is_final,
    generate_answers,
    label_choices,
    label_logits,
    load_prompting_spec,
    shared_prefix,
    shared_prefix_length,
)
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


# --- generate_answers: when a row may stop, and that stopping, batching and sharing change no answer ---

FINAL_EDGE_CASES = [
    "", "\n", "\n\n", " ", "  \n \n", "\n  \n", "\t", "\t\n\n", " \t\n\nx", "\n\tpositive", "positive",
    "positive\n", "positive\n\n", "positive\n\nnegative", "positive\n  \nnegative", "positive\n\t\nmore",
    "positive\n \n \n\nmore", " \n\npositive\n\nmore", "\n \n \npositive", "one\ntwo\nthree\n\nfour",
    "1. a\n2. b\n3. c\n\n###\nnext", "###", "#", "##", "a###b", "a ## #b", "a\n##\n#b", "positive\n###\nnegative",
    "\n \n###\n", "###\n\npositive", "  ###", "a\r\n\r\nb", "a\n\x0b\nb", "a \n b\n\n", "a\n\n\n\n", "a\n\n###",
]


def random_texts(count: int, alphabet: list[str], longest: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest))) for _ in range(count)]


def test_an_answer_is_final_only_once_nothing_after_it_can_change_its_block():
    """answer_is_final(text[:k]) promises that answer_block(text[:k]) is answer_block of any text
    beginning with it: checked at every cut point of edge cases and random texts over the characters
    answer_block looks at."""
    texts = FINAL_EDGE_CASES + random_texts(3000, ["a", " ", "\n", "#", "\t", "b"], 16, seed=0)
    finals = 0
    for text in texts:
        for k in range(len(text) + 1):
            if answer_is_final(text[:k]):
                finals += 1
                assert answer_block(text[:k]) == answer_block(text), (text, k)
    assert finals > 1000  # the property is not met by never calling anything final
    assert answer_is_final("positive\n\n") and answer_is_final("a\n \t\n") and answer_is_final("a###")
    assert answer_is_final("\t\n\n")  # a tab is not stripped: the (empty) answer has begun
    assert not answer_is_final("\n \n") and not answer_is_final("positive\n") and not answer_is_final("a##")


class CharTokenizer:
    """A tokenizer with one id per character (from 3 on; 1 and 2 are BOS and EOS as in LlamaConfig, EOS also
    pads as prepare_tokenizer makes it, 0 is unused), so the same text is the same token ids: what
    generate_answers needs of a Hugging Face tokenizer. (With a pad id of its own, generate() would rebuild a
    missing attention mask from the padding, and a lost mask would go unnoticed.)"""

    bos_token_id, eos_token_id = 1, 2
    pad_token_id = eos_token_id
    padding_side = "left"

    def __init__(self, alphabet: str):
        self.alphabet = alphabet

    def __len__(self) -> int:
        return 3 + len(self.alphabet)

    def __call__(self, texts: list[str], add_special_tokens: bool = True) -> SimpleNamespace:
        return SimpleNamespace(input_ids=[[self.bos_token_id] * add_special_tokens
                                          + [3 + self.alphabet.index(c) for c in text] for text in texts])

    def batch_decode(self, ids, skip_special_tokens: bool = False) -> list[str]:
        assert skip_special_tokens
        return ["".join(self.alphabet[i - 3] for i in row if i >= 3) for row in torch.as_tensor(ids).tolist()]


def tiny_generator(family: str, vocab_size: int, seed: int):
    """A random model whose greedy continuations depend on every position: weights drawn wider than
    the default 0.02, else a tiny random model repeats one token whatever it was given."""
    torch.manual_seed(seed)
    if family == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=128, n_embd=32, n_layer=2, n_head=4,
                                          initializer_range=0.3, bos_token_id=1, eos_token_id=2, pad_token_id=PAD,
                                          attn_implementation="eager")).eval()
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=128, initializer_range=0.3, pad_token_id=PAD,
                                        attn_implementation="eager")).eval()


@pytest.fixture
def one_thread():
    """Decoding a tiny model is hundreds of small operations: one thread, which other work on a 2-core
    machine cannot stall (two threads there made these tests 20 to 60 times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def alone(lm, tokenizer: CharTokenizer, prompt: str, max_new_tokens: int) -> str:
    """The reference: the prompt by itself, no padding, no cache handed in, plain greedy generate()."""
    ids = torch.tensor(tokenizer([prompt]).input_ids)
    with torch.inference_mode():
        out = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                          do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)[0]


def settled(text: str) -> str:
    """Where a row of `text` stops: its shortest final beginning (a token is a character here)."""
    return next((text[:k] for k in range(1, len(text) + 1) if answer_is_final(text[:k])), text)


def few_shot_prompts(alphabet: str) -> list[str]:
    """Prompts sharing a long beginning (instruction and examples) and of different lengths after it."""
    rng = random.Random(1)
    shared = "".join(rng.choice(alphabet) for _ in range(30))
    return [shared + "".join(rng.choice(alphabet) for _ in range(n)) for n in (9, 2, 5, 4, 12, 1, 7)]


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_generate_answers_are_each_prompts_own_answer(family, one_thread):
    """Shared part computed once, [shared][pad][own] rows sorted by length, rows stopped once final or at
    EOS: each answer is its prompt's greedy continuation generated alone, up to where the row's answer
    became final, so answer_block() is the same as with every token generated; in batches of 2 (several
    batches, padding in each) and of 64 (one). GPT-2: absolute positions, where a wrong position after
    the padding changes the tokens; Llama: rotary positions, grouped key/value heads."""
    tokenizer = CharTokenizer("abcde #\n\t")
    prompts = few_shot_prompts(tokenizer.alphabet)
    assert shared_prefix_length(tokenizer(prompts).input_ids) == 31  # BOS and the shared 30 characters
    stopped, ended, continuations = 0, 0, set()
    for seed in range(8):  # random models: a few of them answer with a blank line or the separator
        lm = tiny_generator(family, len(tokenizer), seed)
        lm.generation_config.suppress_tokens = [PAD, tokenizer.bos_token_id]  # 0 is unused here; EOS may come
        references = [alone(lm, tokenizer, prompt, 24) for prompt in prompts]
        for batch_size in (2, 64):
            answers = generate_answers(lm, tokenizer, prompts, 24, chat=False, batch_size=batch_size)
            for prompt, answer, reference in zip(prompts, answers, references):
                assert answer == settled(reference), (seed, batch_size, prompt)
                assert answer_block(answer) == answer_block(reference)
        stopped += sum(settled(reference) != reference for reference in references)
        ended += sum(len(reference) < 24 and settled(reference) == reference for reference in references)
        continuations |= set(references)
    assert len(continuations) > 30  # the continuations depend on the prompts (7 prompts, 8 models)
    assert stopped >= 5 and ended >= 5  # rows stopped because they were final, and at EOS


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_generate_answers_that_never_settle_are_every_token(family, one_thread):
    """Without a newline or separator to generate, no answer becomes final and no row ends (EOS suppressed):
    every one of max_new_tokens tokens is the one the prompt alone gives."""
    tokenizer = CharTokenizer("abcde ")
    prompts = few_shot_prompts(tokenizer.alphabet)
    continuations = set()
    for seed in range(2):
        lm = tiny_generator(family, len(tokenizer), seed)
        lm.generation_config.suppress_tokens = [PAD, tokenizer.bos_token_id, tokenizer.eos_token_id]
        answers = generate_answers(lm, tokenizer, prompts, 20, chat=False, batch_size=3)
        references = [alone(lm, tokenizer, prompt, 20) for prompt in prompts]
        assert answers == references
        assert all(len(answer) == 20 for answer in answers)
        continuations |= set(references)
    assert len(continuations) > 8  # the continuations depend on the prompts (7 prompts, 2 models)


def test_generate_answers_of_no_prompts_is_empty(gpt2):
    """A profile may ask for no items of a task kind (a tokenizer given no texts fails)."""
    lm = tiny_generator("llama", len(gpt2), 0)
    assert generate_answers(lm, prepare_tokenizer(copy.deepcopy(gpt2)), [], 8, chat=False) == []


def test_nothing_is_shared_where_a_sliding_window_or_a_fixed_cache_forbids_it():
    """The window counts cache slots: a prompt and the tokens generated after it must fit, or the
    padding after the shared part would push shared keys out of a generated token's window; and
    generate() refuses a cache passed in when the generation config fixes its own cache class."""
    from types import SimpleNamespace

    def model(window, cache_implementation=None):
        config = SimpleNamespace(sliding_window=window, get_text_config=lambda: config)
        return SimpleNamespace(config=config, generation_config=SimpleNamespace(
            cache_implementation=cache_implementation))

    ids = [[5, 6, 7, 8, 9, 10], [5, 6, 7, 8, 11, 12, 13, 14]]  # 4 shared tokens, the longest 8
    assert shared_prefix(model(16), ids, new_tokens=8) == (0, None)  # 8 + 8 slots reach the window
    assert shared_prefix(model(8), ids) == (0, None)
    assert shared_prefix(model(None, "static"), ids) == (0, None)
    assert shared_prefix(model(None), [[1, 2], [3, 4]]) == (0, None)  # nothing shared: no model pass


def _nucleus_cases() -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """(logits, kept mask, what) rows: transformers' own top-p masks, masks one token too large or too
    small, a mask that skips a token, and ties straddling the nucleus' edge."""
    from transformers import TopPLogitsWarper

    generator = torch.Generator().manual_seed(0)
    cases = []
    for scale in (0.5, 2.0, 6.0):
        logits = torch.randn(8, 5000, generator=generator) * scale
        kept = torch.isfinite(TopPLogitsWarper(top_p=0.9)(torch.zeros((1, 1), dtype=torch.long), logits.clone()))
        for row, mask in zip(logits, kept):
            order = row.argsort(descending=True)
            size = int(mask.sum())
            cases.append((row, mask, "library"))
            grown, shrunk, skipped = mask.clone(), mask.clone(), mask.clone()
            grown[order[size]] = True
            cases.append((row, grown, "one too many"))
            if size > 1:  # a one-token nucleus has no smaller or other prefix of its size
                shrunk[order[size - 1]] = False
                skipped[order[0]], skipped[order[size]] = False, True
                cases += [(row, shrunk, "one too few"), (row, skipped, "not a prefix")]
    tied = torch.tensor([3.0, 2.0, 1.0, 1.0, 1.0, -1.0])  # the edge of p = 0.9 falls inside the tie
    for mask in ([1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]):
        cases.append((tied, torch.tensor(mask, dtype=torch.bool), "tie at the edge"))
    # a tied pair kept and a more probable token left out: every test but "kept above the rest" passes
    passes_the_masses = torch.tensor([0.45, 0.27, 0.096, 0.092, 0.092]).log()
    cases.append((passes_the_masses, torch.tensor([1, 1, 0, 1, 1], dtype=torch.bool), "not a prefix"))
    # a tie inside the edge: mass before the tied pair 0.85 < p <= 0.99, but the sort's nucleus ends
    # after the first of the pair (0.92 >= p), so the mask holds one token too many
    tied_inside = torch.tensor([0.6, 0.25, 0.07, 0.07, 0.01]).log()
    cases.append((tied_inside, torch.tensor([1, 1, 1, 1, 0], dtype=torch.bool), "tie inside the edge"))
    return cases


def test_nucleus_check_without_the_sort_answers_as_the_sort():
    """nucleus_agrees() skips the float64 sort only where its answer is the sort's own: on library
    masks, on masks one token off either way, on masks that are not a prefix, and on ties at the edge."""
    import fixtures.generation as generation

    sort = generation.nucleus_by_sorting
    sorted_rows = []

    def counted(probs, kept, p):
        sorted_rows.append(1)
        return sort(probs, kept, p)

    answers, sorts = {}, {}
    for logits, kept, what in _nucleus_cases():
        sorted_rows.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(generation, "nucleus_by_sorting", counted)
            fast = generation.nucleus_agrees(logits, kept, 0.9)
        assert fast == sort(torch.softmax(logits.double(), -1), kept, 0.9), what
        answers.setdefault(what, set()).add(fast[0])
        sorts.setdefault(what, set()).add(bool(sorted_rows))
    assert answers["library"] == {True} and answers["one too many"] == {False}
    assert answers["one too few"] == {False} and answers["not a prefix"] == {False}
    assert answers["tie inside the edge"] == {False}
    assert sorts["library"] == {False}  # the library's own masks are answered without the sort
    assert sorts["tie at the edge"] == {True} and sorts["tie inside the edge"] == {True}
