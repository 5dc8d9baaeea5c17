"""Tiny tokenizers that behave like the ones the published LLaVA checkpoints ship, built offline.

Only the `tokenizers` library is used (no sentencepiece), so tests run with the package's own deps.
Two kinds, each mirroring how transformers lays out the real tokenizer.json:

- `sentencepiece_like`: Llama-2 / Vicuna / Mistral / Yi. Their tokenizer.json is a SentencePiece
  BPE converted by transformers' `LlamaConverter` (convert_slow_tokenizer.py): a BPE with
  `byte_fallback=True`, control pieces first, then the 256 byte pieces `<0x00>`..`<0xFF>`, then
  learned pieces in which a space is `▁` (and `▁` alone is a piece). Legacy layout: normalizer
  Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer; every chunk between added tokens gets its own
  `▁` prefix, which is why llava-hf's "USER: <image>\\n" encodes `▁`, `<image>`, `▁`, `<0x0A>`.
- `byte_level_bpe`: Llama-3 / Qwen2. GPT-4-style split regex, then ByteLevel; Llama-3's
  post-processor adds `<|begin_of_text|>`, Qwen2 adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llava_cli.model.chat_templates import LLAVA15_SYSTEM_PROMPT

SPIECE = "▁"

# Llama-3's `pre_tokenizer` Split pattern (meta-llama/Meta-Llama-3-8B tokenizer.json, tiktoken's
# cl100k with digits in runs of up to 3).
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Qwen2's (transformers models/qwen2/tokenization_qwen2.py PRETOKENIZE_REGEX): single digits.
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_LABELS = (
    "shooting dribbling passing pass red green blue yellow circle square triangle cross "
    "cat dog left right yes no"
)
# The words the test suite prompts and answers with, so each label is one or two learned pieces,
# as real answers mostly are. Label words are repeated so that " left" is learned whole.
DEFAULT_CORPUS: tuple[str, ...] = (
    "Look at this image and identify whether it shows a cat or a dog.",
    "Answer with a single classification of shooting, dribbling, passing or pass.",
    "Describe the scene in one sentence. What is it? What is shown in this image?",
    "USER: ASSISTANT: USER ASSISTANT user assistant system [INST] [/INST] <<SYS>> <</SYS>>",
    # Chat templates put role names right after a special token, i.e. at the start of a chunk.
    "user",
    "assistant",
    "system",
    "user\n\nWhat is it?\n\nassistant\n\n",  # Llama-3 writes "\n\n" after a header: one piece (271)
    LLAVA15_SYSTEM_PROMPT,
    "You are looking at a picture of a basketball player, identify if they are shooting, dribbling or passing.",
    "A red circle, a green square, a blue triangle and a yellow cross on a white background.",
    "A person is walking on the street with a dog. The sky is blue and the grass is green.",
    "The image shows a photo of a video frame. Which colour is the shape? Is it left or right?",
    *([_LABELS] * 8),
)


def _controls_and_bytes(controls: Sequence[str]) -> dict[str, int]:
    """Ids 0..k-1 for the control pieces, then the 256 byte pieces, as in Llama-2's vocab
    (`<unk>`=0, `<s>`=1, `</s>`=2, `<0x00>`=3, ..., `<0xFF>`=258)."""
    vocab = {piece: i for i, piece in enumerate(controls)}
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    return vocab


def _learn_spm_pieces(corpus: Iterable[str], size: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Train a plain BPE on the corpus with spaces as `▁`; return (pieces, merges).

    Newlines are left out of the training text: Llama's vocab has no `\\n` piece, a newline
    falls back to the byte piece `<0x0A>`."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPIECE, prepend_scheme="always", split=True)
    # `▁` in the initial alphabet keeps it a piece of its own, as in Llama's vocab (29871); so are
    # all printable ASCII characters: only other characters fall back to byte pieces.
    alphabet = [SPIECE, *(chr(c) for c in range(33, 127))]
    trainer = trainers.BpeTrainer(vocab_size=size, initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator([line.replace("\n", " ") for line in corpus], trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    pieces = sorted(model["vocab"], key=model["vocab"].get)
    return pieces, [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]


def _spm_pipeline(tok, legacy: bool) -> None:
    """Normalizer / pre-tokenizer / decoder exactly as `LlamaConverter` writes them."""
    from tokenizers import decoders, normalizers, pre_tokenizers

    if legacy:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend(SPIECE), normalizers.Replace(" ", SPIECE)])
        tok.pre_tokenizer = None
    else:
        tok.normalizer = None
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPIECE, prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence(
        [decoders.Replace(SPIECE, " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )


def _bos_post_processor(tok, bos: str | None):
    """`<bos> $A` (the post-processor LlamaTokenizerFast.update_post_processor writes), or none."""
    from tokenizers import processors

    if bos is None:
        return None
    bos_id = tok.token_to_id(bos)
    return processors.TemplateProcessing(
        single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, bos_id)]
    )


def _add_specials(tok, tokens: Sequence[str]) -> None:
    """Register special tokens: never split, never normalized (matched on the raw text)."""
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in tokens])


def sentencepiece_like(
    corpus: Iterable[str] = DEFAULT_CORPUS,
    vocab_size: int = 800,
    *,
    controls: Sequence[str] = ("<unk>", "<s>", "</s>"),
    unk: str = "<unk>",
    bos: str = "<s>",
    eos: str = "</s>",
    added: Sequence[str] = (),
    pad: str | None = None,
    legacy: bool = True,
    tokenizer_class: str = "LlamaTokenizer",
):
    """A fast tokenizer laid out like a converted Llama-2 SentencePiece model.

    `vocab_size` is the base vocabulary (controls + 256 bytes + learned pieces; fewer if the corpus
    runs out of merges). `controls` take ids 0..k-1 (Yi: `<unk>`, `<|startoftext|>`,
    `<|endoftext|>`, ..., `<|im_start|>`, `<|im_end|>`); `added` come after the base vocabulary,
    as llava-hf's conversion adds `<image>` and `<pad>` (32000, 32001 on Llama-2's 32000).
    """
    from tokenizers import Tokenizer, models

    vocab = _controls_and_bytes(controls)
    pieces, merges = _learn_spm_pieces(corpus, max(vocab_size - len(vocab), 1))
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    # unk/fuse_unk/byte_fallback as SpmConverter builds the BPE for Llama.
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    _spm_pipeline(tok, legacy)
    _add_specials(tok, [*controls, *added])
    tok.post_processor = _bos_post_processor(tok, bos)
    return _wrap(tok, tokenizer_class, unk=unk, bos=bos, eos=eos, pad=pad, add_bos=True, legacy=legacy)


def byte_level_bpe(
    corpus: Iterable[str] = DEFAULT_CORPUS,
    vocab_size: int = 800,
    *,
    specials: Sequence[str] = (),
    bos: str | None = None,
    eos: str | None = None,
    pad: str | None = None,
    pattern: str = LLAMA3_PATTERN,
    nfc: bool = False,
    ignore_merges: bool = False,
    tokenizer_class: str = "TokenizersBackend",
):
    """A fast tokenizer laid out like Llama-3's (`bos="<|begin_of_text|>"`, `ignore_merges=True`,
    LLAMA3_PATTERN) or Qwen2's (`bos=None`, `nfc=True`, QWEN2_PATTERN, class "Qwen2Tokenizer").

    `vocab_size` counts the 256 byte symbols and the learned merges (fewer if the corpus runs out).

    `specials` follow the learned vocabulary in order, as Llama-3's `<|begin_of_text|>`=128000
    follow its 128000 merges and Qwen2's `<|endoftext|>`=151643 its BPE.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.normalizer = normalizers.NFC() if nfc else None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    _add_specials(tok, specials)
    byte_level = processors.ByteLevel(trim_offsets=False)
    template = _bos_post_processor(tok, bos)
    tok.post_processor = processors.Sequence([byte_level, template]) if template else byte_level
    # add_bos unset: Llama-3's and Qwen2's tokenizer_config.json leave bos to the post-processor.
    return _wrap(tok, tokenizer_class, unk=None, bos=bos, eos=eos, pad=pad, add_bos=None)


