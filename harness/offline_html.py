"""Make bertviz's HTML self-contained, so it renders with no network.

bertviz's pages load require.js from a CDN and ask it for d3 and jQuery from a CDN; offline that
is a blank page. Here the scripts are inlined from Python packages instead: jQuery from
XStatic-jQuery, d3 v5 (the version bertviz targets) from mpld3. RequireJS itself is replaced by a
six-line loader that hands bertviz the two inlined globals: XStatic-RequireJS does not build with
current setuptools (its setup.py imports pkg_resources), and bertviz needs nothing else of it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.escape import escape_html

CDN_SCRIPT = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/[^"]*"></script>')
REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)
AMD_SHIM = """
window.requirejs = window.require = function (deps, callback) {
  var modules = {jquery: window.jQuery, d3: window.d3};
  return callback.apply(null, deps.map(function (name) { return modules[name]; }));
};
window.require.config = function () {};
"""


def _jquery() -> str:
    import xstatic.pkg.jquery as jquery

    return (Path(jquery.BASE_DIR) / "jquery.min.js").read_text(encoding="utf-8")


def _d3_v5() -> str:
    import mpld3

    return (Path(mpld3.__file__).parent / "js" / "d3.v5.min.js").read_text(encoding="utf-8")


def _inline(code: str) -> str:
    return "<script>\n" + code.replace("</script", "<\\/script") + "\n</script>\n"


def _script_safe(text: str) -> str:
    """The inside of a JSON string literal that cannot close a <script> element or open a comment."""
    inner = json.dumps(text)[1:-1]
    return inner.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def bertviz_page(view: Callable[..., Any], attentions: Any, tokens: Sequence[str], title: str) -> str:
    """A bertviz view (head_view, model_view) as a self-contained page, with tokens as inert text.

    bertviz writes the tokens into its script with json.dumps, which leaves a token such as
    "</script>" able to end the script. Bertviz is handed placeholders instead, and each is then
    replaced by its token written with <, > and & as JSON escapes (the page shows the same text)."""
    from bertviz.util import format_special_chars

    tag = uuid.uuid4().hex
    placeholders = [f"harness-token-{tag}-{i}" for i in range(len(tokens))]
    html = view(attentions, placeholders, html_action="return").data
    shown = format_special_chars(list(tokens))
    # longest first, so placeholder 1 never replaces the start of placeholder 10
    for i in sorted(range(len(tokens)), key=lambda i: -len(placeholders[i])):
        html = html.replace(placeholders[i], _script_safe(shown[i]))
    if tag in html:
        raise ValueError("bertviz output kept a token placeholder; update harness/offline_html.py")
    return self_contained(html, title)


def self_contained(bertviz_html: str, title: str) -> str:
    """A full HTML page: the inlined libraries, the loader, then bertviz's own markup and script.
    `title` is plain text (escaped here)."""
    title = escape_html(title)
    body = CDN_SCRIPT.sub("", bertviz_html)
    body = REQUIRE_CONFIG.sub("", body)
    if "cdnjs" in body or re.search(r"src=[\"']https?://", body):
        raise ValueError("bertviz output still references a remote script; update harness/offline_html.py")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title>\n"
            + _inline(_jquery()) + _inline(_d3_v5()) + _inline(AMD_SHIM)
            + "</head><body style=\"background:#fff;font-family:sans-serif\">\n"
            + f"<h3>{title}</h3>\n" + body + "\n</body></html>\n")
