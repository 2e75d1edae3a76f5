"""FLORES counts kept between sessions (harness/count_cache.py, used by fixtures/tokenization.py):
a second session reuses them, a changed text or pipeline is counted afresh, a damaged file is
never trusted, and two writers keep each other's entries."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from fixtures.tokenization import FloresSweep
from harness.count_cache import FOLDER, CountCache, pipeline_key, text_digest
from harness.data import Flores
from harness.flores_counts import TextCounts
from tests.test_flores_counts import write_flores


def sweep_of(root: Path, tokenizers: dict, cache: CountCache) -> FloresSweep:
    return FloresSweep(Flores(root, languages_expected=None, lines_expected=()), tokenizers, None, cache=cache)


TEXTS = {"eng_Latn": ("a b\nc\n", "d\n"), "fra_Latn": ("aa bb cc\ndd\n", "ee ff\n")}


def test_a_second_session_reuses_the_counts(tmp_path, gpt2):
    root, cache = write_flores(tmp_path / "flores", TEXTS), CountCache(tmp_path / "cache")
    first = sweep_of(root, {"gpt2": gpt2}, cache)
    first.complete()
    assert (first.counted["gpt2"], first.cached["gpt2"]) == (2, 0)
    second = sweep_of(root, {"gpt2": gpt2}, cache)
    second.complete()
    assert (second.counted["gpt2"], second.cached["gpt2"]) == (0, 2)
    assert {k: v.tokens for k, v in second.stats.items()} == {k: v.tokens for k, v in first.stats.items()}


def test_a_changed_text_is_counted_afresh(tmp_path, gpt2):
    cache = CountCache(tmp_path / "cache")
    sweep_of(write_flores(tmp_path / "flores", TEXTS), {"gpt2": gpt2}, cache).complete()
    changed = dict(TEXTS, fra_Latn=("aa bb cc\ndd\n", "ee ff gg hh\n"))
    again = sweep_of(write_flores(tmp_path / "flores2", changed), {"gpt2": gpt2}, cache)
    again.complete()
    assert (again.counted["gpt2"], again.cached["gpt2"]) == (1, 1)
    assert again.get("gpt2", "fra_Latn").tokens == len(gpt2("aa bb cc dd  ee ff gg hh ",
                                                             add_special_tokens=False).input_ids)


def test_the_key_follows_the_pipeline(gpt2):
    backend = gpt2.backend_tokenizer
    plain = pipeline_key(backend, unk_id=None, sub_character=None)
    assert plain == pipeline_key(backend, unk_id=None, sub_character=None)
    assert plain != pipeline_key(backend, unk_id=0, sub_character=None)
    clone = gpt2.backend_tokenizer.from_str(backend.to_str())
    clone.add_tokens(["zzzq"])  # an added token changes what a text costs
    assert plain != pipeline_key(clone, unk_id=None, sub_character=None)


def test_padding_left_by_an_earlier_test_does_not_change_the_key(gpt2):
    # counting lifts padding and truncation (flores_counts.unpadded), so they cannot change a count;
    # a key that included them missed the cache whenever another test had set them on the backend
    backend = gpt2.backend_tokenizer.from_str(gpt2.backend_tokenizer.to_str())
    plain = pipeline_key(backend, unk_id=None, sub_character=None)
    backend.enable_padding(length=128)
    backend.enable_truncation(max_length=128)
    assert pipeline_key(backend, unk_id=None, sub_character=None) == plain


@pytest.mark.parametrize("damage", ["not json", json.dumps({"key": "other", "counts": {}}),
                                    json.dumps({"key": "K", "counts": {"d": [5, 9, 0]}}),
                                    json.dumps({"key": "K", "counts": {"d": [5, 0, "1"]}})])
def test_a_damaged_file_is_never_trusted(tmp_path, damage):
    cache = CountCache(tmp_path)
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "K.json").write_text(damage)
    assert cache.load("K") == {}
    cache.store("K", {"e": TextCounts(3, 0, 1)})
    assert cache.load("K") == {"e": TextCounts(3, 0, 1)}


def _write(root: str, worker: int) -> None:
    cache = CountCache(Path(root))
    for i in range(30):
        cache.store("K", {text_digest(f"{worker}-{i}"): TextCounts(i + 1)})


def test_two_writers_keep_each_others_entries(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(str(tmp_path), w)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    assert len(CountCache(tmp_path).load("K")) == 60
