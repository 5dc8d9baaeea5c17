"""Free-form answers from a LLaVA model: batched generation (annotate) and one streamed answer (chat).

Both go through `generate_batch`: left-padded batch (llava_cli.model.batching.collate), greedy unless a
temperature is given, stopping at the token that ends an assistant turn, and only the new tokens
decoded. A streamed answer is exactly the text `generate_answer` returns, printed as it grows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from transformers.generation.streamers import BaseStreamer

from .batching import collate, encode
from .loading import LoadedModel
from .prompts import assistant_message, end_of_answer_id, render, user_message

BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def stop_token_ids(processor) -> list[int]:
    """Tokens that end an answer: the one the chat template writes after an assistant turn, and eos."""
    marker = "\x00answer\x00"
    history = [user_message("?")]
    full = render(processor, history + [assistant_message(marker)], add_generation_prompt=False)
    after = full.split(marker, 1)[1] if marker in full else ""
    ids = [end_of_answer_id(processor, after)]
    eos = processor.tokenizer.eos_token_id
    if eos is not None and eos not in ids:
        ids.append(eos)
    return ids


def model_inputs(batch: dict[str, torch.Tensor], loaded: LoadedModel) -> dict[str, torch.Tensor]:
    """A collated batch moved to the model's device, with image tensors in its dtype."""
    out = {k: v.to(loaded.device) for k, v in batch.items()}
    if "pixel_values" in out and out["pixel_values"].is_floating_point():
        out["pixel_values"] = out["pixel_values"].to(loaded.dtype)
    return out


def cut_at_stop(ids: list[int], stop_ids: list[int]) -> list[int]:
    """The answer's tokens: everything before the first stop token (padding after it is dropped)."""
    for i, token in enumerate(ids):
        if token in stop_ids:
            return ids[:i]
    return ids


def decode_answer(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True).strip()


@torch.inference_mode()
def generate_batch(
    loaded: LoadedModel,
    features: list[dict[str, torch.Tensor]],
    *,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    streamer: BaseStreamer | None = None,
    stopping_criteria=None,
    stop_ids: list[int] | None = None,
) -> list[str]:
    """Answers for encoded prompts (see llava_cli.model.batching.encode), one per feature dict, in order.

    Greedy when temperature is 0 (reproducible; the same answer whatever the batch size), sampled
    otherwise. `stop_ids` defaults to `stop_token_ids(processor)`. A streamer needs a batch of one. Raises what `model.generate` raises (RuntimeError
    for an input the model cannot take).
    """
    tok = loaded.tokenizer
    stop_ids = stop_ids or stop_token_ids(loaded.processor)
    batch = model_inputs(collate(features, tok.pad_token_id), loaded)
    kwargs = dict(
        max_new_tokens=max_new_tokens,
        do_sample=temperature > 0,
        pad_token_id=tok.pad_token_id,
        eos_token_id=stop_ids,
    )
    if temperature > 0:
        kwargs["temperature"] = temperature
    out = loaded.model.generate(**batch, **kwargs, streamer=streamer, stopping_criteria=stopping_criteria)
    new = out[:, batch["input_ids"].shape[1]:].tolist()
    return [decode_answer(tok, cut_at_stop(ids, stop_ids)) for ids in new]


class AnswerStreamer(BaseStreamer):
    """Calls `emit(text)` with each new piece of the answer as tokens arrive (batch of one).

    The whole answer is re-decoded at every token and only the stable part is emitted: an
    unfinished multi-byte character waits for its next byte, leading whitespace is dropped and
    trailing whitespace waits for more text, so the pieces join to exactly the stripped answer.
    """

    def __init__(self, tokenizer, emit: Callable[[str], None], stop_ids: list[int] | None = None):
        self.tokenizer = tokenizer
        self.emit = emit
        self.stop_ids = list(stop_ids or [])
        self.ids: list[int] = []
        self.shown = ""
        self.skipped_prompt = False
        self.stopped = False

    @property
    def text(self) -> str:
        """The answer so far (what a stopped answer keeps), without an unfinished byte run."""
        return decode_answer(self.tokenizer, self._settled_ids())

    def put(self, value) -> None:
        if not self.skipped_prompt:  # generate first passes the prompt
            self.skipped_prompt = True
            return
        if self.stopped:
            return
        for token in value.reshape(-1).tolist():
            if token in self.stop_ids:
                self.stopped = True
                break
            self.ids.append(token)
        self._flush(final=False)

    def end(self) -> None:
        self._flush(final=True)

    def _settled_ids(self) -> list[int]:
        """The ids without their trailing run of byte-fallback pieces (`<0xNN>`, SentencePiece
        tokenizers): such a run decodes as one UTF-8 sequence, so a later byte can still turn the
        whole run, an ASCII byte included, into U+FFFD."""
        end = len(self.ids)
        while end > 0 and BYTE_PIECE.fullmatch(str(self.tokenizer.convert_ids_to_tokens(self.ids[end - 1]))):
            end -= 1  # only the trailing run is looked at, not the whole answer at every token
        return self.ids[:end]

    def _flush(self, final: bool) -> None:
        ids = self.ids if final else self._settled_ids()
        text = self.tokenizer.decode(ids, skip_special_tokens=True).lstrip()
        stable = text.rstrip() if final else text.rstrip("\ufffd").rstrip()
        # Emit only what extends the text already shown; a re-decode that changed earlier text
        # (rare: tokenizer clean-up rules) waits for the end, where the rest is shown regardless.
        if len(stable) > len(self.shown) and (final or stable.startswith(self.shown)):
            self.emit(stable[len(self.shown):])
            self.shown = stable


def generate_answer(
    loaded: LoadedModel,
    messages: list[dict],
    image,
    *,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
    streamer: BaseStreamer | None = None,
    stopping_criteria=None,
) -> str:
    """The assistant's next answer to `messages` (rendered by the chat template) about `image`.

    The image fills the `<image>` placeholder of the first user turn. Raises what `model.generate`
    raises.
    """
    prompt = render(loaded.processor, messages, add_generation_prompt=True)
    features = encode(loaded.processor, image, prompt)
    return generate_batch(
        loaded,
        [features],
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        streamer=streamer,
        stopping_criteria=stopping_criteria,
    )[0]
