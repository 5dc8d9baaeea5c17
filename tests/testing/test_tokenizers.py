"""The tiny tokenizers behave like the real converted SentencePiece (Llama-2/Vicuna/Mistral/Yi) and
byte-level BPE (Llama-3/Qwen2) tokenizers in the ways LLaVA prompts and answers depend on."""

from __future__ import annotations

import json

import pytest

from llava_cli.testing.tokenizers import family_tokenizer, sentencepiece_like

NOT_IN_VOCAB = "猫 😀 naïve"  # CJK, emoji and a Latin-1 letter: byte pieces in the tiny vocabularies


@pytest.fixture(scope="module")
def llama2():
    return family_tokenizer("vicuna")


@pytest.fixture(scope="module")
def llama2_nonlegacy():
    return sentencepiece_like(added=("<image>", "<pad>"), pad="<pad>", legacy=False)


@pytest.fixture(scope="module")
def llama3():
    return family_tokenizer("llama3")


@pytest.fixture(scope="module")
def qwen2():
    return family_tokenizer("qwen2")


def pieces(tok, text, special=False):
    return tok.convert_ids_to_tokens(tok(text, add_special_tokens=special).input_ids)


# --- SentencePiece-like -------------------------------------------------------------------------


def test_spm_vocab_layout_is_llamas(llama2):
    vocab = llama2.get_vocab()
    assert [vocab[t] for t in ("<unk>", "<s>", "</s>", "<0x00>", "<0x0A>", "<0xFF>")] == [0, 1, 2, 3, 13, 258]
    assert "▁" in vocab and "▁left" in vocab
    # llava-hf appends <image> then <pad> after the base vocabulary (32000, 32001 on Llama-2's).
    base = llama2.vocab_size
    assert (vocab["<image>"], vocab["<pad>"]) == (base, base + 1) and len(llama2) == base + 2
    assert (llama2.bos_token_id, llama2.eos_token_id, llama2.pad_token_id, llama2.unk_token_id) == (1, 2, base + 1, 0)


def test_spm_pipeline_is_llama_converters(llama2, llama2_nonlegacy):
    legacy = json.loads(llama2.backend_tokenizer.to_str())
    assert [n["type"] for n in legacy["normalizer"]["normalizers"]] == ["Prepend", "Replace"]
    assert legacy["pre_tokenizer"] is None
    assert [d["type"] for d in legacy["decoder"]["decoders"]] == ["Replace", "ByteFallback", "Fuse", "Strip"]
    assert legacy["model"]["byte_fallback"] is True
    modern = json.loads(llama2_nonlegacy.backend_tokenizer.to_str())
    assert modern["normalizer"] is None
    assert modern["pre_tokenizer"]["type"] == "Metaspace" and modern["pre_tokenizer"]["prepend_scheme"] == "first"


@pytest.mark.parametrize("which", ["llama2", "llama2_nonlegacy"])
def test_spm_answers_and_spaces(which, request):
    tok = request.getfixturevalue(which)
    assert pieces(tok, "ASSISTANT: left")[-1] == "▁left"
    # The llava-1.5 template writes "ASSISTANT: left " : the trailing space is a lone "▁" token.
    assert pieces(tok, "ASSISTANT: left ")[-2:] == ["▁left", "▁"]
    assert pieces(tok, "left ") == ["▁left", "▁"]
    ids = tok("x").input_ids
    assert ids[0] == tok.bos_token_id and tok.eos_token_id not in ids


def test_spm_legacy_prefixes_every_chunk_between_special_tokens(llama2, llama2_nonlegacy):
    """llava-hf/llava-1.5-7b-hf encodes "USER: <image>\\nWhat" as [1, 3148, 1001, 29901, 29871, 32000,
    29871, 13, 5618, ...] (transformers tests/models/llava/test_processing_llava.py): a `▁` before and
    after <image>, the newline as byte piece <0x0A>."""
    got = pieces(llama2, "USER: <image>\nWhat", special=True)
    at = got.index("<image>")
    assert got[0] == "<s>" and got[at - 1 : at + 3] == ["▁", "<image>", "▁", "<0x0A>"]
    # Non-legacy: only the first chunk gets the prefix.
    got = pieces(llama2_nonlegacy, "USER: <image>\nWhat")
    at = got.index("<image>")
    assert got[at - 1 : at + 2] == ["▁", "<image>", "<0x0A>"]


