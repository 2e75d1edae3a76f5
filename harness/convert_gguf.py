"""Convert a GGUF checkpoint into a plain transformers directory (fp32 safetensors + tokenizer).

Run as `python -m harness.convert_gguf MODEL.gguf TARGET_DIR`. transformers dequantises GGUF
weights on load but refuses to save a gguf-quantised model, so the weights are copied into a
model built from the same config without its quantization_config. The directory is written
under a temporary name and renamed at the end; a manifest of file sizes marks it complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    print(f"  loading tokenizer from {gguf.name} ...", file=sys.stderr, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(tmp)
    print(f"  tokenizer ready ({time.perf_counter() - t0:.0f} s); dequantising weights ...",
          file=sys.stderr, flush=True)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantised.state_dict())
    del quantised
    plain.save_pretrained(tmp)
    files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    (tmp / "manifest.json").write_text(json.dumps({"source": str(gguf), "files": files}, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    print(f"  done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m harness.convert_gguf MODEL.gguf TARGET_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
