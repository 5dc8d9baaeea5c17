"""Conformance with the published llava-hf checkpoints, one tiny model per family.

Each family's tiny checkpoint carries that checkpoint's real chat template and a tokenizer that
behaves like the real one (llava_cli.testing.families). The expected sequences below are written
by hand from LLaVA's own conversation formats (haotian-liu/LLaVA llava/conversation.py:
conv_vicuna_v1, conv_mistral_instruct, conv_chatml_direct; LLaVA-NeXT's conv_llava_llama_3 and
conv_qwen for OneVision), not computed by the code under test: prompt text as the template renders
the generation prompt, then the answer the model was trained to emit and its end token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from llava_cli.finetune.collate import IGNORE_INDEX, ConversationEncoder
from llava_cli.finetune.data import Conversation, Turn
from llava_cli.model.generation import stop_token_ids
from llava_cli.model.prompts import answer_tokens, assistant_message, render, user_message

IMAGE = Image.new("RGB", (40, 30), (200, 30, 30))
Q1, A1, Q2, A2 = "What colour is it?", "red", "Is it a circle?", "no"

# family -> (generation prompt for one image+question, how the answer and its end token follow it,
#            the text a second user turn adds after the first answer's end)
FORMATS = {
    "llava-1.5": ("USER: <image>\n{q} ASSISTANT:", " {a}</s>", "USER: {q} ASSISTANT:"),
    "llava-v1.6-vicuna": ("USER: <image>\n{q} ASSISTANT:", " {a}</s>", "USER: {q} ASSISTANT:"),
    "llava-v1.6-mistral": ("[INST] <image>\n{q} [/INST]", " {a}</s>", "[INST] {q} [/INST]"),
    "llava-v1.6-34b": (
        "<|im_start|>user\n<image>\n{q}<|im_end|>\n<|im_start|>assistant\n",
        "{a}<|im_end|>\n",
        "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n",
    ),
    # The template writes "\n" before every text, so a text-only user turn reads "\n\n\n{q}": the
    # training sequence keeps the prompt exactly as chat and classify render it at inference.
    "llama3-llava-next": (
        "<|start_header_id|>user<|end_header_id|>\n\n<image>\n{q}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "{a}<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\n\n{q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    "llava-onevision-qwen2": (
        "<|im_start|>user\n<image>\n{q}<|im_end|>\n<|im_start|>assistant\n",
        "{a}<|im_end|>\n",
        "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n",
    ),
}
FAMILIES = list(FORMATS)


def ids(tokenizer, text: str, special: bool = False) -> list[int]:
    return tokenizer(text, add_special_tokens=special)["input_ids"]


def collapse_images(input_ids: list[int], image_id: int) -> list[int]:
    """Expanded image tokens back to one placeholder, to compare with an unexpanded reference."""
    out: list[int] = []
    for token in input_ids:
        if not (token == image_id and out and out[-1] == image_id):
            out.append(token)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_prompt_is_the_checkpoints(family, family_processor):
    processor = family_processor(family)
    prompt, _, _ = FORMATS[family]
    assert render(processor, [user_message(Q1)], add_generation_prompt=True) == prompt.format(q=Q1)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("label", ["red", "dribbling", "pass", "Yes"])
def test_label_tokens_are_what_the_model_emits(family, label, family_processor):
    """classify scores exactly the tokens the model was trained to emit after the prompt, and
    generation stops at the end token it scores."""
    processor = family_processor(family)
    tok = processor.tokenizer
    prompt, answer, _ = FORMATS[family]
    prompt_text = prompt.format(q=Q1)
    reference = ids(tok, prompt_text + answer.format(a=label))
    prompt_ids = ids(tok, prompt_text)
    assert reference[: len(prompt_ids)] == prompt_ids
    expected = reference[len(prompt_ids):]
    expected = expected[: expected.index(answer_end_id(tok, family)) + 1]  # chatml's "\n" after the end is not emitted
    scored = answer_tokens(processor, [user_message(Q1)], label)
    assert list(scored.ids) == expected
    assert scored.end_id in stop_token_ids(processor)


def answer_end_id(tokenizer, family: str) -> int:
    end = {"llava-v1.6-34b": "<|im_end|>", "llama3-llava-next": "<|eot_id|>", "llava-onevision-qwen2": "<|im_end|>"}
    return tokenizer.convert_tokens_to_ids(end.get(family, "</s>"))


@pytest.mark.parametrize("family", FAMILIES)
def test_training_sequence_is_llavas_format(family, family_processor):
    """Two turns with an image: the encoder's ids are LLaVA's conversation tokenized whole, and
    the loss covers exactly both answers and their end tokens."""
    processor = family_processor(family)
    tok = processor.tokenizer
    prompt, answer, next_turn = FORMATS[family]
    first_answer = answer.format(a=A1)
    second_answer = answer.format(a=A2)
    reference_text = prompt.format(q=Q1) + first_answer + next_turn.format(q=Q2) + second_answer
    turns = (Turn("user", Q1), Turn("assistant", A1), Turn("user", Q2), Turn("assistant", A2))
    conv = Conversation(Path("x.png"), turns, row=1)  # the first user turn carries the image
    encoder = ConversationEncoder(processor)
    encoded = encoder.encode(conv, IMAGE)
    got = collapse_images(encoded["input_ids"].tolist(), encoder.image_token_id)
    reference = ids(tok, reference_text, special=True)
    end_id = answer_end_id(tok, family)
    assert got == reference
    trained = encoded["input_ids"][encoded["labels"] != IGNORE_INDEX].tolist()
    first = answer_tokens(processor, [user_message(Q1)], A1)
    second = answer_tokens(processor, [user_message(Q1), assistant_message(A1), user_message(Q2, with_image=False)], A2)
    assert trained == list(first.ids) + list(second.ids)
    assert trained.count(end_id) == 2


@pytest.mark.parametrize("family", FAMILIES)
def test_text_only_row_trains_without_an_image(family, family_processor):
    processor = family_processor(family)
    conv = Conversation(None, (Turn("user", Q2), Turn("assistant", A2)), row=3)
    encoded = ConversationEncoder(processor).encode(conv, None)
    assert "pixel_values" not in encoded
    trained = encoded["input_ids"][encoded["labels"] != IGNORE_INDEX].tolist()
    assert trained == list(answer_tokens(processor, [user_message(Q2, with_image=False)], A2).ids)


@pytest.mark.parametrize("family", FAMILIES)
def test_stage1_plain_format(family, family_processor):
    """LLaVA's plain format: image, caption, "\\n"; the question is dropped wherever its <image> stood."""
    from llava_cli.finetune.data import as_plain

    processor = family_processor(family)
    tok = processor.tokenizer
    row = Conversation(Path("x.png"), (Turn("user", "Render a clear and concise summary of the photo."),
                                  Turn("assistant", "a red square on white")), row=1)
    encoder = ConversationEncoder(processor)
    encoded = encoder.encode(as_plain(row), IMAGE)
    got = collapse_images(encoded["input_ids"].tolist(), encoder.image_token_id)
    assert got == ids(tok, "<image>a red square on white\n", special=True)
    trained = encoded["input_ids"][encoded["labels"] != IGNORE_INDEX].tolist()
    assert tok.decode(trained) == tok.decode(ids(tok, "a red square on white\n"))
