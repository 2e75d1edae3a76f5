"""Report section 3: sentence embeddings and cosine similarity, on all-MiniLM-L6-v2."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy import stats

from harness.collect import suite_catalog
from harness.policy import band_edges, band_of

CATALOG = suite_catalog(__file__)
EXPERIMENT = CATALOG.experiment


def similarity(model, a: str, b: str) -> float:
    """sentence-transformers' own similarity function (cosine for this model)."""
    emb = model.encode([a, b], convert_to_tensor=True)
    return float(model.similarity(emb[0:1], emb[1:2])[0, 0])


def report_pairs() -> list[tuple[str, str]]:
    return [(c.args["a"], c.args["b"]) for c in CATALOG.by_measure("pair_similarity")]


@pytest.mark.claims("embedding_dimension")
def test_embedding_dimension(claim, models, check):
    model = models.sentence_encoder(claim.model)
    vector = model.encode(["dog"])[0]
    check(int(vector.shape[0]),
          extra={"library_reported": model.get_embedding_dimension()})


@pytest.mark.claims("pooling_equals_mean")
def test_sentence_vector_is_pooled_token_vectors(claim, models, check):
    model = models.sentence_encoder(claim.model)
    sentences = [s for pair in report_pairs() for s in pair]
    library = model.encode(sentences, convert_to_tensor=True)
    transformer = model[0]
    features = transformer.tokenize(sentences)
    with torch.no_grad():
        states = transformer.auto_model(**features).last_hidden_state
    mask = features["attention_mask"].unsqueeze(-1).float()
    pooled = (states * mask).sum(1) / mask.sum(1)
    pooled = torch.nn.functional.normalize(pooled, dim=-1)
    check(float((pooled - library).abs().max()),
          extra={"pooling": str(model[1]), "sentences": len(sentences)})


@pytest.mark.claims("formula_vs_library")
def test_cosine_formula_equals_library_similarity(claim, models, check):
    model = models.sentence_encoder(claim.model)
    worst = 0.0
    for a, b in report_pairs():
        va, vb = model.encode([a, b], normalize_embeddings=False)
        formula = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb)))
        worst = max(worst, abs(formula - similarity(model, a, b)))
    check(worst,
          extra={"similarity_function": str(model.similarity_fn_name)})


@pytest.mark.claims("similarity_bounds")
def test_cosine_similarity_is_bounded(claim, models, stsb_test, check):
    sims = stsb_similarities(models.sentence_encoder(claim.model), stsb_test)
    largest = float(np.abs(sims).max())
    check(max(0.0, largest - 1.0),
          extra={"largest_abs": largest, "min": float(sims.min()), "max": float(sims.max()), "pairs": len(sims)})


@pytest.mark.claims("pair_similarity")
def test_pair_similarity(claim, models, check):
    model = models.sentence_encoder(claim.model)
    check(similarity(model, claim.args["a"], claim.args["b"]))


@pytest.mark.claims("pair_band")
def test_pair_interpretation_band(claim, models, check):
    value = similarity(models.sentence_encoder(claim.model), claim.args["a"], claim.args["b"])
    check(band_of(value),
          extra={"similarity": value, "bands": {name: list(edges) for name, edges in band_edges().items()}})


@pytest.mark.claims("pair_ordering")
def test_similarity_ordering(claim, models, check):
    model = models.sentence_encoder(claim.model)
    values = {name: similarity(model, a, b) for name, (a, b) in claim.args["pairs"].items()}
    check(values)


@pytest.mark.claims("group_ordering")
def test_group_ordering(claim, models, check):
    """Every pair of an earlier group scores above every pair of a later one: the lowest of the
    first group is compared with the highest of the second."""
    model = models.sentence_encoder(claim.model)
    groups = {name: [similarity(model, a, b) for a, b in pairs]
              for name, pairs in claim.args["groups"].items()}
    first, second = claim.spec["order"]
    check({first: min(groups[first]), second: max(groups[second])}, extra={"all": groups})


def word_vectors(network, tokenizer, sentences: list[str], word: str) -> list[torch.Tensor]:
    """The word's vector in every layer's output (index 0: the embedding layer, -1: the last hidden state,
    the vectors a sentence embedder pools), averaged over its sub-tokens: one (sentences x d) tensor a layer."""
    per_layer: list[list[torch.Tensor]] = []
    for sentence in sentences:
        encoded = tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping")[0]
        start = sentence.lower().index(word.lower())
        end = start + len(word)
        positions = [i for i, (s, e) in enumerate(offsets.tolist()) if e > s and s >= start and e <= end]
        assert positions, f"'{word}' not found in the tokens of {sentence!r}"
        with torch.no_grad():
            states = network(**encoded, output_hidden_states=True).hidden_states
        if not per_layer:
            per_layer = [[] for _ in states]
        for layer, hidden in enumerate(states):
            per_layer[layer].append(hidden[0, positions].mean(0))
    return [torch.stack(vectors) for vectors in per_layer]


