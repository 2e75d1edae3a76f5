"""Report section 1: the pipeline, stage by stage, recomputed from the real models' own parts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fixtures.attention import self_attention
from harness.collect import suite_catalog
from harness.policy import numerical_tolerance

DEFS = suite_catalog(__file__).definitions
CAUSAL = {"smollm2", "gemma3", "base-lm"}


def network(models, role: str):
    """The bare network of a role: the encoder's BertModel, or a causal LM."""
    if role in CAUSAL:
        return models.causal_lm(role)
    return models.encoder(role)[0]


def encoder_run(models, role: str):
    model, tokenizer = models.encoder(role)
    encoded = tokenizer(DEFS["sentence"], return_tensors="pt")
    with torch.no_grad():
        output = model(**encoded, output_hidden_states=True, output_attentions=True)
    return model, encoded, output


@pytest.mark.claims("token_ids")
def test_token_ids(claim, models, check):
    tokenizer = models.tokenizer(claim.model)
    check(tokenizer(claim.args["text"]).input_ids)


@pytest.mark.claims("bert_base_d_model")
def test_bert_base_width(claim, harness, models, check):
    from transformers import BertConfig

    if claim.args["source"] == "defaults":
        config = BertConfig()
        check(config.hidden_size, extra={"origin": "transformers.BertConfig() defaults (BERT-base)",
                                         "layers": config.num_hidden_layers, "heads": config.num_attention_heads,
                                         "vocab": config.vocab_size})
        return
    if harness.model_set != "hub":
        pytest.skip("BERT-base's own weights run only with --model-set hub (the packaged encoder is a stand-in)")
    model = models.encoder("encoder")[0]
    rows, cols = model.get_input_embeddings().weight.shape
    check(int(cols), extra={"origin": "bert-base-uncased's input embedding table", "rows": int(rows),
                            "layers": model.config.num_hidden_layers})


@pytest.mark.claims("embedding_table_shape")
def test_embedding_table_is_vocab_by_d_model(claim, models, check):
    model = network(models, claim.model)
    rows, cols = model.get_input_embeddings().weight.shape
    config = model.config
    shape = "vocab x d_model" if (rows, cols) == (config.vocab_size, config.hidden_size) else f"{rows} x {cols}"
    check(shape,
          extra={"rows": rows, "columns": cols, "vocab_size": config.vocab_size,
                 "d_model": config.hidden_size})


@pytest.mark.claims("embedding_output")
def test_embedding_output_is_sum_then_layernorm(claim, models, check):
    model, encoded, output = encoder_run(models, claim.model)
    emb = model.embeddings
    ids = encoded["input_ids"]
    positions = torch.arange(ids.shape[1]).unsqueeze(0)
    with torch.no_grad():
        summed = emb.word_embeddings(ids) + emb.position_embeddings(positions) \
            + emb.token_type_embeddings(torch.zeros_like(ids))
        recomputed = emb.LayerNorm(summed)
    check(float((recomputed - output.hidden_states[0]).abs().max()))


REPEATS = 4


@pytest.mark.claims("absolute_positions")
def test_position_embeddings_are_added(claim, models, check):
    """One token repeated: if positions are added to the embeddings, the first layer's input differs by
    position; if they enter only inside attention (rotary), it is the same vector at every position."""
    model = network(models, claim.model)
    tokenizer = models.tokenizer(claim.model) if claim.model in CAUSAL else models.encoder(claim.model)[1]
    token = tokenizer(" the", add_special_tokens=False).input_ids[-1]
    ids = torch.full((1, REPEATS), token, dtype=torch.long)
    with torch.no_grad():
        first = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True).hidden_states[0][0]
    difference = float((first - first[0]).abs().max())
    tables = [name for name, module in model.named_modules()
              if isinstance(module, nn.Embedding) and module.num_embeddings == model.config.max_position_embeddings]
    rotary = [name for name, _ in model.named_modules() if "rotary" in name.lower()]
    check(difference > numerical_tolerance(10),
          extra={"max_difference_between_positions": difference, "token": tokenizer.decode([token]),
                 "position_sized_tables": tables, "rotary_modules": rotary})


