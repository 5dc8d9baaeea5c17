"""Prompts, chat-template rendering and how an answer tokenizes.

Classify, annotate, chat and finetune all build conversations here, so what finetune trains is
exactly what classify later asks, and an answer is tokenized the way the model would produce it.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS_PLACEHOLDER = "{labels}"
LABELS_OR_PLACEHOLDER = "{labels_or}"

DEFAULT_CLASSIFY_PROMPT = (
    "Look at this image and identify whether it shows {labels_or}. "
    "Answer with a single classification of {labels}."
)


def join_or(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def render_prompt(template: str | None, labels: list[str]) -> str:
    """Fill `{labels}` ("a", "b", "c") and `{labels_or}` (a, b or c) in a prompt; None means the default.

    Plain replacement, not str.format, so prompts may contain other braces (JSON examples).
    """
    text = DEFAULT_CLASSIFY_PROMPT if template is None else template
    quoted = ", ".join(f'"{label}"' for label in labels)
    return text.replace(LABELS_OR_PLACEHOLDER, join_or(labels)).replace(LABELS_PLACEHOLDER, quoted)


def user_message(text: str, with_image: bool = True) -> dict:
    content = ([{"type": "image"}] if with_image else []) + [{"type": "text", "text": text}]
    return {"role": "user", "content": content}


def assistant_message(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def system_message(text: str) -> dict:
    return {"role": "system", "content": [{"type": "text", "text": text}]}


def with_system(system: str | None, messages: list[dict]) -> list[dict]:
    """`messages` after a system message (--system), or as they are without one."""
    return ([system_message(system)] if system else []) + messages


def check_system_supported(processor, text: str) -> None:
    """Raise UsageError if the chat template drops or rejects a system message (--system)."""
    from ..errors import UsageError

    try:
        rendered = render(processor, [system_message(text), user_message("?")], add_generation_prompt=True)
    except Exception as exc:  # jinja TemplateError, or the template's own raise_exception
        raise UsageError(f"--system: this model's chat template rejects system messages ({exc})") from exc
    if text not in rendered:
        raise UsageError("--system: this model's chat template ignores system messages; leave --system out")


def render(processor, messages: list[dict], *, add_generation_prompt: bool) -> str:
    """The chat template applied to `messages`, as text (the `<image>` placeholder unexpanded)."""
    return processor.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False)


@dataclass(frozen=True)
class AnswerTokens:
    """How an answer continues a rendered prompt: its tokens, then the token that ends the turn."""

    text: str  # the answer as it follows the prompt, e.g. " shooting" after "ASSISTANT:"
    ids: tuple[int, ...]  # the answer's tokens followed by the end-of-answer token
    # What the conversation carries after the end token before the next turn starts, untrained:
    # "\n" after chatml's <|im_end|>; "" where the template writes no end token of its own.
    tail: str = ""

    @property
    def label_ids(self) -> tuple[int, ...]:
        return self.ids[:-1]

    @property
    def end_id(self) -> int:
        return self.ids[-1]


def _special_prefix(tokenizer, text: str) -> str | None:
    """The longest special token `text` starts with, if any."""
    return next((s for s in sorted(tokenizer.all_special_tokens, key=len, reverse=True) if s and text.startswith(s)), None)


def end_of_turn(processor, after_answer: str) -> tuple[int, str]:
    """(the token that closes an assistant turn, the text the conversation carries after it).

    The token is the special token the template writes after the answer (e.g. "<|im_end|>",
    "<|eot_id|>"), else the tokenizer's eos token ("</s>": the llava-1.5 template writes only a
    space after an answer, llava-v1.6-mistral's the literal text `<\\s>`, while both models were
    trained to end an answer with eos). What follows the template's own end token is kept as
    untrained separator text; with no end token of its own, eos stands in for its separator."""
    tok = processor.tokenizer
    stripped = after_answer.lstrip(" ")
    special = _special_prefix(tok, stripped)
    if special is not None:
        return tok.convert_tokens_to_ids(special), stripped[len(special):]
    if tok.eos_token_id is None:
        raise ValueError("the tokenizer has no eos token and the chat template writes no end-of-turn token")
    return tok.eos_token_id, ""


def end_of_answer_id(processor, after_answer: str) -> int:
    """The token that closes an assistant turn (see end_of_turn)."""
    return end_of_turn(processor, after_answer)[0]


def split_rendered_answer(prompt: str, full: str, answer: str) -> tuple[str, str]:
    """(answer as the model emits it after `prompt`, text the template writes after the answer).

    `full` is the template's rendering of the same history plus the answer. Whitespace the
    template puts between a prompt that already ends in whitespace and the answer is a rendering
    artifact, not something the model emits: llama3-llava-next renders "...<|end_header_id|>\n\n"
    + "\n" + answer, and its model was trained on "<|end_header_id|>\n\n{answer}<|eot_id|>".
    """
    rest = full[len(prompt):] if full.startswith(prompt) else None
    if rest is None or answer not in rest:  # a template that re-renders earlier turns: plain space join
        return " " + answer, ""
    cut = rest.index(answer)
    lead = rest[:cut]
    if lead.isspace() and prompt[-1:].isspace():
        lead = ""
    return lead + answer, rest[cut + len(answer):]


def answer_tokens(processor, history: list[dict], answer: str) -> AnswerTokens:
    """Tokenize `answer` as the assistant's reply after `history`, plus the end-of-answer token.

    The answer text is taken from the template's own rendering (so a template that writes
    "ASSISTANT: x" gives " x"), and its tokens from tokenizing prompt+answer together, which is
    how the model saw them in training (tokenizing the answer alone can merge differently).
    """
    tok = processor.tokenizer
    prefix = render(processor, history, add_generation_prompt=True)
    full = render(processor, history + [assistant_message(answer)], add_generation_prompt=False)
    answer_text, after = split_rendered_answer(prefix, full, answer)
    prefix_ids = tok(prefix, add_special_tokens=False)["input_ids"]
    joint_ids = tok(prefix + answer_text, add_special_tokens=False)["input_ids"]
    if joint_ids[: len(prefix_ids)] == prefix_ids and len(joint_ids) > len(prefix_ids):
        ids = joint_ids[len(prefix_ids):]
    else:
        ids = tok(answer_text, add_special_tokens=False)["input_ids"]
    end, tail = end_of_turn(processor, after)
    return AnswerTokens(text=answer_text, ids=tuple(ids) + (end,), tail=tail)
