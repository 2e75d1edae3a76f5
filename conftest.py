"""Registers the harness plugin and the fixture modules; nothing else."""

pytest_plugins = [
    "harness.plugin",
    "fixtures.session",
    "fixtures.models",
    "fixtures.data",
    "fixtures.tokenization",
    "fixtures.attention",
    "fixtures.generation",
    "fixtures.prompting",
    "fixtures.finetune",
]