@pytest.mark.claims("layer_recomputed")
def test_layer_is_attention_then_ffn_with_residuals(claim, models, check):
    model, _, output = encoder_run(models, claim.model)
    heads = model.config.num_attention_heads
    worst = 0.0
    for i, layer in enumerate(model.encoder.layer):
        x = output.hidden_states[i][0]
        with torch.no_grad():
            _, context = self_attention(layer.attention.self, x, heads)
            a = layer.attention.output.LayerNorm(layer.attention.output.dense(context) + x)
            hidden = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(a))
            y = layer.output.LayerNorm(layer.output.dense(hidden) + a)
        worst = max(worst, float((y - output.hidden_states[i + 1][0]).abs().max()))
    check(worst,
          extra={"layers": len(model.encoder.layer)})


def _dense(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight as out x in, bias) of an nn.Linear or a GPT-2 Conv1D (which stores in x out)."""
    if isinstance(module, nn.Linear):
        return module.weight, module.bias
    return module.weight.T, module.bias


def _ffn_parts(model, role: str) -> tuple[nn.Module, list[tuple[str, nn.Module]]]:
    """Layer 0's feed-forward block (the module whose output is the FFN's) and its dense layers, in order."""
    if role not in CAUSAL:
        layer = model.encoder.layer[0]
        return layer, [("intermediate.dense", layer.intermediate.dense), ("output.dense", layer.output.dense)]
    block = model.transformer.h[0] if hasattr(model, "transformer") else model.model.layers[0]
    dense = [(n, m) for n, m in block.mlp.named_modules() if n and hasattr(m, "weight") and m.weight.dim() == 2]
    return block.mlp, dense


@pytest.mark.claims("ffn_recomputed")
def test_feed_forward_is_two_layer_gelu_mlp(claim, models, check):
    """Recompute W2 · GELU(W1 x + b1) + b2 from the FFN's first and last dense layers and compare it with
    the FFN's own output in layer 0. GELU is the exact one, or its tanh approximation where the config names
    that (GPT-2's gelu_new); any other activation is still computed as GELU, so it fails."""
    model = network(models, claim.model)
    config = model.config
    act = getattr(config, "hidden_activation", None) or getattr(config, "hidden_act", None) \
        or getattr(config, "activation_function", None)
    approximate = "tanh" if act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_tanh") else "none"
    if claim.model in CAUSAL:
        tokenizer = models.tokenizer(claim.model)
        encoded = tokenizer(DEFS["prompt"], return_tensors="pt")
    else:
        encoded = models.encoder(claim.model)[1](DEFS["sentence"], return_tensors="pt")
    ffn, dense = _ffn_parts(model, claim.model)
    seen = {}
    if claim.model in CAUSAL:
        hooks = [ffn.register_forward_hook(lambda m, i, o: seen.update(x=i[0], y=o))]
    else:  # BERT: the FFN is intermediate.dense -> act -> output.dense (residual + LayerNorm come after)
        hooks = [ffn.intermediate.register_forward_hook(lambda m, i, o: seen.update(x=i[0])),
                 ffn.output.dense.register_forward_hook(lambda m, i, o: seen.update(y=o))]
    try:
        with torch.no_grad():
            model(**encoded)
    finally:
        for hook in hooks:
            hook.remove()
    (_, first), (_, last) = dense[0], dense[-1]
    (w1, b1), (w2, b2) = _dense(first), _dense(last)
    with torch.no_grad():
        hidden = nn.functional.gelu(nn.functional.linear(seen["x"], w1, b1), approximate=approximate)
        recomputed = nn.functional.linear(hidden, w2, b2)
    check(float((recomputed - seen["y"]).abs().max()),
          extra={"dense_layers": [n for n, _ in dense], "activation": act, "gelu": approximate,
                 "output_scale": float(seen["y"].abs().max())})


@pytest.mark.claims("cls_head_dependence")
def test_bert_task_head_reads_cls(claim, models, check):
    """Replace final hidden states (with those of another sentence, by a hook on the encoder's output) and
    measure how much a sequence classifier's logits move: the positions it reads are the ones that matter."""
    from transformers import BertForSequenceClassification

    model, tokenizer = models.encoder(claim.model)
    torch.manual_seed(0)  # the classifier is freshly initialised; the claim is about which position it reads
    classifier = BertForSequenceClassification(model.config).eval()
    classifier.bert.load_state_dict(model.state_dict(), strict=False)
    encoded = tokenizer([DEFS["sentence"], "Stock markets crashed"], padding="max_length",
                        max_length=8, return_tensors="pt")
    with torch.no_grad():
        donor = classifier.bert(**encoded).last_hidden_state[1:2]
        first = {k: v[0:1] for k, v in encoded.items()}
        base = classifier(**first).logits

        def replaced(positions: slice) -> float:
            def swap(module, inputs, output):
                states = output[0].clone()
                states[:, positions] = donor[:, positions]
                return (states, *output[1:]) if isinstance(output, tuple) else type(output)(last_hidden_state=states)
            hook = classifier.bert.encoder.register_forward_hook(swap)
            try:
                return float((classifier(**first).logits - base).abs().max())
            finally:
                hook.remove()

        others, cls = replaced(slice(1, None)), replaced(slice(0, 1))
    extra = {"others_replaced": others, "cls_replaced": cls, "logits": base[0].tolist()}
    if claim.args["replace"] == "others":
        check(others, extra=extra)
    else:
        check({"[CLS] replaced": cls, "others replaced": others}, extra=extra)


def causal_run(models, role: str):
    lm = models.causal_lm(role)
    tokenizer = models.tokenizer(role)
    encoded = tokenizer(DEFS["prompt"], return_tensors="pt")
    with torch.no_grad():
        output = lm(**encoded, output_hidden_states=True)
    return lm, tokenizer, output


PROMPTS = 50


@pytest.mark.claims("greedy_is_last_position_argmax")
def test_greedy_token_is_lm_head_argmax_on_last_position(claim, models, flores, check):
    """For each prompt, greedy generate()'s first new token against the argmax of the LM head applied to the
    final hidden state of the last position (and, as a wrong reading, of the second-to-last)."""
    lm = models.causal_lm(claim.model)
    tokenizer = models.tokenizer(claim.model)
    prompts = flores.sentences("eng_Latn")[:PROMPTS]
    last = previous = 0
    for prompt in prompts:
        encoded = tokenizer(prompt, return_tensors="pt")
        with torch.no_grad():
            out = lm.generate(**encoded, max_new_tokens=1, do_sample=False, output_hidden_states=True,
                              return_dict_in_generate=True)
            generated = out.sequences[0, -1]
            final = out.hidden_states[0][-1][0]  # the prompt step's last layer (after the final norm)
            # the output weight applied by hand, not the model's (CPU-sliced) head module
            logits = torch.nn.functional.linear(final[-2:], lm.get_output_embeddings().weight)
        last += int(int(logits[-1].argmax()) == int(generated))
        previous += int(int(logits[0].argmax()) == int(generated))
    check(last / len(prompts),
          extra={"prompts": len(prompts), "matches": last, "second_to_last_position_share": previous / len(prompts)})


@pytest.mark.claims("next_token_distribution")
def test_last_position_gives_next_token_distribution(claim, models, check):
    lm, tokenizer, output = causal_run(models, claim.model)
    probs = torch.softmax(output.logits[0, -1].double(), dim=-1)
    top = torch.topk(probs, 5)
    check(float((probs.sum() - 1).abs()),
          extra={"prompt": DEFS["prompt"], "vocabulary": int(probs.numel()),
                 "top5": {tokenizer.decode([int(i)]): float(p) for p, i in zip(top.values, top.indices)}})


@pytest.mark.claims("lm_head_recomputed")
def test_lm_head_on_last_hidden_state(claim, models, check):
    lm, _, output = causal_run(models, claim.model)
    with torch.no_grad():
        # the output weight applied by hand, so the model's own head module is what is checked
        recomputed = torch.nn.functional.linear(output.hidden_states[-1][0, -1], lm.get_output_embeddings().weight)
    check(float((recomputed - output.logits[0, -1]).abs().max()),
          extra={"tied_embeddings": bool(lm.config.tie_word_embeddings),
                 "head_module": type(lm.get_output_embeddings()).__name__})
