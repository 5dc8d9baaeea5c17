"""Conversations -> token ids, labels masked to the assistant's answers, and padded batches.

One encoder for training and scoring. A conversation is laid out turn by turn from the chat
template's *generation prompts* and the answer tokens classify scores
(`llava_cli.model.prompts.answer_tokens`): prompt 1, answer 1 + its end token, the text the next prompt
adds, answer 2 + its end token, ... It is deliberately not the template's rendering of the whole
conversation: llava-hf templates render a past answer as LLaVA never trained on it (llava-1.5:
"ASSISTANT: left " with a trailing space and no `</s>`; llava-v1.6-mistral: the literal text
`<\\s>`), while the sequence built here is LLaVA's own format for the family, e.g.
"USER: <image>\\nq ASSISTANT: left</s>USER: q2 ASSISTANT: right</s>" (conv_vicuna_v1 in
haotian-liu/LLaVA llava/conversation.py) or chatml's "...<|im_start|>assistant\\nleft<|im_end|>\\n".
The loss covers the answers and their end tokens only.

Stage 1 uses LLaVA's `plain` format instead (preprocess_plain): the image, the caption, then the
separator "\\n", with the loss on everything after the image.

The whole sequence is tokenized at once by the processor (image tokens expanded), as LLaVA does.
Each answer's position comes from tokenizing the text before it; if the answer's tokens are not
found there the sample raises TokenizationMismatch: LLaVA's "tokenization mismatch" bug used to
mask everything and silently train on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from llava_cli.errors import LlavaCliError
from llava_cli.media.video import load_image
from llava_cli.model.prompts import (
    AnswerTokens,
    answer_tokens,
    assistant_message,
    render,
    system_message,
    user_message,
)

from .data import Conversation

IGNORE_INDEX = -100
PLAIN_SEPARATOR = "\n"  # conv_llava_plain's sep in LLaVA


class TokenizationMismatch(LlavaCliError):
    """An answer's tokens do not sit where the prompt says they should: training would be wrong."""


def to_messages(conv: Conversation) -> list[dict]:
    """Chat messages for `conv`; the image goes into the first user message (LLaVA moves the
    `<image>` tag to the front of the first human turn too, wherever the data put it)."""
    messages, image_pending = [], conv.image is not None
    for turn in conv.turns:
        if turn.role == "user":
            messages.append(user_message(turn.text, with_image=image_pending))
            image_pending = False
        elif turn.role == "assistant":
            messages.append(assistant_message(turn.text))
        else:
            messages.append(system_message(turn.text))
    return messages


@dataclass
class _Plan:
    text: str  # the whole training sequence as text, `<image>` unexpanded
    answers: list[tuple[str, AnswerTokens]]  # (text before the answer, the answer's tokens)