def _wrap(tok, tokenizer_class: str, *, unk, bos, eos, pad, add_bos: bool | None, legacy: bool | None = None):
    """The transformers tokenizer around `tok`, of the class the real tokenizer_config.json names
    (so `save_pretrained` writes that class and loading goes down the same path as the real one).

    Left padding: llava-hf's processors pad on the left for batched generation."""
    import transformers

    cls = getattr(transformers, tokenizer_class)
    kwargs = dict(
        tokenizer_object=tok,
        unk_token=unk,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    if add_bos is not None:
        # Llama-2's tokenizer_config.json: add_bos_token true, add_eos_token false. transformers then
        # writes the `<s> $A` post-processor itself, as it does for the real one.
        kwargs.update(add_bos_token=add_bos, add_eos_token=False)
    if legacy is not None:
        kwargs["legacy"] = legacy
    wrapped = cls(**kwargs)
    if legacy is not None:
        # LlamaTokenizer keeps `legacy` out of init_kwargs; the real tokenizer_config.json has it, and
        # LlamaTokenizer.from_pretrained (no config.json beside it) picks its Metaspace scheme from it.
        wrapped.init_kwargs["legacy"] = legacy
    return wrapped


def family_tokenizer(kind: str, corpus: Iterable[str] = DEFAULT_CORPUS, vocab_size: int = 800):
    """The tokenizer of a checkpoint family, its specials and added tokens in the real order.

    kind: "vicuna" / "mistral" (Llama-2, Mistral-7B), "yi" (Yi-34B / Nous-Hermes-2-Yi-34B),
    "llama3" (Meta-Llama-3-8B-Instruct), "qwen2" (Qwen2 as in LLaVA-OneVision)."""
    if kind in ("vicuna", "mistral"):
        # <unk>=0 <s>=1 </s>=2; llava-hf adds <image>=32000 then <pad>=32001.
        return sentencepiece_like(corpus, vocab_size, added=("<image>", "<pad>"), pad="<pad>")
    if kind == "yi":
        # Yi's chatml pieces are control pieces in the base vocab (real: <|im_start|>=6, <|im_end|>=7);
        # llava-v1.6-34b-hf ends a turn with <|im_end|> (its generation_config eos).
        controls = ("<unk>", "<|startoftext|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>")
        return sentencepiece_like(
            corpus, vocab_size, controls=controls, bos="<|startoftext|>", eos="<|im_end|>",
            added=("<image>", "<pad>"), pad="<pad>",
        )  # fmt: skip
    if kind == "llama3":
        # Specials after the BPE vocab (<|begin_of_text|>=128000 ... <|eot_id|>=128009), then
        # llava-hf's <image>, <pad>. The real tokenizer_config names PreTrainedTokenizerFast.
        specials = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                    "<|eot_id|>", "<image>", "<pad>")  # fmt: skip
        return byte_level_bpe(
            corpus, vocab_size, specials=specials, bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<pad>",
            ignore_merges=True, tokenizer_class="PreTrainedTokenizerFast",
        )  # fmt: skip
    if kind == "qwen2":
        # <|endoftext|>=151643 (pad) <|im_start|> <|im_end|> (eos); OneVision adds <image>, <video>. No bos.
        specials = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>")
        return byte_level_bpe(
            corpus, vocab_size, specials=specials, eos="<|im_end|>", pad="<|endoftext|>",
            pattern=QWEN2_PATTERN, nfc=True, tokenizer_class="Qwen2Tokenizer",
        )  # fmt: skip
    raise ValueError(f"unknown tokenizer kind {kind!r}")