def separation(vectors: torch.Tensor, labels: list[str]) -> float:
    """Mean cosine between same-sense items minus mean cosine between different-sense items."""
    unit = torch.nn.functional.normalize(vectors, dim=-1)
    sims = unit @ unit.T
    same = torch.tensor([[a == b for b in labels] for a in labels])
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return float(sims[same & off_diagonal].mean() - sims[~same].mean())


@pytest.mark.claims("word_sense_separation")
def test_token_vectors_separate_word_senses(claim, models, check):
    """Per-token vectors of the claim's encoder (BERT) against the sentence embedder's pooled vectors."""
    network, tokenizer = models.encoder(claim.model)
    embedder = models.sentence_encoder(claim.args["sentence_model"])
    sentences, labels = [], []
    for sense, items in claim.args["senses"].items():
        sentences += items
        labels += [sense] * len(items)
    token_sep = separation(word_vectors(network, tokenizer, sentences, claim.args["word"])[-1], labels)
    sentence_sep = separation(embedder.encode(sentences, convert_to_tensor=True), labels)
    first, second = claim.spec["order"]
    check({first: token_sep, second: sentence_sep},
          extra={"sentences": len(sentences), "sentence_model": claim.args["sentence_model"]})


def stsb_similarities(model, pairs) -> np.ndarray:
    a = model.encode([p.sentence1 for p in pairs], batch_size=64, convert_to_tensor=True)
    b = model.encode([p.sentence2 for p in pairs], batch_size=64, convert_to_tensor=True)
    return model.similarity_pairwise(a, b).cpu().numpy()


@pytest.mark.claims("stsb_correlation")
def test_stsb_correlation(claim, models, stsb_test, recorder, check):
    sims = stsb_similarities(models.sentence_encoder(claim.model), stsb_test)
    gold = np.array([p.score for p in stsb_test])
    spearman = float(stats.spearmanr(sims, gold).statistic)
    pearson = float(stats.pearsonr(sims, gold).statistic)
    recorder.add_table(EXPERIMENT, "STS Benchmark test: correlation of cosine with gold scores", [
        {"statistic": "Spearman", "measured": spearman,
         "published (MTEB)": claim.spec.get("expected") if claim.args["statistic"] == "spearman" else ""},
        {"statistic": "Pearson", "measured": pearson, "published (MTEB)": ""},
        {"statistic": "pairs", "measured": len(gold), "published (MTEB)": 1379}],
        note=f"Standard protocol: cosine of the two sentence embeddings against the 0-5 gold score. "
             f"Reference: {claim.source or '-'}")
    measured = spearman if claim.args["statistic"] == "spearman" else pearson
    check(measured,
          extra={"spearman": spearman, "pearson": pearson, "pairs": len(gold)})


def test_similarity_heatmap(models, recorder):
    """Every sentence and word of the report's table against every other, as a heatmap."""
    model = models.sentence_encoder("minilm")
    texts = list(dict.fromkeys(t for pair in report_pairs() for t in pair))
    texts += ["She went to the bank", "The river bank"]
    emb = model.encode(texts, convert_to_tensor=True)
    matrix = model.similarity(emb, emb).cpu().numpy()
    assert np.allclose(matrix, matrix.T, atol=1e-5)
    assert np.allclose(np.diag(matrix), 1.0, atol=1e-5)
    fig, ax = plt.subplots(figsize=(9, 7.5))
    image = ax.imshow(matrix, vmin=-0.1, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(texts)), texts, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(texts)), texts, fontsize=8)
    for i in range(len(texts)):
        for j in range(len(texts)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if matrix[i, j] < 0.5 else "black")
    fig.colorbar(image, ax=ax, label="cosine similarity")
    ax.set_title("all-MiniLM-L6-v2: cosine similarity of the report's texts")
    recorder.add_figure(EXPERIMENT, "Similarity heatmap of the report's texts", "embeddings_heatmap", fig)
    recorder.add_table(EXPERIMENT, "Similarity matrix of the report's texts",
                       [{"text": t, **{f"{j}": round(float(v), 4) for j, v in enumerate(row)}}
                        for t, row in zip(texts, matrix)], in_report=False)
