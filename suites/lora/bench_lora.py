"""LoRA benchmarks (`pytest suites --benchmark-only`): inference latency of the base model, the
unmerged adapter and the merged model (the report: "same as base model" after merging), and
training throughput of LoRA against full fine-tuning."""

from __future__ import annotations

import copy

import pytest
import torch

from fixtures.finetune import build_classifier, lora_targets
from harness.data import read_sst2

BATCH = 32


@pytest.fixture(scope="module")
def sentences(harness):
    return [e.text for e in read_sst2(harness.data_dir / "sst2" / "dev.txt")[:BATCH]]


def lora_model(models):
    from peft import LoraConfig, get_peft_model

    base, tokenizer = build_classifier(models, "lora-backbone")
    targets = lora_targets(base.config.model_type, ("query", "value"))  # q_lin/v_lin on DistilBERT (hub)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=targets, task_type="SEQ_CLS")
    return base, get_peft_model(copy.deepcopy(base), config), tokenizer


@pytest.mark.parametrize("variant", ["base", "unmerged adapter", "merged"])
def test_inference_latency_after_merging(benchmark, models, sentences, variant):
    base, adapted, tokenizer = lora_model(models)
    model = {"base": base, "unmerged adapter": adapted,
             "merged": copy.deepcopy(adapted).merge_and_unload()}[variant].eval()
    batch = tokenizer(sentences, padding=True, return_tensors="pt")

    def forward():
        with torch.no_grad():
            return model(**batch)

    benchmark.group = "lora-inference"
    benchmark.pedantic(forward, rounds=10, iterations=1, warmup_rounds=2)
    benchmark.extra_info.update({"variant": variant, "batch": BATCH,
                                 "parameters": sum(p.numel() for p in model.parameters())})


@pytest.mark.parametrize("method", ["lora", "full"])
def test_training_throughput(benchmark, models, sentences, method):
    base, adapted, tokenizer = lora_model(models)
    model = (adapted if method == "lora" else base).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    labels = torch.tensor([i % 2 for i in range(len(sentences))])

    def step():
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    benchmark.group = "lora-training"
    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update({"method": method, "batch": BATCH,
                                 "examples_per_second": BATCH / benchmark.stats.stats.mean})
