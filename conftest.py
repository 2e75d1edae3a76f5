"""Registers the harness plugin and the fixture modules; nothing else."""

pytest_plugins = [
    "harness.plugin",
    "harness.summary",
    "harness.data_guard",
    "fixtures.session",
    "fixtures.models",
    "fixtures.data",
    "fixtures.tokenization",
    "fixtures.attention",
    "fixtures.generation",
    "fixtures.prompting",
    "fixtures.finetune",
]
