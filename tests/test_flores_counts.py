"""Petrov et al. (2023)'s FLORES-200 counting procedure (harness/flores_counts.py) and the sweep
built on it (fixtures/tokenization.py): synthetic FLORES folders, the packaged GPT-2 vocabulary,
and the published counts."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.tokenization import FloresSweep, SweepError, sweep_roles, tokenization_claims
from harness.data import Flores
from harness.flores_counts import REFERENCE_FILE, ReferenceError, compare, encode_counts, joined_text, load_published

DATA = Path(os.environ.get("LLM_HARNESS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
# languages spread over scripts, checked against the published counts (all 204 run in the sweep)
SAMPLE = ("eng_Latn", "mar_Deva", "zho_Hans", "arb_Arab", "rus_Cyrl", "bod_Tibt", "yor_Latn")


def write_flores(root: Path, texts: dict[str, tuple[str, str]], newline: str = "\n") -> Path:
    for folder in ("dev", "devtest"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for language, (dev, devtest) in texts.items():
        (root / "dev" / f"{language}.dev").write_bytes(dev.replace("\n", newline).encode())
        (root / "devtest" / f"{language}.devtest").write_bytes(devtest.replace("\n", newline).encode())
    return root


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_joined_text_is_theirs_byte_for_byte(tmp_path, newline):
    """dev then devtest, split on '\\n' in text mode: each final newline leaves an empty piece."""
    root = write_flores(tmp_path, {"eng_Latn": ("One.\nTwo.\n", "Three.\n")}, newline)
    assert joined_text(root, "eng_Latn") == "One. Two.  Three. "


def test_joined_text_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="xxx_Latn.dev"):
        joined_text(write_flores(tmp_path, {}), "xxx_Latn")


def test_joined_count_differs_from_per_sentence_count(gpt2):
    """The space that joins the sentences changes GPT-2's pre-tokens: why per-sentence sums
    never reproduced the published counts."""
    sentences = ["Hello world.", "Hello again."]
    joined = encode_counts(gpt2.backend_tokenizer, [" ".join(sentences + [""])])[0].tokens
    alone = sum(c.tokens for c in encode_counts(gpt2.backend_tokenizer, sentences))
    assert joined == len(gpt2(" ".join(sentences + [""]), add_special_tokens=False).input_ids)
    assert (joined, alone) == (7, 6)  # "ĠHello" for "Hello", and a final "Ġ"


def test_sweep_premium_is_total_over_total(tmp_path, gpt2):
    root = write_flores(tmp_path, {"eng_Latn": ("a b\nc\n", "d\n"), "fra_Latn": ("aa bb cc\ndd\n", "ee ff\n")})
    flores = Flores(root, languages_expected=None, lines_expected=())
    sweep = FloresSweep(flores, {"gpt2": gpt2, "opt": gpt2}, None)
    texts = {lang: joined_text(root, lang) for lang in ("eng_Latn", "fra_Latn")}
    expected = {lang: len(gpt2(t, add_special_tokens=False).input_ids) for lang, t in texts.items()}
    assert sweep.get("gpt2", "fra_Latn").tokens == expected["fra_Latn"]
    assert sweep.premium("gpt2", "fra_Latn") == expected["fra_Latn"] / expected["eng_Latn"]
    assert sweep.same_as == {"gpt2": "gpt2", "opt": "gpt2"}  # one encoding serves both
    sweep.complete()
    assert {r["tokenizer"] for r in sweep.rows()} == {"gpt2", "opt"}
    per_sentence = sweep.sentence_stats("gpt2", "fra_Latn")
    assert per_sentence.procedure == "per-sentence" and per_sentence.sentences == 3


def test_a_role_outside_the_sweep_is_an_error(tmp_path, gpt2):
    root = write_flores(tmp_path, {"eng_Latn": ("a\n", "b\n")})
    sweep = FloresSweep(Flores(root, languages_expected=None, lines_expected=()), {"gpt2": gpt2}, None,
                        missing={"bert": "package not installed"})
    with pytest.raises(SweepError, match="'xlmr' is not in the FLORES sweep"):
        sweep.get("xlmr", "eng_Latn")
    with pytest.raises(pytest.skip.Exception, match="package not installed"):
        sweep.get("bert", "eng_Latn")


def claim(measure: str, models_: tuple[str, ...] = (), **args) -> SimpleNamespace:
    return SimpleNamespace(id=f"t.{measure}", path="catalog.toml", measure=measure, models=models_, args=args)


def test_sweep_roles_come_from_the_claims():
    claims = [claim("flores_premium", ("gpt2",)), claim("unk_fraction", ("bert",), text="x"),
              claim("unk_fraction", ("bert",), language="mar_Deva"), claim("token_count", ("t5",)),
              claim("premium_gap", ("xlmr",), english=["opt"], multilingual=["xlmr"])]
    assert sweep_roles(claims) == ("gpt2", "bert", "xlmr", "opt")
    with pytest.raises(SweepError, match="t.flores_premium"):
        sweep_roles([claim("flores_premium")])


def test_sweep_roles_of_the_tokenization_catalog():
    roles = sweep_roles(tokenization_claims())
    assert {"gpt2", "bert", "xlmr", "gemma3"} <= set(roles)


def test_published_reference_file():
    table = load_published()
    assert set(table) >= {"GPT-2", "XLM-RoBERTa"}
    assert len(table["GPT-2"]) == 204 and table["GPT-2"]["eng_Latn"] > 0
    assert "Petrov" in REFERENCE_FILE.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("line, problem", [
    ("eng_Latn,12x", "field 'GPT-2' of eng_Latn: not a token count"),
    ("eng_Latn,1,2", "2 fields, the header has 2"),
])
def test_bad_reference_file_names_file_line_and_field(tmp_path, line, problem):
    path = tmp_path / "ref.csv"
    path.write_text(f"# source\nlanguage,GPT-2\n{line}\n", encoding="utf-8")
    if problem.startswith("2 fields"):
        problem = "3 fields, the header has 2"
    with pytest.raises(ReferenceError, match=f"ref.csv:3: {problem}"):
        load_published(path)


def test_compare_counts_equal_languages_and_never_drops_one():
    agreement = compare({"a": 5, "b": 7}, {"a": 5, "b": 9})
    assert (agreement.equal, agreement.max_abs_difference, agreement.worst_language) == (1, 2, "b")
    with pytest.raises(KeyError, match="c"):
        compare({"a": 5}, {"a": 5, "c": 1})


def test_gpt2_counts_equal_the_published_ones(gpt2):
    flores = DATA / "flores200"
    if not (flores / "dev").is_dir():
        pytest.skip(f"FLORES-200 not at {flores} (set LLM_HARNESS_DATA)")
    counts = encode_counts(gpt2.backend_tokenizer, [joined_text(flores, lang) for lang in SAMPLE])
    agreement = compare(dict(zip(SAMPLE, (c.tokens for c in counts))), load_published()["GPT-2"], SAMPLE)
    assert agreement.all_equal, agreement.differences
