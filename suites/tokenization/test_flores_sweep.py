"""Report section 2, "the multilingual efficiency gap", over all FLORES-200 languages.

Writes the full sweep as CSV, the report's languages and the 20 highest premiums per tokenizer
as Markdown tables, and a plot of every language's premium.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

EXPERIMENT = "tokenization"
REPORT_LANGUAGES = ("eng_Latn", "mar_Deva", "hin_Deva")
TOP = 20


def test_flores_sweep_covers_every_language(flores_sweep, flores, recorder):
    flores_sweep.complete()
    frame = pd.DataFrame(flores_sweep.rows())
    assert set(frame.language) == set(flores.languages)
    per_tokenizer = frame.groupby("tokenizer").language.nunique()
    assert (per_tokenizer == len(flores.languages)).all(), per_tokenizer.to_dict()
    assert (frame.tokens > 0).all() and (frame.characters > 0).all()

    recorder.add_table(EXPERIMENT, "FLORES-200 sweep, every language and tokenizer",
                       frame.to_dict("records"), in_report=False)
    record_report_languages(frame, recorder)
    record_top_premiums(frame, recorder)
    record_sweep_plot(frame, recorder)
    recorder.add_table(EXPERIMENT, "FLORES-200 sweep time", [
        {"tokenizer": role, "languages": len(flores.languages), "encoded": flores_sweep.counted[role],
         "from cache": flores_sweep.cached[role],
         "same pipeline as": "" if flores_sweep.same_as[role] == role else flores_sweep.same_as[role],
         "seconds": round(seconds, 2)}
        for role, seconds in flores_sweep.seconds.items()],
        note="Wall time of each tokenizer's pass in this session (batch encoding, this machine). Counts that "
             "an earlier session made for the same tokenizer pipeline, library version and text (sha256) come "
             "from the model cache (`flores-counts/`); a tokenizer with the same pipeline as another (OPT and "
             "GPT-2) reuses its counts. Timing only: the benchmark `bench_tokenizers.py::test_flores_sweep_time` "
             "encodes everything afresh, without the cache, and tracks it across runs.")


def record_report_languages(frame: pd.DataFrame, recorder) -> None:
    rows = frame[frame.language.isin(REPORT_LANGUAGES)].sort_values(["language", "tokenizer"])
    recorder.add_table(
        EXPERIMENT, "FLORES-200: the report's languages",
        rows[["language", "tokenizer", "tokens", "premium_vs_english", "tokens_per_char",
              "tokens_per_byte", "unk_fraction", "sub_character_fraction"]].to_dict("records"),
        note="2,009 sentences (dev + devtest) per language, line-aligned translations. premium = "
             "tokens / English tokens for the same tokenizer; sub_character_fraction = share of "
             "tokens that carry only part of a character's UTF-8 bytes (byte-level pieces or "
             "<0x..> byte fallback).")


def record_top_premiums(frame: pd.DataFrame, recorder) -> None:
    columns = {}
    for role, group in frame.groupby("tokenizer", sort=False):
        top = group.sort_values("premium_vs_english", ascending=False).head(TOP)
        columns[role] = [f"{lang} ({p:.2f})" for lang, p in zip(top.language, top.premium_vs_english)]
    rows = [{"rank": i + 1, **{role: values[i] for role, values in columns.items()}}
            for i in range(TOP)]
    recorder.add_table(EXPERIMENT, f"FLORES-200: the {TOP} highest premiums per tokenizer", rows,
                       note="language (tokens / English tokens), highest first.")


def record_sweep_plot(frame: pd.DataFrame, recorder) -> None:
    pivot = frame.pivot(index="language", columns="tokenizer", values="premium_vs_english")
    order_by = "gpt2" if "gpt2" in pivot else pivot.columns[0]
    pivot = pivot.sort_values(order_by)
    fig, ax = plt.subplots(figsize=(14, 5))
    for role in pivot.columns:
        ax.plot(range(len(pivot)), pivot[role], marker=".", linewidth=0.8, label=role)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ticks = range(0, len(pivot), 4)
    ax.set_xticks(list(ticks), [pivot.index[i] for i in ticks], rotation=90, fontsize=6)
    ax.set_ylabel("tokens / English tokens (log)")
    ax.set_title(f"FLORES-200 token premium against English, {len(pivot)} languages "
                 f"(sorted by {order_by})")
    ax.legend()
    recorder.add_figure(EXPERIMENT, "Token premium against English, every FLORES-200 language",
                        "tokenization_flores_premium", fig)
