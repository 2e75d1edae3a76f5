"""The report's interactive head view ("open attention_head_view.html in a browser"), built with
bertviz, made self-contained, and proven to render in headless Chromium with the network off."""

from __future__ import annotations

import re

import pytest
import torch
from bertviz import head_view, model_view

from harness import browser
from harness.offline_html import bertviz_page

EXPERIMENT = "attention"
SENTENCE = "The cat sat on the mat."


@pytest.fixture(scope="module")
def views(models, tmp_path_factory, recorder):
    model, tokenizer = models.encoder("encoder")
    encoded = tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        attentions = model(**encoded, output_attentions=True).attentions
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    folder = tmp_path_factory.mktemp("views")
    pages = {}
    for name, view in (("head", head_view), ("model", model_view)):
        html = bertviz_page(view, attentions, tokens,
                            f"{name.title()} view: “{SENTENCE}” ({models.source('encoder').name})")
        path = folder / f"attention_{name}_view.html"
        path.write_text(html, encoding="utf-8")
        recorder.add_file(EXPERIMENT, f"Interactive {name} view (self-contained HTML)", path.name,
                          html.encode("utf-8"))
        pages[name] = path
    return pages, tokens, attentions


def test_pages_need_no_network(views):
    pages, _, _ = views
    for page in pages.values():
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']https?://""", html)
        assert "cdnjs" not in html
        assert "d3" in html and "jQuery" in html


@pytest.mark.parametrize("name", ["head", "model"])
def test_view_renders_offline_in_chromium(views, name, tmp_path, recorder):
    if browser.chromium() is None:
        pytest.skip(f"headless Chromium not found; install it with: {browser.INSTALL}")
    pages, tokens, attentions = views
    dom = browser.rendered_dom(pages[name])
    drawn_lines = len(re.findall(r"<line\b", dom))
    labels = set(re.findall(r"<text[^>]*>([^<]+)</text>", dom))
    n = len(tokens)
    if name == "head":  # a line per (query, key) pair of each head of the shown layer, token labels
        assert drawn_lines >= n * n, f"expected attention lines, found {drawn_lines}"
        assert {"cat", "sat", "mat"} <= labels, f"token labels missing: {sorted(labels)[:20]}"
    else:  # a thumbnail of lines per layer x head, with axis labels; tokens appear on click
        layers, heads = len(attentions), attentions[0].shape[1]
        assert drawn_lines >= layers * heads * n, f"expected thumbnails, found {drawn_lines} lines"
        assert {"Layers", "Heads"} <= labels
    png = browser.screenshot(pages[name], tmp_path / f"{name}.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    recorder.add_file(EXPERIMENT, f"{name.title()} view rendered offline in headless Chromium",
                      f"plots/attention_{name}_view.png", png)
