"""The conversion child parses each GGUF file once (harness.convert_gguf.one_reader_per_file)."""

from __future__ import annotations

import gguf
import numpy as np

from harness.convert_gguf import one_reader_per_file


def _tiny_gguf(path):
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_token_list(["<unk>", "a", "b"])
    writer.add_tensor("token_embd.weight", np.arange(6, dtype=np.float32).reshape(3, 2))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_readers_are_shared_inside_the_block_and_fresh_outside(tmp_path):
    first, second = _tiny_gguf(tmp_path / "a.gguf"), _tiny_gguf(tmp_path / "b.gguf")
    original = gguf.GGUFReader
    with one_reader_per_file():
        reader = gguf.GGUFReader(first)
        assert gguf.GGUFReader(str(first)) is reader  # the same file by another spelling: parsed once
        assert gguf.GGUFReader(second) is not reader
        assert [bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]).decode()
                for i in reader.fields["tokenizer.ggml.tokens"].data] == ["<unk>", "a", "b"]
        assert reader.tensors[0].data.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert gguf.GGUFReader is original
    assert gguf.GGUFReader(first) is not gguf.GGUFReader(first)


def test_the_class_is_put_back_when_the_block_fails(tmp_path):
    original = gguf.GGUFReader
    try:
        with one_reader_per_file():
            raise RuntimeError("conversion failed")
    except RuntimeError:
        pass
    assert gguf.GGUFReader is original
