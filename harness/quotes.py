"""Claims quote the report: each quote must occur in the report's text.

A quote is compared with the report after both go through the same `normalise`:

- Unicode NFC (canonical composition only: "ᵀ", "√", "₁", "×" and Devanagari stay as written);
- markdown removed: `*` anywhere (bold, italics, bullets), `_` at a word edge (emphasis; the
  underscore inside `d_model` or `logit_i` stays), backticks (inline code and fences), links and
  images `[text](url)` / `![alt](url)` kept as their text (`[CLS]`, `[101, ...]` are not links);
- typography folded: ‘ ’ ‚ ‛ ′ to ', “ ” „ ‟ ″ to ", the dashes ‐ ‑ ‒ – — ― and the minus − to -,
  … to ..., no-break and other Unicode spaces to a space;
- whitespace runs (line breaks included) collapsed to one space, ends stripped.

Case, digits, `~`, `%`, table pipes and every other character are kept: a quote is the report's
own words, not a paraphrase. So a quote may differ from the report only in markdown, typography
and line wrapping.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

REPORT_ENV = "LLM_HARNESS_REPORT"
REPORT_NAME = "llm-internals-report.md"
MIN_QUOTE_CHARS = 4  # a shorter quote (e.g. "~0.8") would match by accident, not as evidence

_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
})
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_EDGE_UNDERSCORE = re.compile(r"(?<!\w)_+|_+(?!\w)")
_SPACE = re.compile(r"\s+")


class QuoteError(ValueError):
    """A quote that does not occur in the report, or a report that cannot be read.

    The message names the report file, the claim and the field.
    """

    def __init__(self, report: Path | str, claim_id: str | None, problem: str, field_name: str = "quote"):
        self.report, self.claim_id, self.field_name, self.problem = str(report), claim_id, field_name, problem
        where = f"claim '{claim_id}': field '{field_name}'" if claim_id else f"field '{field_name}'"
        super().__init__(f"quote error ({report}): {where}: {problem}")


@lru_cache(maxsize=64)
def normalise(text: str) -> str:
    """The form in which quotes and the report are compared (see the module docstring)."""
    text = unicodedata.normalize("NFC", text).translate(_FOLD)
    text = _LINK.sub(r"\1", text)
    text = text.replace("*", "").replace("`", "")
    text = _EDGE_UNDERSCORE.sub("", text)
    return _SPACE.sub(" ", text).strip()


def find_quote(quote: str, report_text: str) -> bool:
    """Whether `quote` occurs in `report_text`, both normalised."""
    wanted = normalise(quote)
    return bool(wanted) and wanted in normalise(report_text)


def check_quote(claim_id: str, quote: object, report_text: str, report_path: Path | str) -> None:
    """Raise QuoteError naming the claim unless `quote` is a usable quote found in the report."""
    if not isinstance(quote, str):
        raise QuoteError(report_path, claim_id, f"must be a string, got {type(quote).__name__} {quote!r}")
    wanted = normalise(quote)
    if len(wanted) < MIN_QUOTE_CHARS:
        raise QuoteError(report_path, claim_id, f"too short to identify a passage ({quote!r}); quote the "
                                                f"sentence or table cell the claim checks")
    if wanted not in normalise(report_text):
        raise QuoteError(report_path, claim_id, f"not found in the report: {quote!r} (compared after "
                                                f"normalising markdown, typography and whitespace)")


def quote_problem(claim: Mapping[str, Any], report_text: str, report_path: Path | str) -> str | None:
    """For the catalog loader: the problem with a claim's `quote`, or None.

    A claim quotes the report (`quote`), or, when its value comes from a published paper, names it
    in `source` (a quote may still be given and is then checked too).
    """
    cid = claim.get("id") if isinstance(claim.get("id"), str) else None
    if "quote" in claim:
        try:
            check_quote(cid or "?", claim["quote"], report_text, report_path)
        except QuoteError as exc:
            return str(exc)
        return None
    source = claim.get("source")
    if isinstance(source, str) and source.strip():
        return None
    return str(QuoteError(report_path, cid, "missing; quote the report's words this claim checks, or name the "
                                            "published paper its value comes from in 'source'"))


def default_report_path(root: Path | None = None) -> Path:
    """$LLM_HARNESS_REPORT, else ../shared/report/llm-internals-report.md beside the project root."""
    if os.environ.get(REPORT_ENV):
        return Path(os.environ[REPORT_ENV]).expanduser()
    root = Path(__file__).resolve().parents[1] if root is None else Path(root)
    return root.parent / "shared" / "report" / REPORT_NAME


def read_report(path: Path | str | None = None) -> str:
    """The report's text; QuoteError (naming the file and how to choose another) if unreadable."""
    path = default_report_path() if path is None else Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise QuoteError(path, None, f"cannot read the report ({why}); set ${REPORT_ENV} or the report "
                                     f"option to its path", field_name="report") from exc
