"""bertviz pages: text from the model registry and the tokenizer reaches the page as text only."""

import re

import pytest
import torch

from harness.offline_html import bertviz_page

pytest.importorskip("bertviz", reason="install it with: pip install bertviz")
pytest.importorskip("xstatic.pkg.jquery", reason="install it with: pip install XStatic-jQuery")
pytest.importorskip("mpld3", reason="install it with: pip install mpld3")

HOSTILE = "</title><script>alert(1)</script>"


@pytest.mark.parametrize("view_name", ["head_view", "model_view"])
def test_hostile_title_and_tokens_stay_text(view_name):
    import bertviz

    tokens = ["[CLS]", HOSTILE, "<!--", "a&amp;b", "▁cat"] + [f"t{i}" for i in range(7)]
    n = len(tokens)
    attentions = tuple(torch.softmax(torch.randn(1, 2, n, n, generator=torch.Generator().manual_seed(layer)), -1)
                       for layer in range(2))
    page = bertviz_page(getattr(bertviz, view_name), attentions, tokens, f"View ({HOSTILE})")
    assert "alert(1)</script>" not in page and "<script>alert" not in page
    assert page.count("<title>") == 1 and "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # no script element opens beyond those of the same page with plain tokens and title
    plain = bertviz_page(getattr(bertviz, view_name), attentions, [f"t{i}" for i in range(n)], "View")
    assert len(re.findall(r"<script\b", page)) == len(re.findall(r"<script\b", plain))
    # every token reaches the script as a JSON string that decodes to the token (prettified by bertviz)
    for token in ("\\u003c/title\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e", "\\u003c!--",
                  "a\\u0026amp;b", " cat", "t5", "t6"):
        assert f'"{token}"' in page, token