class ConversationEncoder:
    """Tokenize conversations for training, the way classify tokenizes prompts and answers."""

    def __init__(self, processor, max_length: int | None = None):
        self.processor = processor
        self.tok = processor.tokenizer
        self.max_length = max_length
        self.image_token = getattr(processor, "image_token", "<image>")
        self.image_token_id = self.tok.convert_tokens_to_ids(self.image_token)
        with_special = self.tok("a", add_special_tokens=True)["input_ids"]
        plain = self.tok("a", add_special_tokens=False)["input_ids"]
        self.lead = with_special.index(plain[0]) if plain and plain[0] in with_special else 0

    def plan(self, conv: Conversation) -> _Plan:
        if conv.template == "plain":
            return self._plain_plan(conv)
        messages = to_messages(conv)
        text, rendered, answers = "", "", []
        for k, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            history = messages[:k]
            prompt = render(self.processor, history, add_generation_prompt=True)
            if not prompt.startswith(rendered):
                raise TokenizationMismatch(
                    f"row {conv.row}: the chat template renders turn {k + 1}'s earlier turns differently from "
                    "how it rendered them before, so the turns cannot be laid out one after another"
                )
            answer = answer_tokens(self.processor, history, message["content"][0]["text"])
            text += prompt[len(rendered):]
            answers.append((text, answer))
            text += answer.text + self.tok.convert_ids_to_tokens(answer.end_id) + answer.tail
            rendered = render(self.processor, messages[: k + 1], add_generation_prompt=False)
        return _Plan(text, answers)

    def _plain_plan(self, conv: Conversation) -> _Plan:
        """Stage 1's plain format: the image, the caption, the separator; the loss on all but the image."""
        prefix = self.image_token if conv.image is not None else ""
        caption = next(t.text for t in conv.turns if t.role == "assistant")
        prefix_ids = self.tok(prefix, add_special_tokens=False)["input_ids"]
        joint = self.tok(prefix + caption + PLAIN_SEPARATOR, add_special_tokens=False)["input_ids"]
        ids = tuple(joint[len(prefix_ids):])
        return _Plan(prefix + caption + PLAIN_SEPARATOR, [(prefix, AnswerTokens(caption, ids))])

    def encode(self, conv: Conversation, image=None) -> dict[str, torch.Tensor]:
        """input_ids, attention_mask, labels (1-D) and the image tensors for one conversation.

        Raises TokenizationMismatch when an answer's tokens are not where its prompt ends.
        """
        plan = self.plan(conv)
        images = [image] if image is not None else None
        enc = self.processor(images=images, text=[plan.text], return_tensors="pt")
        ids = enc["input_ids"][0]
        n_tags = plan.text.count(self.image_token)
        per_image = int((ids == self.image_token_id).sum()) // n_tags if n_tags else 1
        labels = torch.full_like(ids, IGNORE_INDEX)
        for prefix, answer in plan.answers:
            start = (
                self.lead
                + len(self.tok(prefix, add_special_tokens=False)["input_ids"])
                + prefix.count(self.image_token) * (per_image - 1)
            )
            found = ids[start : start + len(answer.ids)].tolist()
            if found != list(answer.ids):
                raise TokenizationMismatch(
                    f"row {conv.row}: answer {answer.text.strip()[:40]!r} tokenizes as {list(answer.ids)} after its prompt "
                    f"but the conversation has {found} there; the chat template or tokenizer splits turns "
                    "differently, so this sample would train on the wrong tokens"
                )
            labels[start : start + len(answer.ids)] = ids[start : start + len(answer.ids)]
        expected = sum(len(a.ids) for _, a in plan.answers)
        if int((labels != IGNORE_INDEX).sum()) != expected:
            raise TokenizationMismatch(f"row {conv.row}: {expected} answer tokens expected, the labels hold a different number")
        out = {"input_ids": ids, "attention_mask": enc["attention_mask"][0], "labels": labels}
        if self.max_length and ids.numel() > self.max_length:
            out = {k: v[: self.max_length] for k, v in out.items()}
        out.update({k: v for k, v in enc.items() if k not in out and isinstance(v, torch.Tensor)})
        return out


class ConversationDataset(torch.utils.data.Dataset):
    """Loads each image and encodes each conversation when the trainer asks for it."""

    def __init__(self, conversations: list[Conversation], encoder: ConversationEncoder):
        self.conversations = conversations
        self.encoder = encoder

    def __len__(self) -> int:
        return len(self.conversations)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        conv = self.conversations[index]
        image = load_image(conv.image) if conv.image is not None else None
        return self.encoder.encode(conv, image)


@dataclass
class PadCollator:
    """Right-pad ids/labels/masks for training (labels padded with -100); concatenate image tensors."""

    pad_token_id: int

    def __call__(self, features: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        longest = max(f["input_ids"].numel() for f in features)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.stack(
                [torch.nn.functional.pad(f[key], (0, longest - f[key].numel()), value=value) for f in features]
            )

        batch = {
            "input_ids": pad("input_ids", self.pad_token_id),
            "attention_mask": pad("attention_mask", 0),
            "labels": pad("labels", IGNORE_INDEX),
        }
        extra_keys = {k for f in features for k in f} - set(batch)
        for key in sorted(extra_keys):
            tensors = [f[key] for f in features if key in f]
            batch[key] = torch.cat(tensors)
        return batch
