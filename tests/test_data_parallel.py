"""Fine-tuning data-parallel across processes with accelerate trains to the same dev accuracy as one process.

Claim-free: the same LoRA setup (the packaged lora-backbone, 1,280 SST-2 sentences, one epoch, batch 32) is
trained in 1 and in 2 processes (`accelerate launch --multi_gpu --num_processes 2`, gloo on this CPU; the
same code runs one process per GPU). Each step's batch is split between the processes and the gradients are
averaged, so the optimiser takes the same steps; only dropout masks and summation order differ. The 2-process
accuracy must fall inside the 1-process accuracy's 95% Wilson interval on the 872 dev sentences. Examples per
second for both are recorded (junit properties and the terminal), not asserted: speed is a benchmark's matter.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import pytest

from fixtures.finetune import TrainConfig, train_or_reuse


def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.slow
def test_two_processes_train_to_the_accuracy_of_one(harness, sst2, record_property, capsys):
    run = SimpleNamespace(cache_dir=harness.cache_dir, data_dir=harness.data_dir, profile=harness.profile,
                          model_set="packaged")
    one = TrainConfig("lora", "lora-backbone", train_examples=1280, epochs=1, batch_size=32, learning_rate=1e-3,
                      seed=0)
    single = train_or_reuse(run, one, retrain=True)
    double = train_or_reuse(run, replace(one, processes=2), retrain=True)
    low, high = wilson(single.correct, single.evaluated)
    for name, result in (("1 process", single), ("2 processes", double)):
        record_property(f"{name}: accuracy", result.accuracy)
        record_property(f"{name}: examples/s", round(result.examples_per_second, 1))
    with capsys.disabled():
        print(f"\ndata-parallel fine-tuning: 1 process {single.accuracy:.3f} ({single.examples_per_second:.1f} "
              f"examples/s), 2 processes {double.accuracy:.3f} ({double.examples_per_second:.1f} examples/s); "
              f"1-process 95% interval [{low:.3f}, {high:.3f}]")
    assert double.config.processes == 2 and single.config.processes == 1
    assert len(double.losses) == len(single.losses) == math.ceil(1280 / 32)  # the same optimiser steps
    assert single.accuracy > 0.6  # it trained (chance is 0.5), so the comparison means something
    assert low <= double.accuracy <= high
