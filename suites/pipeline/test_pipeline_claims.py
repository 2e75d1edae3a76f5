"""Report section 1: the pipeline, stage by stage, recomputed from the real models' own parts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fixtures.attention import self_attention
from harness.collect import suite_catalog

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
def test_bert_base_width(claim, harness, check):
    from transformers import AutoConfig, BertConfig

    if harness.model_set == "hub":
        try:
            config = AutoConfig.from_pretrained("bert-base-uncased", local_files_only=True)
        except OSError:
            pytest.skip("bert-base-uncased's config.json is not in the local Hugging Face cache")
        origin = "bert-base-uncased config.json"
    else:
        config = BertConfig()
        origin = "transformers.BertConfig() defaults (BERT-base)"
    check(config.hidden_size, extra={"origin": origin, "layers": config.num_hidden_layers,
                                            "heads": config.num_attention_heads,
                                            "vocab": config.vocab_size})


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


@pytest.mark.claims("absolute_positions")
def test_position_embeddings_are_added(claim, models, check):
    model = network(models, claim.model)
    tables = [name for name, module in model.named_modules()
              if isinstance(module, nn.Embedding) and "pos" in name.lower()]
    rotary = [name for name, _ in model.named_modules() if "rotary" in name.lower()]
    check(bool(tables),
          extra={"position_tables": tables, "rotary_modules": rotary})


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


@pytest.mark.claims("ffn_shape")
def test_feed_forward_network(claim, models, check):
    model = network(models, claim.model)
    config = model.config
    if claim.model in CAUSAL:
        layer = model.model.layers[0]
        linears = [n for n, m in layer.mlp.named_modules() if isinstance(m, nn.Linear)]
        act = getattr(config, "hidden_activation", None) or config.hidden_act
    else:
        layer = model.encoder.layer[0]
        linears = ["intermediate.dense", "output.dense"]
        act = config.hidden_act
    check(f"{len(linears)} linear layers, {act}",
          extra={"linear_layers": linears})


@pytest.mark.claims("cls_head")
def test_bert_task_head_reads_cls(claim, models, check):
    from transformers import BertForSequenceClassification

    model, encoded, _ = encoder_run(models, claim.model)
    torch.manual_seed(0)  # the classifier is freshly initialised; the claim is about its wiring
    classifier = BertForSequenceClassification(model.config).eval()
    missing = classifier.bert.load_state_dict(model.state_dict(), strict=False)
    with torch.no_grad():
        logits = classifier(**encoded).logits
        states = classifier.bert(**encoded).last_hidden_state
        recomputed = classifier.classifier(classifier.bert.pooler(states))
    check(float((logits - recomputed).abs().max()),
          extra={"pooler_reads": "hidden state at position 0 ([CLS])",
                 "missing_keys": list(missing.missing_keys)})


def causal_run(models, role: str):
    lm = models.causal_lm(role)
    tokenizer = models.tokenizer(role)
    encoded = tokenizer(DEFS["prompt"], return_tensors="pt")
    with torch.no_grad():
        output = lm(**encoded, output_hidden_states=True)
    return lm, tokenizer, output


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
        recomputed = lm.lm_head(output.hidden_states[-1][0, -1])
    check(float((recomputed - output.logits[0, -1]).abs().max()),
          extra={"tied_embeddings": bool(lm.config.tie_word_embeddings)})