@pytest.mark.parametrize("which", ["llama2", "llama2_nonlegacy"])
def test_spm_byte_fallback_round_trips(which, request):
    tok = request.getfixturevalue(which)
    got = pieces(tok, NOT_IN_VOCAB)
    assert {"<0xE7>", "<0xF0>", "<0x9F>", "<0xC3>"} <= set(got) and "<unk>" not in got
    assert tok.decode(tok(NOT_IN_VOCAB).input_ids, skip_special_tokens=True) == NOT_IN_VOCAB


def test_spm_special_tokens_never_split(llama2):
    yi = family_tokenizer("yi")
    assert pieces(llama2, "<image><image><pad></s>") == ["<image>", "<image>", "<pad>", "</s>"]
    got = pieces(yi, "<|im_start|>user\n<image>")
    assert (got[0], got[-1]) == ("<|im_start|>", "<image>")
    assert yi.convert_tokens_to_ids(["<|startoftext|>", "<|im_end|>"]) == [1, 4]
    assert yi("x").input_ids[0] == 1


def test_spm_save_and_reload_keeps_behaviour(llama2, tmp_path):
    from transformers import AutoTokenizer

    llama2.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "LlamaTokenizer" and config["legacy"] is True
    again = AutoTokenizer.from_pretrained(tmp_path)
    for text in ("USER: <image>\nWhat is it? ASSISTANT: left ", NOT_IN_VOCAB, "x"):
        assert again(text).input_ids == llama2(text).input_ids


# --- byte-level BPE -----------------------------------------------------------------------------


def test_byte_level_spaces_belong_to_the_next_word(llama3, qwen2):
    for tok in (llama3, qwen2):
        assert pieces(tok, " left") == ["Ġleft"]
        assert not pieces(tok, "left")[0].startswith("Ġ")  # no dummy prefix
        assert pieces(tok, "ASSISTANT: left")[-1] == "Ġleft"
        assert tok.decode(tok(NOT_IN_VOCAB, add_special_tokens=False).input_ids) == NOT_IN_VOCAB


def test_byte_level_bos_llama3_only(llama3, qwen2):
    assert llama3("x").input_ids[0] == llama3.convert_tokens_to_ids("<|begin_of_text|>")
    assert qwen2.bos_token is None and qwen2("x").input_ids == qwen2("x", add_special_tokens=False).input_ids


def test_byte_level_specials_follow_the_vocab_and_never_split(llama3, qwen2):
    base = llama3.vocab_size
    ids = llama3.convert_tokens_to_ids(["<|begin_of_text|>", "<|eot_id|>", "<image>", "<pad>"])
    assert ids == [base, base + 4, base + 5, base + 6]
    chunk = "<|start_header_id|>user<|end_header_id|>\n\n<image><|eot_id|>"
    expected = ["<|start_header_id|>", "user", "<|end_header_id|>", "ĊĊ", "<image>", "<|eot_id|>"]
    assert pieces(llama3, chunk) == expected
    assert pieces(qwen2, "<|im_start|>user\n<image><video><|im_end|>") == [
        "<|im_start|>", "user", "Ċ", "<image>", "<video>", "<|im_end|>",
    ]  # fmt: skip
    assert (qwen2.pad_token, qwen2.eos_token) == ("<|endoftext|>", "<|im_end|>")


def test_qwen2_normalizes_nfc(qwen2):
    assert qwen2("caf\u0065\u0301").input_ids == qwen2("caf\u00e9").input_ids
