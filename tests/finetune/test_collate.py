from pathlib import Path

import pytest
import torch
from PIL import Image

from llava_cli.finetune import collate as collate_mod
from llava_cli.finetune.collate import IGNORE_INDEX, ConversationEncoder, PadCollator, TokenizationMismatch
from llava_cli.finetune.data import Conversation, Turn, labelled_conversation
from llava_cli.model.prompts import answer_tokens, render_prompt, user_message

IMAGE = Image.new("RGB", (40, 40), (200, 10, 10))
LABELS = ["red", "green", "blue", "yellow"]


def unmasked(encoded):
    return encoded["input_ids"][encoded["labels"] != IGNORE_INDEX].tolist()


def test_labelled_answer_is_what_classify_scores(processor):
    encoded = ConversationEncoder(processor).encode(labelled_conversation(Path("x.png"), "blue", LABELS, None, 2), IMAGE)
    classify_answer = answer_tokens(processor, [user_message(render_prompt(None, LABELS))], "blue")
    assert unmasked(encoded) == list(classify_answer.ids)  # label tokens + end-of-answer token
    # the unmasked span is contiguous and sits right after classify's prompt tokens
    positions = (encoded["labels"] != IGNORE_INDEX).nonzero().flatten().tolist()
    assert positions == list(range(positions[0], positions[0] + len(positions)))


def test_two_turn_masking_is_exactly_the_answers(processor):
    conv = Conversation(
        Path("x.png"),
        (Turn("user", "What is in the image?"), Turn("assistant", "A red square."),
         Turn("user", "Which colour?"), Turn("assistant", "red")),
        row=1,
    )
    encoder = ConversationEncoder(processor)
    encoded = encoder.encode(conv, IMAGE)
    first = [user_message("What is in the image?")]
    from llava_cli.model.prompts import assistant_message

    second = first + [assistant_message("A red square."), user_message("Which colour?", with_image=False)]
    expected = list(answer_tokens(processor, first, "A red square.").ids) + list(answer_tokens(processor, second, "red").ids)
    assert unmasked(encoded) == expected
    eos = processor.tokenizer.eos_token_id
    assert unmasked(encoded).count(eos) == 2  # each answer keeps its end token
    image_positions = encoded["input_ids"] == encoder.image_token_id
    assert image_positions.sum() > 1 and (encoded["labels"][image_positions] == IGNORE_INDEX).all()


def test_plain_template_for_captions(processor):
    encoder = ConversationEncoder(processor)
    encoded = encoder.encode(Conversation(Path("x.png"), (Turn("assistant", "a red circle"),), 1, template="plain"), IMAGE)
    text = processor.tokenizer.decode(unmasked(encoded))
    assert text == "a red circle\n"  # LLaVA's plain format: the caption, then its separator
    ids = encoded["input_ids"].tolist()
    n_image = ids.count(encoder.image_token_id)
    assert ids[encoder.lead : encoder.lead + n_image] == [encoder.image_token_id] * n_image  # the image first, no chat text
    assert (encoded["labels"][encoder.lead + n_image :] != IGNORE_INDEX).all()  # all after the image trains


def test_mismatch_fails_loudly(processor, monkeypatch):
    real = collate_mod.answer_tokens

    def shifted(proc, history, answer):
        ans = real(proc, history, answer)
        return type(ans)(ans.text, (ans.ids[0] + 1,) + ans.ids[1:])

    monkeypatch.setattr(collate_mod, "answer_tokens", shifted)
    with pytest.raises(TokenizationMismatch, match="row 7"):
        ConversationEncoder(processor).encode(labelled_conversation(Path("x.png"), "red", LABELS, None, 7), IMAGE)


def test_pad_collator_right_pads_labels():
    features = [
        {"input_ids": torch.tensor([5, 6, 7]), "attention_mask": torch.ones(3, dtype=torch.long),
         "labels": torch.tensor([-100, 6, 7]), "pixel_values": torch.zeros(1, 3, 4, 4)},
        {"input_ids": torch.tensor([5]), "attention_mask": torch.ones(1, dtype=torch.long),
         "labels": torch.tensor([5]), "pixel_values": torch.ones(1, 3, 4, 4)},
    ]
    batch = PadCollator(pad_token_id=0)(features)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [5, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["pixel_values"].shape == (2, 3, 4, 4)
