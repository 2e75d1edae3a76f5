"""The one place where text from catalogs, records and tables is made safe for Markdown and HTML.

Everything that reaches REPORT.md, a comparison or an HTML page goes through these functions:
catalog label keys, table names, statements, refutation reasons, measured values. None of it can
start a heading, a list, a table row or a raw-HTML element, or break out of a table cell or a link.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

_BLOCK_START = re.compile(r"^(\s*)(?:([#>+*=-])|(\d+)([.)]))")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY_START = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_BREAKS = re.compile(r"\s*[\r\n\t\v\f\x85\u2028\u2029]+\s*")


def escape_html(text: object) -> str:
    """Text for an HTML element or attribute (e.g. a page's <title>)."""
    return html.escape(str(text), quote=True)


def one_line(text: object) -> str:
    """Newlines (any kind) and tabs become spaces: nothing can start a new Markdown block."""
    return _BREAKS.sub(" ", str(text))


def md_text(text: object) -> str:
    """Inline Markdown text on one line: raw HTML shown as text, no links or images, no cell
    breaks. Emphasis characters are left alone (they cannot change the document's structure)."""
    return _inline(text).replace("](", "]\\(").replace("![", "!\\[").replace("][", "]\\[")


def _inline(text: object) -> str:
    # a "<" that could open a tag, comment or autolink, and an "&" that could start an entity, are
    # written as entities; "<= 1e-5" stays readable
    out = _ENTITY_START.sub("&amp;", one_line(text))
    out = _TAG_START.sub("&lt;", out)
    return out.replace("\\", "\\\\").replace("|", "\\|")


def md_line(text: object) -> str:
    """Text that starts a line (a paragraph, a heading's text): as md_text, and a leading block
    marker (#, >, -, +, *, =, "1.") is escaped so the line stays a paragraph."""
    def escape(m: re.Match[str]) -> str:
        if m.group(2):
            return f"{m.group(1)}\\{m.group(2)}"
        return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"

    return _BLOCK_START.sub(escape, md_text(text), count=1)


def md_code(text: object) -> str:
    """An inline code span that holds any text: fenced with more backticks than the text has in a
    row; the pipe is escaped because GitHub's tables split cells on it even inside code."""
    body = one_line(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def md_url(path: str) -> str:
    """A relative link target: percent-encoded so it cannot close the link or add markup."""
    return quote(one_line(path), safe="/._-~")


def md_link_text(text: object) -> str:
    """The text of a link or image: as md_text, with its brackets escaped."""
    return _inline(text).replace("[", "\\[").replace("]", "\\]")
